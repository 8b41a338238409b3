import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync, zlibSync } from "fflate";
import { AccountArchive, createAccountKeys, readArchive, writeArchive } from "jami-identity";
import { passwordEncrypt } from "jami-identity/internal";
import { itWith } from "../../../test-support/tools.js";
import { IDS, vectorBytes } from "./vectors.js";

const code = (code: string) => expect.objectContaining({ code });
const json = (value: unknown) => new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));

describe("reading jamid's archives", () => {
  it("reads the plain gzip archive: keys, ids, contacts, conversations, config", async () => {
    const archive = await readArchive(vectorBytes("alice.nopassword.gz"));
    expect(archive.jamiId.toString()).toBe(IDS.alice.jamiId);
    expect(archive.accountKeys.caCertificate!.jamiId.toString()).toBe(IDS.alice.caId);
    expect(archive.accountKeys.caKey!.publicKey.equals(archive.accountKeys.caCertificate!.publicKey)).toBe(true);
    expect(archive.displayName).toBe("alice");
    expect(Object.keys(archive.contacts)).toEqual([IDS.bob.jamiId]);
    expect(archive.contacts[IDS.bob.jamiId]).toMatchObject({ confirmed: true, conversationId: "18c68b406ff66cbd892378aa4a932e230b4ebbc9" });
    expect(Object.keys(archive.conversations)).toEqual(["18c68b406ff66cbd892378aa4a932e230b4ebbc9"]);
    expect(archive.ethKey).toHaveLength(32);
    expect(archive.config["Account.hostname"]).toBe("127.0.0.1:4222");
    expect(archive.exportingDeviceChain[0]!.deviceId.toString()).toBe(IDS.alice.devices.alice.deviceId);
  });

  it("reads the password archive (Argon2i + AES-256-GCM + zlib) to the same content", async () => {
    const plain = await readArchive(vectorBytes("alice.nopassword.gz"));
    const locked = await readArchive(vectorBytes("alice.test-password.gz"), "test-password");
    expect(locked.jamiId.equals(plain.jamiId)).toBe(true);
    expect(locked.fields.ringAccountKey).toBe(plain.fields.ringAccountKey);
    expect(locked.fields["Account.archiveHasPassword"]).toBe("true");
  });

  itWith("gzip")("re-writes jamid's JSON byte for byte (every field kept, key order and spacing as jamid's)", async () => {
    const raw = new TextDecoder().decode(execFileSync("gzip", ["-dc"], { input: vectorBytes("alice.nopassword.gz") }));
    const archive = await readArchive(vectorBytes("alice.nopassword.gz"));
    expect(archive.toJson()).toBe(raw);
  });

  it("keeps unknown fields untouched through write and read, with and without a password", async () => {
    const archive = (await readArchive(vectorBytes("bob.nopassword.gz"))).with({
      "Future.setting": "x",
      futureObject: { nested: [1, { deep: true }] },
    });
    for (const password of [undefined, "pw"]) {
      const back = await readArchive(await writeArchive(archive, password), password);
      expect(back.fields.futureObject).toEqual({ nested: [1, { deep: true }] });
      expect(back.fields["Future.setting"]).toBe("x");
      expect(back.fields["Account.archiveHasPassword"]).toBe(password ? "true" : "false");
      expect({ ...back.fields, "Account.archiveHasPassword": "-" }).toEqual({ ...archive.fields, "Account.archiveHasPassword": "-" });
    }
  });
});

