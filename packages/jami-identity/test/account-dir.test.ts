import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ACCOUNT_FILES,
  Certificate,
  changeAccountPassword,
  createAccount,
  exportAccount,
  importAccount,
  loadAccount,
  openAccountArchive,
  readArchive,
  revokeDevice,
  verifyDeviceChain,
} from "jami-identity";
import { createDirectoryAtomic, writeFileAtomic } from "../src/fs-atomic.js";
import { IDS, vectorBytes } from "./vectors.js";

const code = (code: string) => expect.objectContaining({ code });
const tmp = () => mkdtempSync(join(tmpdir(), "jami-acct-"));
const mode = (path: string) => statSync(path).mode & 0o777;

describe("account directories", () => {
  it("create: keys, chain and archive on disk, private files 0600, loading gives the same ids", async () => {
    const dir = join(tmp(), "alice");
    const made = await createAccount({ dir, displayName: "Alice", bits: 2048 });
    expect(readdirSync(dir).sort()).toEqual(Object.values(ACCOUNT_FILES).sort());
    expect(mode(join(dir, ACCOUNT_FILES.deviceKey))).toBe(0o600);
    expect(mode(join(dir, ACCOUNT_FILES.archive))).toBe(0o600);
    expect(readFileSync(join(dir, ACCOUNT_FILES.deviceKey), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(Certificate.chainFromPem(readFileSync(join(dir, ACCOUNT_FILES.deviceChain), "utf8"))).toHaveLength(3);
    const loaded = await loadAccount({ dir });
    expect(loaded.jamiId.equals(made.jamiId)).toBe(true);
    expect(loaded.deviceId.equals(made.deviceId)).toBe(true);
    expect(loaded.deviceShortId.equals(made.deviceShortId)).toBe(true);
    expect(loaded.displayName).toBe("Alice");
    expect(loaded.deviceName).toBe(made.deviceId.toString().slice(8));
    const archive = await openAccountArchive({ dir });
    expect(archive.jamiId.equals(made.jamiId)).toBe(true);
  });

  it("create with a password encrypts the stored archive", async () => {
    const dir = join(tmp(), "a");
    await createAccount({ dir, password: "pw", bits: 2048 });
    await expect(openAccountArchive({ dir })).rejects.toThrow(code("ARCHIVE_PASSWORD_REQUIRED"));
    await expect(openAccountArchive({ dir, password: "bad" })).rejects.toThrow(code("ARCHIVE_BAD_PASSWORD"));
    expect((await loadAccount({ dir })).archiveHasPassword).toBe(true);
    await changeAccountPassword({ dir, oldPassword: "pw", newPassword: "" });
    expect((await openAccountArchive({ dir })).fields["Account.archiveHasPassword"]).toBe("false");
    expect((await loadAccount({ dir })).archiveHasPassword).toBe(false);
  });

  it("refuses to overwrite a non-empty directory and leaves it as it was", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "keep.txt"), "mine");
    await expect(createAccount({ dir, bits: 2048 })).rejects.toThrow(code("ACCOUNT_EXISTS"));
    expect(readdirSync(dir)).toEqual(["keep.txt"]);
  });

  it("uses an existing empty directory", async () => {
    const dir = tmp();
    await createAccount({ dir, bits: 2048 });
    expect(readdirSync(dir)).toContain(ACCOUNT_FILES.archive);
  });

  it("load reports a missing account and an inconsistent one", async () => {
    await expect(loadAccount({ dir: join(tmp(), "none") })).rejects.toThrow(code("ACCOUNT_NOT_FOUND"));
    const dir = join(tmp(), "x");
    await createAccount({ dir, bits: 2048 });
    const other = join(tmp(), "y");
    await createAccount({ dir: other, bits: 2048 });
    writeFileSync(join(dir, ACCOUNT_FILES.deviceKey), readFileSync(join(other, ACCOUNT_FILES.deviceKey)));
    await expect(loadAccount({ dir })).rejects.toThrow(code("ACCOUNT_CORRUPT"));
  });
});

