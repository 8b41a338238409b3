import { bytesEqual, fromHex, sha1, sha256, toHex } from "jami-core";
import { IdentityError } from "./errors.js";

const HEX = /^[0-9a-f]*$/;

/** What a concrete id class states about itself; the shared statics below read it. */
interface IdClass<T> {
  new (bytes: Uint8Array): T;
  readonly byteLength: number;
  /** How the id is derived from a DER SubjectPublicKeyInfo. */
  readonly digest: (spki: Uint8Array) => Uint8Array;
}

/** A fixed-length binary id shown as lowercase hex; subclasses fix the length and meaning. */
abstract class HexId {
  readonly bytes: Uint8Array;

  protected constructor(bytes: Uint8Array, length: number) {
    if (bytes.byteLength !== length) {
      throw new IdentityError("INVALID_ID", `${new.target.name} must be ${length} bytes, got ${bytes.byteLength}`);
    }
    this.bytes = Uint8Array.from(bytes);
  }

  static fromHex<T extends HexId>(this: IdClass<T>, hex: string): T {
    const lower = hex.trim().toLowerCase();
    if (lower.length !== this.byteLength * 2 || !HEX.test(lower)) {
      throw new IdentityError("INVALID_ID", `${this.name} must be ${this.byteLength * 2} hex characters: "${hex}"`);
    }
    return new this(fromHex(lower));
  }

  static fromSpki<T extends HexId>(this: IdClass<T>, spki: Uint8Array): T {
    return new this(this.digest(spki));
  }

  equals(other: HexId | string): boolean {
    if (typeof other === "string") return this.toString() === other.toLowerCase();
    return other.constructor === this.constructor && bytesEqual(this.bytes, other.bytes);
  }

  toString(): string {
    return toHex(this.bytes);
  }

  toJSON(): string {
    return this.toString();
  }
}

/**
 * The user's address: SHA-1 of the account key's DER SubjectPublicKeyInfo
 * (40 hex). Also the account certificate's UID and the DHT key of its device
 * announcements.
 */
export class JamiId extends HexId {
  declare private readonly _brand: "JamiId";
  static readonly byteLength = 20;
  static readonly digest = sha1;
  constructor(bytes: Uint8Array) {
    super(bytes, JamiId.byteLength);
  }
}

/**
 * SHA-1 of a device key's SPKI (40 hex): the device certificate's UID, and
 * what jamid 13.7 uses in DHT keys (`inbox:`, `peer:`, certificate lookups).
 */
export class DeviceShortId extends HexId {
  declare private readonly _brand: "DeviceShortId";
  static readonly byteLength = 20;
  static readonly digest = sha1;
  constructor(bytes: Uint8Array) {
    super(bytes, DeviceShortId.byteLength);
  }
}

/**
 * SHA-256 of a device key's SPKI (64 hex): what jamid shows as `deviceID`,
 * names `devices/<id>.crt` in swarms and, in today's daemon, DHT keys too.
 */
export class DeviceId extends HexId {
  declare private readonly _brand: "DeviceId";
  static readonly byteLength = 32;
  static readonly digest = sha256;
  constructor(bytes: Uint8Array) {
    super(bytes, DeviceId.byteLength);
  }
}
