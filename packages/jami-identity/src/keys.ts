import { createPrivateKey, createPublicKey, generateKeyPair, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { asBytes, bytesEqual } from "jami-core";
import { IdentityError } from "./errors.js";
import { DeviceId, DeviceShortId, JamiId } from "./ids.js";

const generateKeyPairAsync = promisify(generateKeyPair);

export type HashName = "sha256" | "sha384" | "sha512";

export class PublicKey {
  /** DER SubjectPublicKeyInfo: what every Jami id is a hash of. */
  readonly spki: Uint8Array;

  constructor(readonly keyObject: KeyObject) {
    if (keyObject.type !== "public") throw new IdentityError("KEY_INVALID", "not a public key");
    this.spki = asBytes(keyObject.export({ type: "spki", format: "der" }));
  }

  static fromSpki(spki: Uint8Array): PublicKey {
    try {
      return new PublicKey(createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" }));
    } catch (cause) {
      throw new IdentityError("KEY_INVALID", "unreadable public key", { cause });
    }
  }

  /** SHA-1 of the SPKI as a Jami ID (meaningful for an account key). */
  get jamiId(): JamiId {
    return JamiId.fromSpki(this.spki);
  }

  get deviceShortId(): DeviceShortId {
    return DeviceShortId.fromSpki(this.spki);
  }

  get deviceId(): DeviceId {
    return DeviceId.fromSpki(this.spki);
  }

  verify(data: Uint8Array, signature: Uint8Array, hash: HashName): boolean {
    try {
      return nodeVerify(hash, data, this.keyObject, signature);
    } catch {
      return false;
    }
  }

  equals(other: PublicKey): boolean {
    return bytesEqual(this.spki, other.spki);
  }
}

export class PrivateKey {
  readonly publicKey: PublicKey;

  constructor(readonly keyObject: KeyObject) {
    if (keyObject.type !== "private") throw new IdentityError("KEY_INVALID", "not a private key");
    this.publicKey = new PublicKey(createPublicKey(keyObject));
  }

  /** A fresh RSA key with exponent 65537, generated natively off the main thread. */
  static async generate(bits = 4096): Promise<PrivateKey> {
    const { privateKey } = await generateKeyPairAsync("rsa", { modulusLength: bits, publicExponent: 0x10001 });
    return new PrivateKey(privateKey);
  }

  /** Reads PKCS#8 or PKCS#1 PEM, as jamid and GnuTLS write them (unencrypted). */
  static fromPem(pem: string): PrivateKey {
    try {
      return new PrivateKey(createPrivateKey({ key: pem, format: "pem" }));
    } catch (cause) {
      throw new IdentityError("KEY_INVALID", "unreadable private key", { cause });
    }
  }

  /** Unencrypted PKCS#8 PEM, the form jamid stores (`ring_device.key`, archive keys). */
  toPem(): string {
    return this.keyObject.export({ type: "pkcs8", format: "pem" }).toString();
  }

  /** RSA PKCS#1 v1.5 signature. */
  sign(data: Uint8Array, hash: HashName): Uint8Array {
    return asBytes(nodeSign(hash, data, this.keyObject));
  }
}
