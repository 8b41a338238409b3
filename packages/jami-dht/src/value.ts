import { randomBytes } from "node:crypto";
import { PublicKey, type PrivateKey } from "jami-identity";
import { DhtError } from "./errors.js";
import { InfoHash } from "./infohash.js";
import { decodeMapEntries, encodeMsgpack as encode, RawMsg, type MsgValue } from "jami-core";
import { decryptWith, encryptFor } from "./value-crypto.js";

/** `Value::size()` limit of OpenDHT's default store policy. */
export const MAX_VALUE_SIZE = 64 * 1024;

/** Field ids of OpenDHT queries (`Value::Field`). */
export const ValueField = { None: 0, Id: 1, ValueType: 2, OwnerPk: 3, SeqNum: 4, UserType: 5 } as const;
export type ValueFieldId = (typeof ValueField)[keyof typeof ValueField];

export interface ValueInit {
  id?: bigint;
  type?: number;
  data?: Uint8Array | string;
  userType?: string;
  priority?: number;
  pushType?: string;
}

type Entries = Map<string, { value: MsgValue; raw: Uint8Array }>;

/** The public key id OpenDHT uses everywhere: SHA-1 of the DER SubjectPublicKeyInfo. */
export function publicKeyId(key: PublicKey): InfoHash {
  return InfoHash.get(key.spki);
}

export function randomValueId(): bigint {
  let id = 0n;
  while (id === 0n) id = Buffer.from(randomBytes(8)).readBigUInt64BE();
  return id;
}

/**
 * A DHT value in one of its three forms: plain, signed (owner + seq + signature, optionally a recipient) or
 * encrypted (only `id` and `cypher` visible). Decoded values keep the exact signed-body bytes they arrived with.
 */
export class Value {
  id: bigint;
  type: number;
  data: Uint8Array;
  userType: string;
  priority: number;
  pushType: string;
  seq = 0;
  owner?: PublicKey;
  recipient?: InfoHash;
  signature?: Uint8Array;
  cypher?: Uint8Array;
  private signedBody?: Uint8Array;

  constructor(init: ValueInit = {}) {
    this.id = init.id ?? randomValueId();
    this.type = init.type ?? 0;
    this.data = typeof init.data === "string" ? new TextEncoder().encode(init.data) : (init.data ?? new Uint8Array());
    this.userType = init.userType ?? "";
    this.priority = init.priority ?? 0;
    this.pushType = init.pushType ?? "";
  }

  get isSigned(): boolean {
    return this.owner !== undefined && this.signature !== undefined;
  }

  get isEncrypted(): boolean {
    return this.cypher !== undefined;
  }

  /** `Value::size()`: what the 64 KiB store limit counts. */
  get size(): number {
    return (this.cypher?.length ?? 0) + this.data.length + (this.signature?.length ?? 0) + this.userType.length + this.pushType.length;
  }

  get ownerId(): InfoHash | undefined {
    return this.owner ? publicKeyId(this.owner) : undefined;
  }

  /** The body bytes a signature covers: as received, or canonical msgpack of the current fields. */
  bodyBytes(): Uint8Array {
    if (this.signedBody) return this.signedBody;
    const body: Record<string, unknown> = {};
    if (this.owner) {
      body.seq = this.seq;
      body.owner = this.owner.spki;
      if (this.recipient) body.to = this.recipient.bytes;
    }
    body.type = this.type;
    body.data = this.data;
    if (this.userType) body.utype = this.userType;
    return encode(body);
  }

  /** Signs in place with `key` (RSA PKCS#1 v1.5 / SHA-512 over the body), as `SecureDht::sign` does. */
  sign(key: PrivateKey, seq = this.seq): this {
    this.owner = key.publicKey;
    this.seq = seq;
    this.signedBody = undefined;
    this.signature = key.sign(this.bodyBytes(), "sha512");
    return this;
  }

  /** True when the value is signed and its signature verifies with its owner key. */
  verifySignature(): boolean {
    if (!this.owner || !this.signature) return false;
    return this.owner.verify(this.bodyBytes(), this.signature, "sha512");
  }

  /** A copy signed by `from`, addressed to `to`, then encrypted for it (`Value::encrypt`). */
  encrypt(from: PrivateKey, to: PublicKey): Value {
    const inner = this.clone();
    inner.recipient = publicKeyId(to);
    inner.sign(from, this.seq);
    const plaintext = encode({ body: new RawMsg(inner.bodyBytes()), sig: inner.signature });
    const out = new Value({ id: this.id, priority: this.priority });
    out.cypher = encryptFor(to, plaintext);
    return out;
  }

