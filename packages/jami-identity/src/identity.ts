import { Certificate } from "./certificate.js";
import { issueCertificate } from "./certificate-builder.js";
import type { DeviceId, DeviceShortId, JamiId } from "./ids.js";
import { PrivateKey } from "./keys.js";

/** What only the account holder has: the CA and account keys with their certificates. */
export interface AccountKeys {
  caKey?: PrivateKey;
  caCertificate?: Certificate;
  accountKey: PrivateKey;
  accountCertificate: Certificate;
}

/** One device: its key and the chain device → account (→ CA) it presents to peers. */
export interface DeviceIdentity {
  key: PrivateKey;
  certificate: Certificate;
  /** Issuers after the device certificate: account, then CA when there is one. */
  issuers: Certificate[];
}

export function jamiIdOf(keys: AccountKeys): JamiId {
  return keys.accountCertificate.jamiId;
}

export function deviceIdOf(device: DeviceIdentity): DeviceId {
  return device.certificate.deviceId;
}

export function deviceShortIdOf(device: DeviceIdentity): DeviceShortId {
  return device.certificate.deviceShortId;
}

/** device, account, CA: the order of jamid's `ring_device.crt`. */
export function deviceChain(device: DeviceIdentity): Certificate[] {
  return [device.certificate, ...device.issuers];
}

export function deviceChainPem(device: DeviceIdentity): string {
  return deviceChain(device)
    .map((c) => c.toPem())
    .join("");
}

export interface CreateAccountKeysOptions {
  /** Key size for all three keys; jamid uses 4096. Smaller sizes are for tests only. */
  bits?: number;
  now?: Date;
}

/**
 * A new account as jamid's `createAccount` makes it: a self-signed `Jami CA`,
 * then a `Jami` account certificate signed by it. Both keys are generated in parallel.
 */
export async function createAccountKeys(options: CreateAccountKeysOptions = {}): Promise<AccountKeys> {
  const bits = options.bits ?? 4096;
  const [caKey, accountKey] = await Promise.all([PrivateKey.generate(bits), PrivateKey.generate(bits)]);
  return accountKeysFrom(caKey, accountKey, options.now);
}

/** Certificates for already generated keys (lets a caller overlap key generation). */
export function accountKeysFrom(caKey: PrivateKey, accountKey: PrivateKey, now?: Date): AccountKeys {
  const caCertificate = issueCertificate({
    subject: { cn: "Jami CA", uid: caKey.publicKey.jamiId.toString() },
    publicKey: caKey.publicKey,
    issuerKey: caKey,
    isCA: true,
    notBefore: now,
  });
  const accountCertificate = issueCertificate({
    subject: { cn: "Jami", uid: accountKey.publicKey.jamiId.toString() },
    publicKey: accountKey.publicKey,
    issuerKey: caKey,
    issuerCertificate: caCertificate,
    isCA: true,
    notBefore: now,
  });
  return { caKey, caCertificate, accountKey, accountCertificate };
}

export interface CreateDeviceOptions {
  bits?: number;
  now?: Date;
  /** An existing device key (e.g. to re-certify a device); a new one by default. */
  key?: PrivateKey;
}

/** A device key and its `Jami device` certificate signed by the account key, as jamid's import does. */
export async function createDevice(account: AccountKeys, options: CreateDeviceOptions = {}): Promise<DeviceIdentity> {
  const key = options.key ?? (await PrivateKey.generate(options.bits ?? 4096));
  return certifyDevice(account, key, options.now);
}

export function certifyDevice(account: AccountKeys, key: PrivateKey, now?: Date): DeviceIdentity {
  const certificate = issueCertificate({
    subject: { cn: "Jami device", uid: key.publicKey.deviceShortId.toString() },
    publicKey: key.publicKey,
    issuerKey: account.accountKey,
    issuerCertificate: account.accountCertificate,
    isCA: false,
    notBefore: now,
  });
  const issuers = [account.accountCertificate, ...(account.caCertificate ? [account.caCertificate] : [])];
  return { key, certificate, issuers };
}
