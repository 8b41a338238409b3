import { bytesEqual, fromHex, sha1, sha256, toHex } from "./bytes.js";
import { IdentityError } from "./errors.js";

const HEX = /^[0-9a-f]*$/;

/** A fixed-length binary id shown as lowercase hex; subclasses fix the length and meaning. */
abstract class HexId {
  readonly bytes: Uint8Array;

  protected constructor(bytes: Uint8Array, length: number, kind: string) {
    if (bytes.byteLength !== length) {
      throw new IdentityError("INVALID_ID", `${kind} must be ${length} bytes, got ${bytes.byteLength}`);
    }
    this.bytes = Uint8Array.from(bytes);
  }

  protected static parseHex(hex: string, length: number, kind: string): Uint8Array {
    const lower = hex.trim().toLowerCase();
    if (lower.length !== length * 2 || !HEX.test(lower)) {
      throw new IdentityError("INVALID_ID", `${kind} must be ${length * 2} hex characters: "${hex}"`);
    }
    return fromHex(lower);
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
  constructor(bytes: Uint8Array) {
    super(bytes, 20, "JamiId");
  }
  static fromHex(hex: string): JamiId {
    return new JamiId(HexId.parseHex(hex, 20, "JamiId"));
  }
  static fromSpki(spki: Uint8Array): JamiId {
    return new JamiId(sha1(spki));
  }
}

/**
 * SHA-1 of a device key's SPKI (40 hex): the device certificate's UID, and
 * what jamid 13.7 uses in DHT keys (`inbox:`, `peer:`, certificate lookups).
 */
export class DeviceShortId extends HexId {
  declare private readonly _brand: "DeviceShortId";
  constructor(bytes: Uint8Array) {
    super(bytes, 20, "DeviceShortId");
  }
  static fromHex(hex: string): DeviceShortId {
    return new DeviceShortId(HexId.parseHex(hex, 20, "DeviceShortId"));
  }
  static fromSpki(spki: Uint8Array): DeviceShortId {
    return new DeviceShortId(sha1(spki));
  }
}

/**
 * SHA-256 of a device key's SPKI (64 hex): what jamid shows as `deviceID`,
 * names `devices/<id>.crt` in swarms and, in today's daemon, DHT keys too.
 */
export class DeviceId extends HexId {
  declare private readonly _brand: "DeviceId";
  constructor(bytes: Uint8Array) {
    super(bytes, 32, "DeviceId");
  }
  static fromHex(hex: string): DeviceId {
    return new DeviceId(HexId.parseHex(hex, 32, "DeviceId"));
  }
  static fromSpki(spki: Uint8Array): DeviceId {
    return new DeviceId(sha256(spki));
  }
}