  /**
   * Decrypts a value encrypted for `key`; checks that it is addressed to this key and that its inner signature
   * verifies (`SecureDht::decrypt`). Throws `DECRYPT_FAILED`, `NOT_RECIPIENT` or `SIGNATURE_INVALID`.
   */
  decrypt(key: PrivateKey): Value {
    if (!this.cypher) throw new DhtError("INVALID_ARGUMENT", "value is not encrypted");
    const plaintext = decryptWith(key, this.cypher);
    let out: Value;
    try {
      const entries = decodeMapEntries(plaintext);
      out = new Value({ id: this.id, priority: this.priority });
      Value.readDat(out, entries);
    } catch (cause) {
      if (cause instanceof DhtError && cause.code !== "DECODE") throw cause;
      throw new DhtError("DECRYPT_FAILED", "decrypted bytes are not a value", { cause });
    }
    if (!out.owner || !out.signature) throw new DhtError("SIGNATURE_INVALID", "encrypted value is not signed");
    if (!out.recipient?.equals(publicKeyId(key.publicKey))) throw new DhtError("NOT_RECIPIENT", "value is addressed to another key");
    if (!out.verifySignature()) throw new DhtError("SIGNATURE_INVALID", "inner signature does not verify");
    return out;
  }

  clone(): Value {
    const v = new Value({ id: this.id, type: this.type, data: this.data, userType: this.userType, priority: this.priority, pushType: this.pushType });
    v.seq = this.seq;
    v.owner = this.owner;
    v.recipient = this.recipient;
    v.signature = this.signature;
    v.cypher = this.cypher;
    v.signedBody = this.signedBody;
    return v;
  }

  /** The msgpack object of the value, with the signed body kept verbatim. */
  toMsg(): Record<string, unknown> {
    let dat: unknown;
    if (this.cypher) dat = this.cypher;
    else if (this.signature) dat = { body: new RawMsg(this.bodyBytes()), sig: this.signature };
    else dat = { body: new RawMsg(this.bodyBytes()) };
    const out: Record<string, unknown> = { id: this.id, dat };
    if (this.priority) out.p = this.priority;
    if (this.pushType) out.pt = this.pushType;
    return out;
  }

  encode(): Uint8Array {
    return encode(this.toMsg());
  }

  /** Parses a serialized value (`Value::msgpack_unpack` rules). Throws `DhtError("VALUE_INVALID")`. */
  static decode(bytes: Uint8Array): Value {
    try {
      const entries = decodeMapEntries(bytes);
      const id = entries.get("id")?.value;
      const dat = entries.get("dat");
      if ((typeof id !== "number" && typeof id !== "bigint") || dat === undefined) {
        throw new DhtError("VALUE_INVALID", "value needs id and dat");
      }
      const bigId = BigInt(id);
      if (bigId < 0n || bigId >= 1n << 64n) throw new DhtError("VALUE_INVALID", "value id is not a u64");
      const v = new Value({ id: bigId });
      const p = entries.get("p")?.value;
      if (typeof p === "number" && p >= 0) v.priority = p;
      const pt = entries.get("pt")?.value;
      if (typeof pt === "string") v.pushType = pt;
      if (dat.value instanceof Uint8Array) v.cypher = dat.value;
      else Value.readDat(v, decodeMapEntries(dat.raw));
      return v;
    } catch (cause) {
      if (cause instanceof DhtError && cause.code === "VALUE_INVALID") throw cause;
      throw new DhtError("VALUE_INVALID", `malformed value: ${(cause as Error).message}`, { cause });
    }
  }

  private static readDat(v: Value, dat: Entries): void {
    const body = dat.get("body");
    if (!body) throw new DhtError("VALUE_INVALID", "value without body");
    const fields = decodeMapEntries(body.raw);
    const type = fields.get("type")?.value;
    if (typeof type !== "number" || type < 0 || type > 0xffff) throw new DhtError("VALUE_INVALID", "value type missing or not a u16");
    v.type = type;
    v.data = blob(fields.get("data")?.value, "data");
    const utype = fields.get("utype")?.value;
    if (utype !== undefined) {
      if (typeof utype === "string") v.userType = utype;
      else if (utype instanceof Uint8Array) v.userType = new TextDecoder().decode(utype);
    }
    const owner = fields.get("owner");
    if (owner === undefined) return;
    const seq = fields.get("seq")?.value;
    if (typeof seq !== "number" || seq < 0 || seq > 0xffff) throw new DhtError("VALUE_INVALID", "signed value without a u16 seq");
    const sig = dat.get("sig");
    if (!sig) throw new DhtError("VALUE_INVALID", "signed value without sig");
    v.seq = seq;
    try {
      v.owner = PublicKey.fromSpki(blob(owner.value, "owner"));
    } catch (cause) {
      throw new DhtError("VALUE_INVALID", "owner is not a public key", { cause });
    }
    const to = fields.get("to")?.value;
    if (to !== undefined) {
      const toBytes = blob(to, "to");
      if (toBytes.length !== 20) throw new DhtError("VALUE_INVALID", "recipient is not 20 bytes");
      v.recipient = new InfoHash(toBytes);
    }
    v.signature = blob(sig.value, "sig");
    v.signedBody = Uint8Array.from(body.raw);
  }
}

function blob(v: MsgValue | undefined, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  // Legacy msgpack 1.0 senders write blobs as arrays of small ints (`unpackBlob`).
  if (Array.isArray(v) && v.every((b) => typeof b === "number" && b >= 0 && b < 256)) return Uint8Array.from(v as number[]);
  throw new DhtError("VALUE_INVALID", `${what} is not binary`);
}
