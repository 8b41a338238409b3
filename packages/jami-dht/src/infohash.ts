import { createHash, randomBytes } from "node:crypto";
import { DhtError } from "./errors.js";

const HEX = /^[0-9a-fA-F]{40}$/;

/** A 160-bit DHT key or node id. `toString()` is 40 lowercase hex characters. */
export class InfoHash {
  static readonly byteLength = 20;
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    if (bytes.length !== InfoHash.byteLength) throw new DhtError("INVALID_ARGUMENT", `an InfoHash is 20 bytes, got ${bytes.length}`);
    this.bytes = Uint8Array.from(bytes);
  }

  static fromHex(hex: string): InfoHash {
    if (!HEX.test(hex)) throw new DhtError("INVALID_ARGUMENT", `not a 40-hex-digit InfoHash: ${JSON.stringify(hex)}`);
    return new InfoHash(Buffer.from(hex, "hex"));
  }

  /** OpenDHT's `InfoHash::get(key)`: SHA-1 of the UTF-8 bytes. */
  static get(key: string | Uint8Array): InfoHash {
    return new InfoHash(createHash("sha1").update(key).digest());
  }

  /** 40 hex digits are taken as the hash itself, anything else is hashed — as the DHT proxy does with `:hash`. */
  static parse(keyOrHex: string): InfoHash {
    return HEX.test(keyOrHex) ? InfoHash.fromHex(keyOrHex) : InfoHash.get(keyOrHex);
  }

  static random(): InfoHash {
    return new InfoHash(randomBytes(20));
  }

  static zero(): InfoHash {
    return new InfoHash(new Uint8Array(20));
  }

  isZero(): boolean {
    return this.bytes.every((b) => b === 0);
  }

  equals(other: InfoHash): boolean {
    return Buffer.compare(this.bytes, other.bytes) === 0;
  }

  /** Negative when `a` is closer to this id than `b` (XOR metric, byte 0 most significant). */
  xorCompare(a: InfoHash, b: InfoHash): number {
    for (let i = 0; i < 20; i++) {
      const da = a.bytes[i]! ^ this.bytes[i]!;
      const db = b.bytes[i]! ^ this.bytes[i]!;
      if (da !== db) return da - db;
    }
    return 0;
  }

  /** Number of leading bits shared with `other` (160 when equal). */
  commonBits(other: InfoHash): number {
    for (let i = 0; i < 20; i++) {
      const x = this.bytes[i]! ^ other.bytes[i]!;
      if (x !== 0) return i * 8 + Math.clz32(x) - 24;
    }
    return 160;
  }

  /** A random id sharing exactly `depth` leading bits with this one (a point in that routing-table range). */
  randomAtDepth(depth: number): InfoHash {
    if (depth < 0 || depth > 159) throw new DhtError("INVALID_ARGUMENT", `depth ${depth} out of 0..159`);
    const out = randomBytes(20);
    for (let bit = 0; bit <= depth; bit++) {
      const byte = bit >> 3;
      const mask = 0x80 >> (bit & 7);
      const own = this.bytes[byte]! & mask;
      const wanted = bit < depth ? own : own ^ mask;
      out[byte] = (out[byte]! & ~mask) | wanted;
    }
    return new InfoHash(out);
  }

  toString(): string {
    return Buffer.from(this.bytes).toString("hex");
  }

  toJSON(): string {
    return this.toString();
  }
}
