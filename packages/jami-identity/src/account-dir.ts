import { readFile } from "node:fs/promises";
import { join } from "node:path";
import createDebug from "debug";
import { AccountArchive, readArchive, writeArchive } from "./archive.js";
import { Certificate } from "./certificate.js";
import { RevocationList } from "./crl.js";
import { IdentityError } from "./errors.js";
import { certifyDevice, createAccountKeys, createDevice, deviceChainPem, type DeviceIdentity } from "./identity.js";
import { verifyDeviceChain } from "./chain.js";
import type { DeviceId, DeviceShortId, JamiId } from "./ids.js";
import { PrivateKey } from "./keys.js";
import { createDirectoryAtomic, writeFileAtomic, type FileToWrite } from "./fs-atomic.js";

const log = createDebug("jami:identity");

/** File names inside an account directory; the key, chain and archive names are jamid's. */
export const ACCOUNT_FILES = {
  archive: "archive.gz",
  deviceKey: "ring_device.key",
  deviceChain: "ring_device.crt",
  meta: "account.json",
} as const;

const PRIVATE = 0o600;
const PUBLIC = 0o644;

interface AccountMeta {
  format: 1;
  jamiId: string;
  deviceId: string;
  deviceShortId: string;
  deviceName: string;
  displayName?: string;
  archiveHasPassword: boolean;
}

/** An account as stored on this device: everything usable without the archive password. */
export interface LocalAccount {
  dir: string;
  jamiId: JamiId;
  deviceId: DeviceId;
  deviceShortId: DeviceShortId;
  deviceName: string;
  displayName: string | undefined;
  archiveHasPassword: boolean;
  device: DeviceIdentity;
}

export interface CreateAccountOptions {
  dir: string;
  password?: string;
  displayName?: string;
  deviceName?: string;
  /** RSA key size; jamid uses 4096 and so do we unless a test asks for less. */
  bits?: number;
}

/** A new account (CA, account and device keys, archive) in a new directory, written all or nothing. */
export async function createAccount(options: CreateAccountOptions): Promise<LocalAccount> {
  const bits = options.bits ?? 4096;
  const [keys, deviceKey] = await Promise.all([createAccountKeys({ bits }), PrivateKey.generate(bits)]);
  const device = certifyDevice(keys, deviceKey);
  const archive = AccountArchive.create(keys, { displayName: options.displayName, device });
  return storeAccount(options.dir, archive, device, options);
}

export interface ImportAccountOptions {
  /** Archive bytes (as `exportAccount` or jamid's `exportToFile` write them). */
  archive: Uint8Array;
  dir: string;
  password?: string;
  deviceName?: string;
  bits?: number;
}

/**
 * Adds this machine as a new device of the archive's account, as jamid's
 * import does: a new device key and a certificate signed by the account key.
 * The archive is fully checked before anything is written.
 */
export async function importAccount(options: ImportAccountOptions): Promise<LocalAccount> {
  const archive = await readArchive(options.archive, options.password);
  const device = await createDevice(archive.accountKeys, { bits: options.bits });
  return storeAccount(options.dir, archive, device, {
    password: options.password,
    deviceName: options.deviceName,
    displayName: archive.displayName,
  });
}

async function storeAccount(
  dir: string,
  archive: AccountArchive,
  device: DeviceIdentity,
  options: { password?: string; deviceName?: string; displayName?: string },
): Promise<LocalAccount> {
  const verified = verifyDeviceChain([device.certificate, ...device.issuers]);
  const meta: AccountMeta = {
    format: 1,
    jamiId: verified.jamiId.toString(),
    deviceId: verified.deviceId.toString(),
    deviceShortId: verified.deviceShortId.toString(),
    // jamid's default device name: the long device id without its first 8 characters
    deviceName: options.deviceName ?? verified.deviceId.toString().slice(8),
    displayName: options.displayName,
    archiveHasPassword: Boolean(options.password),
  };
  const files: FileToWrite[] = [
    { name: ACCOUNT_FILES.archive, data: await writeArchive(archive, options.password), mode: PRIVATE },
    { name: ACCOUNT_FILES.deviceKey, data: device.key.toPem(), mode: PRIVATE },
    { name: ACCOUNT_FILES.deviceChain, data: deviceChainPem(device), mode: PUBLIC },
    { name: ACCOUNT_FILES.meta, data: JSON.stringify(meta, null, 2) + "\n", mode: PUBLIC },
  ];
  await createDirectoryAtomic(dir, files);
  log("stored account %s device %s in %s", meta.jamiId, meta.deviceId, dir);
  return toLocalAccount(dir, meta, device);
}

