import { randomBytes } from "node:crypto";
import { decompressSync, gzipSync, zlibSync } from "fflate";
import { fromBase64, fromUtf8, toBase64, utf8 } from "jami-core";
import { Certificate } from "./certificate.js";
import { passwordDecrypt, passwordEncrypt } from "./archive-crypto.js";
import { RevocationList } from "./crl.js";
import { IdentityError } from "./errors.js";
import type { AccountKeys, DeviceIdentity } from "./identity.js";
import { deviceChainPem } from "./identity.js";
import type { JamiId } from "./ids.js";
import { PrivateKey } from "./keys.js";

/** A contact as jamid stores it (`ringAccountContacts`); times are Unix seconds. */
export interface ArchiveContact {
  added?: number;
  removed?: number;
  confirmed?: boolean;
  banned?: boolean;
  conversationId?: string;
  [field: string]: unknown;
}

/** A swarm as jamid lists it (`conversations`, `ConvInfo::toJson`). */
export interface ArchiveConversation {
  id: string;
  created?: number;
  removed?: number;
  erased?: number;
  members?: Array<{ uri: string; [field: string]: unknown }>;
  lastDisplayed?: string;
  [field: string]: unknown;
}

export type ArchiveFields = Record<string, unknown>;

const GZIP_MAGIC = [0x1f, 0x8b, 0x08];

/**
 * The account archive's JSON object. Every field is kept as read (config
 * strings, contacts, conversations, unknown keys), so a read-modify-write
 * loses nothing; typed getters decode the fields jamid gives meaning to.
 * Instances are immutable: `with()` returns a changed copy.
 */
export class AccountArchive {
  readonly fields: Readonly<ArchiveFields>;
  readonly accountKeys: AccountKeys;

  private constructor(fields: ArchiveFields) {
    this.fields = Object.freeze({ ...fields });
    this.accountKeys = decodeKeys(this.fields);
  }

  /** Validates the JSON text: an object with a usable account key and matching certificate. */
  static fromJson(text: string): AccountArchive {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw new IdentityError("ARCHIVE_INVALID", "archive content is not JSON", { cause });
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new IdentityError("ARCHIVE_INVALID", "archive content is not a JSON object");
    }
    return new AccountArchive(parsed as ArchiveFields);
  }

  static fromFields(fields: ArchiveFields): AccountArchive {
    return new AccountArchive(fields);
  }

  /** A fresh archive for new account keys, with the config keys jamid writes for a new account. */
  static create(keys: AccountKeys, options: { displayName?: string; device?: DeviceIdentity } = {}): AccountArchive {
    if (!keys.caKey || !keys.caCertificate) {
      throw new IdentityError("ARCHIVE_INVALID", "a new archive needs the CA key and certificate");
    }
    const fields: ArchiveFields = {
      "Account.type": "RING",
      "Account.username": keys.accountCertificate.jamiId.toString(),
      "Account.alias": options.displayName ?? "",
      "Account.displayName": options.displayName ?? "",
      "Account.archiveHasPassword": "false",
      ringAccountKey: toBase64(utf8(keys.accountKey.toPem())),
      ringAccountCert: toBase64(utf8(keys.accountCertificate.toPem() + keys.caCertificate.toPem())),
      ringCaKey: toBase64(utf8(keys.caKey.toPem())),
      ethKey: toBase64(newEthKey()),
      ringAccountContacts: {},
    };
    // jamid puts the exporting device's chain here; we leave its private key out (jamid ignores both on import)
    if (options.device) fields["TLS.certificateFile"] = toBase64(utf8(deviceChainPem(options.device)));
    return new AccountArchive(fields);
  }

  with(changes: ArchiveFields): AccountArchive {
    return new AccountArchive({ ...this.fields, ...changes });
  }

  /** Compact JSON with keys in byte order, as jamid's writer (jsoncpp, a sorted map) emits it. */
  toJson(): string {
    const sorted: ArchiveFields = {};
    for (const key of Object.keys(this.fields).sort(byteOrder)) sorted[key] = this.fields[key];
    return JSON.stringify(sorted);
  }

  get jamiId(): JamiId {
    return this.accountKeys.accountCertificate.jamiId;
  }

  get displayName(): string | undefined {
    return stringField(this.fields, "Account.displayName") || stringField(this.fields, "Account.alias") || undefined;
  }

  get contacts(): Readonly<Record<string, ArchiveContact>> {
    return objectField(this.fields, "ringAccountContacts") as Record<string, ArchiveContact>;
  }

  get conversations(): Readonly<Record<string, ArchiveConversation>> {
    return objectField(this.fields, "conversations") as Record<string, ArchiveConversation>;
  }

  get conversationRequests(): Readonly<Record<string, Record<string, unknown>>> {
    return objectField(this.fields, "conversationsRequests") as Record<string, Record<string, unknown>>;
  }

  /** The 32-byte secp256k1 secret (legacy name-service key). */
  get ethKey(): Uint8Array | undefined {
    const b64 = stringField(this.fields, "ethKey");
    return b64 ? fromBase64(b64) : undefined;
  }

  get revocationList(): RevocationList | undefined {
    const b64 = stringField(this.fields, "ringAccountCRL");
    return b64 ? RevocationList.fromDer(fromBase64(b64)) : undefined;
  }

  /** The exporting device's chain, when the archive carries one (`TLS.certificateFile`). */
  get exportingDeviceChain(): Certificate[] {
    const b64 = stringField(this.fields, "TLS.certificateFile");
    if (!b64) return [];
    try {
      return Certificate.chainFromPem(fromUtf8(fromBase64(b64)));
    } catch {
      return [];
    }
  }

  /** Config entries (`Account.*`, `TURN.*`, …): every string-valued field that is not key material. */
  get config(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(this.fields)) {
      if (typeof value === "string" && key.includes(".") && !key.startsWith("TLS.")) out[key] = value;
    }
    return out;
  }

  withRevocationList(crl: RevocationList): AccountArchive {
    return this.with({ ringAccountCRL: toBase64(crl.der) });
  }
}