describe("importing archives as a new device", () => {
  it.each([
    ["alice.nopassword.gz", undefined],
    ["alice.test-password.gz", "test-password"],
  ])("imports jamid's %s: same Jami ID, a new device certified by the account key", async (file, password) => {
    const dir = join(tmp(), "import");
    const account = await importAccount({ archive: vectorBytes(file), dir, password, bits: 2048 });
    expect(account.jamiId.toString()).toBe(IDS.alice.jamiId);
    expect(account.deviceId.toString()).not.toBe(IDS.alice.devices.alice.deviceId);
    const verified = verifyDeviceChain([account.device.certificate, ...account.device.issuers], { expectedJamiId: IDS.alice.jamiId });
    expect(verified.deviceId.equals(account.deviceId)).toBe(true);
    expect(account.displayName).toBe("alice");
    // contacts and conversations come along
    const archive = await openAccountArchive({ dir, password });
    expect(Object.keys(archive.contacts)).toEqual([IDS.bob.jamiId]);
    expect(account.archiveHasPassword).toBe(Boolean(password));
  });

  it.each([
    ["a wrong password", vectorBytes("alice.test-password.gz"), "wrong", "ARCHIVE_BAD_PASSWORD"],
    ["a truncated archive", vectorBytes("alice.nopassword.gz").subarray(0, 500), undefined, "ARCHIVE_CORRUPT"],
    ["no password for an encrypted archive", vectorBytes("alice.test-password.gz"), undefined, "ARCHIVE_PASSWORD_REQUIRED"],
  ])("with %s: a typed error and nothing on disk", async (_, archive, password, errorCode) => {
    const parent = tmp();
    await expect(importAccount({ archive, dir: join(parent, "acct"), password, bits: 2048 })).rejects.toThrow(code(errorCode));
    expect(readdirSync(parent)).toEqual([]);
  });

  it("export → import moves the account to a second device; the two devices share the Jami ID", async () => {
    const first = join(tmp(), "one");
    const made = await createAccount({ dir: first, password: "pw", displayName: "Dana", bits: 2048 });
    await expect(exportAccount({ dir: first, password: "wrong" })).rejects.toThrow(code("ARCHIVE_BAD_PASSWORD"));
    const bytes = await exportAccount({ dir: first, password: "pw" });
    await expect(readArchive(bytes)).rejects.toThrow(code("ARCHIVE_PASSWORD_REQUIRED"));
    const second = await importAccount({ archive: bytes, dir: join(tmp(), "two"), password: "pw", bits: 2048 });
    expect(second.jamiId.equals(made.jamiId)).toBe(true);
    expect(second.deviceId.equals(made.deviceId)).toBe(false);
    expect(second.displayName).toBe("Dana");
  });
});

describe("revoking a device", () => {
  it("stores a CRL in the archive that refuses the revoked device and no other", async () => {
    const dir = join(tmp(), "main");
    const main = await createAccount({ dir, password: "pw", bits: 2048 });
    const other = await importAccount({ archive: await exportAccount({ dir, password: "pw" }), dir: join(tmp(), "other"), password: "pw", bits: 2048 });
    const crl = await revokeDevice({ dir, password: "pw", device: other.device.certificate });
    const archive = await openAccountArchive({ dir, password: "pw" });
    expect(Buffer.from(archive.revocationList!.der)).toEqual(Buffer.from(crl.der));
    expect(() => verifyDeviceChain([other.device.certificate, ...other.device.issuers], { revocationLists: [crl] })).toThrow(code("CHAIN_REVOKED"));
    expect(verifyDeviceChain([main.device.certificate, ...main.device.issuers], { revocationLists: [crl] }).deviceId.equals(main.deviceId)).toBe(true);
    // the revocation travels with exported archives
    const moved = await readArchive(await exportAccount({ dir, password: "pw" }), "pw");
    expect(moved.revocationList!.isRevoked(other.device.certificate)).toBe(true);
  });

  it("refuses to revoke another account's device and leaves the archive unchanged", async () => {
    const dir = join(tmp(), "a");
    await createAccount({ dir, bits: 2048 });
    const before = readFileSync(join(dir, ACCOUNT_FILES.archive));
    const stranger = await createAccount({ dir: join(tmp(), "b"), bits: 2048 });
    await expect(revokeDevice({ dir, device: stranger.device.certificate })).rejects.toThrow(code("CHAIN_WRONG_ACCOUNT"));
    expect(readFileSync(join(dir, ACCOUNT_FILES.archive))).toEqual(before);
  });
});

describe("atomic writes", () => {
  it("a failure half way through leaves neither the directory nor a staging directory", async () => {
    const parent = tmp();
    const dir = join(parent, "acct");
    // the second file cannot be created (its folder does not exist), after the first was written
    const files = [
      { name: "first", data: "written", mode: 0o600 },
      { name: "missing/second", data: "fails", mode: 0o600 },
    ];
    await expect(createDirectoryAtomic(dir, files)).rejects.toThrow(/ENOENT/);
    expect(readdirSync(parent)).toEqual([]);
  });

  it("replacing a file keeps the old content if the write fails, and the mode when it succeeds", async () => {
    const dir = tmp();
    const path = join(dir, "f");
    await writeFileAtomic(path, "old", 0o600);
    await writeFileAtomic(path, "new", 0o600);
    expect(readFileSync(path, "utf8")).toBe("new");
    expect(mode(path)).toBe(0o600);
    await expect(writeFileAtomic(join(dir, "no/such/f"), "x", 0o600)).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual(["f"]);
  });
});