/** Loads an account directory: the device identity and ids, checked against each other. */
export async function loadAccount(options: { dir: string }): Promise<LocalAccount> {
  const { dir } = options;
  const read = async (name: string) => {
    try {
      return await readFile(join(dir, name), "utf8");
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code === "ENOENT" ? "ACCOUNT_NOT_FOUND" : "ACCOUNT_CORRUPT";
      throw new IdentityError(code, `cannot read ${name} in ${dir}`, { cause });
    }
  };
  const [metaText, keyPem, chainPem] = await Promise.all([read(ACCOUNT_FILES.meta), read(ACCOUNT_FILES.deviceKey), read(ACCOUNT_FILES.deviceChain)]);
  try {
    const meta = JSON.parse(metaText) as AccountMeta;
    const key = PrivateKey.fromPem(keyPem);
    const [certificate, ...issuers] = Certificate.chainFromPem(chainPem);
    if (!certificate || !certificate.publicKey.equals(key.publicKey)) {
      throw new IdentityError("KEY_MISMATCH", "device key does not match the device certificate");
    }
    const device: DeviceIdentity = { key, certificate, issuers };
    const verified = verifyDeviceChain([certificate, ...issuers], { expectedJamiId: meta.jamiId });
    if (!verified.deviceId.equals(meta.deviceId)) {
      throw new IdentityError("KEY_MISMATCH", "account.json names another device");
    }
    return toLocalAccount(dir, meta, device);
  } catch (cause) {
    throw new IdentityError("ACCOUNT_CORRUPT", `account in ${dir} is inconsistent: ${(cause as Error).message}`, { cause });
  }
}

function toLocalAccount(dir: string, meta: AccountMeta, device: DeviceIdentity): LocalAccount {
  return {
    dir,
    jamiId: device.issuers[0]!.jamiId,
    deviceId: device.certificate.deviceId,
    deviceShortId: device.certificate.deviceShortId,
    deviceName: meta.deviceName,
    displayName: meta.displayName,
    archiveHasPassword: meta.archiveHasPassword,
    device,
  };
}

/** The account's archive, decrypted with its password (needed for account-key operations). */
export async function openAccountArchive(options: { dir: string; password?: string }): Promise<AccountArchive> {
  const account = await loadAccount(options);
  const bytes = await readFile(join(options.dir, ACCOUNT_FILES.archive)).catch((cause) => {
    throw new IdentityError("ACCOUNT_CORRUPT", `cannot read the archive in ${options.dir}`, { cause });
  });
  const archive = await readArchive(new Uint8Array(bytes), options.password);
  if (!archive.jamiId.equals(account.jamiId)) {
    throw new IdentityError("ACCOUNT_CORRUPT", "the archive belongs to another account than the device");
  }
  return archive;
}

/** Archive bytes for another device or for jamid: encrypted with `password` (the current one) if the account has one. */
export async function exportAccount(options: { dir: string; password?: string }): Promise<Uint8Array> {
  const archive = await openAccountArchive(options);
  return writeArchive(archive, options.password);
}

/** Re-encrypts the stored archive under a new password ("" or undefined: none). */
export async function changeAccountPassword(options: { dir: string; oldPassword?: string; newPassword?: string }): Promise<void> {
  const archive = await openAccountArchive({ dir: options.dir, password: options.oldPassword });
  await updateStoredArchive(options.dir, archive, options.newPassword);
}

/**
 * Revokes one of the account's devices: the account key signs a new CRL
 * listing it (keeping earlier entries), stored in the archive as jamid does.
 */
export async function revokeDevice(options: { dir: string; password?: string; device: Certificate }): Promise<RevocationList> {
  const archive = await openAccountArchive(options);
  const { accountKey, accountCertificate } = archive.accountKeys;
  if (!options.device.isIssuedBy(accountCertificate) || !options.device.isSignedBy(accountCertificate)) {
    throw new IdentityError("CHAIN_WRONG_ACCOUNT", "that device certificate was not issued by this account");
  }
  const crl = RevocationList.sign({
    issuerKey: accountKey,
    issuerCertificate: accountCertificate,
    previous: archive.revocationList,
    revoke: [options.device],
  });
  await updateStoredArchive(options.dir, archive.withRevocationList(crl), options.password);
  log("revoked device %s of %s", options.device.deviceId, archive.jamiId);
  return crl;
}

async function updateStoredArchive(dir: string, archive: AccountArchive, password: string | undefined): Promise<void> {
  const metaPath = join(dir, ACCOUNT_FILES.meta);
  const meta = JSON.parse(await readFile(metaPath, "utf8")) as AccountMeta;
  await writeFileAtomic(join(dir, ACCOUNT_FILES.archive), await writeArchive(archive, password), PRIVATE);
  meta.archiveHasPassword = Boolean(password);
  await writeFileAtomic(metaPath, JSON.stringify(meta, null, 2) + "\n", PUBLIC);
}