describe("writing archives jamid can read", () => {
  let archive: AccountArchive;
  beforeAll(async () => {
    archive = AccountArchive.create(await createAccountKeys({ bits: 2048 }), { displayName: "carol" });
  });

  itWith("gzip")("writes gzip JSON without a password", async () => {
    const bytes = await writeArchive(archive);
    expect([...bytes.subarray(0, 3)]).toEqual([0x1f, 0x8b, 0x08]);
    const text = execFileSync("gzip", ["-dc"], { input: bytes, encoding: "utf8" });
    expect(JSON.parse(text)["Account.username"]).toBe(archive.jamiId.toString());
  });

  itWith("python3-argon2", "python3-cryptography")(
    "writes the password container that an independent decoder (Python argon2 + cryptography) opens",
    async () => {
      const bytes = await writeArchive(archive, "s3cret pw");
      const dir = mkdtempSync(join(tmpdir(), "jami-archive-"));
      writeFileSync(join(dir, "a.gz"), bytes);
      const script = [
        "import hashlib, json, sys, zlib",
        "from argon2.low_level import hash_secret_raw, Type",
        "from cryptography.hazmat.primitives.ciphers.aead import AESGCM",
        "d = open(sys.argv[1], 'rb').read()",
        "k = hashlib.sha256(hash_secret_raw(b's3cret pw', d[:16], time_cost=16, memory_cost=65536, parallelism=1, hash_len=32, type=Type.I)).digest()",
        "print(json.loads(zlib.decompress(AESGCM(k).decrypt(d[16:28], d[28:], None)))['Account.username'])",
      ].join("\n");
      const out = execFileSync("/usr/bin/python3", ["-c", script, join(dir, "a.gz")], { encoding: "utf8" });
      expect(out.trim()).toBe(archive.jamiId.toString());
    },
  );

  it("creates the fields jamid needs for a new account", () => {
    expect(archive.fields).toMatchObject({ "Account.type": "RING", "Account.username": archive.jamiId.toString(), "Account.displayName": "carol" });
    expect(archive.ethKey).toHaveLength(32);
    expect(archive.contacts).toEqual({});
  });
});

describe("bad archives give typed errors", () => {
  it("wrong password → ARCHIVE_BAD_PASSWORD", async () => {
    await expect(readArchive(vectorBytes("alice.test-password.gz"), "nope")).rejects.toThrow(code("ARCHIVE_BAD_PASSWORD"));
  });

  it("encrypted archive without password → ARCHIVE_PASSWORD_REQUIRED", async () => {
    await expect(readArchive(vectorBytes("alice.test-password.gz"))).rejects.toThrow(code("ARCHIVE_PASSWORD_REQUIRED"));
  });

  it("corrupted ciphertext → ARCHIVE_BAD_PASSWORD (GCM cannot tell a wrong key from altered bytes)", async () => {
    const bytes = Uint8Array.from(vectorBytes("alice.test-password.gz"));
    bytes[100] = bytes[100]! ^ 0x01;
    await expect(readArchive(bytes, "test-password")).rejects.toThrow(code("ARCHIVE_BAD_PASSWORD"));
  });

  it("truncated files → ARCHIVE_CORRUPT", async () => {
    const gz = vectorBytes("alice.nopassword.gz");
    await expect(readArchive(gz.subarray(0, gz.length / 2))).rejects.toThrow(code("ARCHIVE_CORRUPT"));
    await expect(readArchive(gz.subarray(0, 10))).rejects.toThrow(code("ARCHIVE_CORRUPT"));
    await expect(readArchive(vectorBytes("alice.test-password.gz").subarray(0, 30), "test-password")).rejects.toThrow(code("ARCHIVE_CORRUPT"));
  });

  it("right password but the payload is not zlib → ARCHIVE_CORRUPT", async () => {
    const bytes = await passwordEncrypt("pw", json("{}"));
    await expect(readArchive(bytes, "pw")).rejects.toThrow(code("ARCHIVE_CORRUPT"));
  });

  it.each([
    ["not JSON", "this is not json"],
    ["a JSON array", [1, 2]],
    ["no account key", { "Account.type": "RING" }],
    ["an account key that is not a key", { ringAccountKey: Buffer.from("garbage").toString("base64"), ringAccountCert: "" }],
  ])("%s → ARCHIVE_INVALID (plain and encrypted)", async (_, content) => {
    await expect(readArchive(gzipSync(json(content)))).rejects.toThrow(code("ARCHIVE_INVALID"));
    await expect(readArchive(await passwordEncrypt("pw", zlibSync(json(content))), "pw")).rejects.toThrow(code("ARCHIVE_INVALID"));
  });

  it("an account key that does not match the certificate → ARCHIVE_INVALID", async () => {
    const alice = await readArchive(vectorBytes("alice.nopassword.gz"));
    const bob = await readArchive(vectorBytes("bob.nopassword.gz"));
    const mixed = { ...alice.fields, ringAccountKey: bob.fields.ringAccountKey };
    await expect(readArchive(gzipSync(json(mixed)))).rejects.toThrow(code("ARCHIVE_INVALID"));
  });
});