/**
 * Reads archive bytes as jamid's `readArchive` does: a gzip header means
 * gzip (even before decrypting); otherwise the password container. After
 * decryption both zlib and gzip payloads are accepted.
 */
export async function readArchive(data: Uint8Array, password?: string): Promise<AccountArchive> {
  let unzipped: Uint8Array | undefined;
  if (GZIP_MAGIC.every((b, i) => data[i] === b)) {
    try {
      unzipped = inflate(data);
    } catch (error) {
      // a random salt can start like gzip; with a password the bytes may still be a sealed archive
      if (!password) throw error;
    }
  }
  if (unzipped && (!password || looksLikeJson(unzipped))) return AccountArchive.fromJson(fromUtf8(unzipped));
  if (!password) {
    throw new IdentityError("ARCHIVE_PASSWORD_REQUIRED", "the archive is encrypted: a password is needed");
  }
  return AccountArchive.fromJson(fromUtf8(inflate(await passwordDecrypt(password, unzipped ?? data))));
}

/** Writes gzip(JSON) without a password, else `salt ‖ nonce ‖ AES-256-GCM(zlib(JSON)) ‖ tag`. */
export async function writeArchive(archive: AccountArchive, password?: string): Promise<Uint8Array> {
  const marked = archive.with({ "Account.archiveHasPassword": password ? "true" : "false" });
  const json = utf8(marked.toJson());
  if (!password) return gzipSync(json);
  return passwordEncrypt(password, zlibSync(json));
}

function inflate(data: Uint8Array): Uint8Array {
  try {
    return decompressSync(data);
  } catch (cause) {
    throw new IdentityError("ARCHIVE_CORRUPT", `archive does not decompress: ${(cause as Error).message}`, { cause });
  }
}

function looksLikeJson(bytes: Uint8Array): boolean {
  return bytes[0] === 0x7b; // "{"
}

function decodeKeys(fields: Readonly<ArchiveFields>): AccountKeys {
  const pem = (key: string, required: boolean): string | undefined => {
    const value = fields[key];
    if (value === undefined && !required) return undefined;
    if (typeof value !== "string" || value === "") {
      throw new IdentityError("ARCHIVE_INVALID", `archive field ${key} is missing or not a string`);
    }
    return fromUtf8(fromBase64(value));
  };
  try {
    const accountKey = PrivateKey.fromPem(pem("ringAccountKey", true)!);
    const [accountCertificate, caCertificate] = Certificate.chainFromPem(pem("ringAccountCert", true)!);
    if (!accountCertificate) throw new IdentityError("ARCHIVE_INVALID", "ringAccountCert holds no certificate");
    if (!accountCertificate.publicKey.equals(accountKey.publicKey)) {
      throw new IdentityError("ARCHIVE_INVALID", "ringAccountKey does not match the account certificate");
    }
    const caPem = pem("ringCaKey", false);
    const caKey = caPem ? PrivateKey.fromPem(caPem) : undefined;
    return { accountKey, accountCertificate, caKey, caCertificate };
  } catch (cause) {
    if (cause instanceof IdentityError && cause.code === "ARCHIVE_INVALID") throw cause;
    throw new IdentityError("ARCHIVE_INVALID", `archive key material is unreadable: ${(cause as Error).message}`, { cause });
  }
}

function stringField(fields: Readonly<ArchiveFields>, key: string): string | undefined {
  const value = fields[key];
  return typeof value === "string" ? value : undefined;
}

function objectField(fields: Readonly<ArchiveFields>, key: string): Record<string, unknown> {
  const value = fields[key];
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

const SECP256K1_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** A valid secp256k1 secret: 32 random bytes in [1, n). */
function newEthKey(): Uint8Array {
  for (;;) {
    const candidate = new Uint8Array(randomBytes(32));
    const value = BigInt("0x" + Buffer.from(candidate).toString("hex"));
    if (value > 0n && value < SECP256K1_ORDER) return candidate;
  }
}
