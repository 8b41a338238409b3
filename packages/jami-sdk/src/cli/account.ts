import { readFile, writeFile } from "node:fs/promises";
import { createAccount, exportAccount, importAccount, readArchive, verifyDeviceChain, type Certificate, type LocalAccount } from "jami-identity";
import { printJson, UsageError, type CliIo } from "./output.js";

export interface AccountArgs {
  dir?: string;
  archive?: string;
  out?: string;
  password?: string;
  name?: string;
}

export async function accountCommand(sub: string | undefined, args: AccountArgs, io: CliIo): Promise<void> {
  switch (sub) {
    case "create": {
      const dir = required(args.dir, "--dir");
      printJson(io, describeLocal(await createAccount({ dir, password: args.password, displayName: args.name })));
      return;
    }
    case "import": {
      const archive = await readFile(required(args.archive, "--archive"));
      const dir = required(args.dir, "--dir");
      printJson(io, describeLocal(await importAccount({ archive: new Uint8Array(archive), dir, password: args.password })));
      return;
    }
    case "export": {
      const dir = required(args.dir, "--dir");
      const out = required(args.out, "--out");
      const bytes = await exportAccount({ dir, password: args.password });
      await writeFile(out, bytes, { mode: 0o600 });
      printJson(io, { out, bytes: bytes.byteLength, encrypted: Boolean(args.password) });
      return;
    }
    case "inspect": {
      const archive = await readArchive(new Uint8Array(await readFile(required(args.archive, "--archive"))), args.password);
      const crl = archive.revocationList;
      const devices = archive.exportingDeviceChain.slice(0, 1);
      printJson(io, {
        jamiId: archive.jamiId.toString(),
        displayName: archive.displayName ?? null,
        deviceIds: devices.map((d) => d.deviceId.toString()),
        revokedDevices: crl?.entries.length ?? 0,
        contactsCount: Object.keys(archive.contacts).length,
        conversationsCount: Object.keys(archive.conversations).length,
        encrypted: archive.fields["Account.archiveHasPassword"] === "true",
        accountCertificate: certificateSummary(archive.accountKeys.accountCertificate),
      });
      return;
    }
    default:
      throw new UsageError(`unknown account command "${sub ?? ""}" (create, import, export, inspect)`);
  }
}

export function describeLocal(account: LocalAccount) {
  const chain = [account.device.certificate, ...account.device.issuers];
  verifyDeviceChain(chain, { expectedJamiId: account.jamiId });
  return {
    dir: account.dir,
    jamiId: account.jamiId.toString(),
    deviceId: account.deviceId.toString(),
    deviceShortId: account.deviceShortId.toString(),
    deviceName: account.deviceName,
    displayName: account.displayName ?? null,
    archiveHasPassword: account.archiveHasPassword,
    certificates: chain.map(certificateSummary),
  };
}

export function certificateSummary(cert: Certificate) {
  return {
    subject: `CN=${cert.subject.cn ?? ""}, UID=${cert.subject.uid ?? ""}`,
    issuer: `CN=${cert.issuer.cn ?? ""}, UID=${cert.issuer.uid ?? ""}`,
    serial: cert.serialNumber,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    isCA: cert.isCA,
    keyBits: cert.publicKey.keyObject.asymmetricKeyDetails?.modulusLength ?? null,
  };
}

function required(value: string | undefined, flag: string): string {
  if (!value) throw new UsageError(`${flag} is required`);
  return value;
}
