import {
  constants,
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createHmac,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from "node:crypto";
import { AlertDescription, DtlsAlert } from "./alert.js";

export type HashName = "sha256" | "sha384" | "sha512";

/** Forward-secret AES-GCM suites only, in our order of preference (what GnuTLS's SECURE192 keeps first). */
export interface CipherSuite {
  id: number;
  name: string;
  hash: HashName;
  keyLength: number;
}

export const CIPHER_SUITES: readonly CipherSuite[] = [
  { id: 0xc030, name: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", hash: "sha384", keyLength: 32 },
  { id: 0xc02f, name: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", hash: "sha256", keyLength: 16 },
];

/** RFC 5746's signalling value: a client that cannot send the extension says it supports secure renegotiation. */
export const EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff;

/** ECDHE groups (RFC 8422 / RFC 7748), P-384 first: the group a GnuTLS peer with Jami's settings picks. */
export interface Group {
  id: number;
  name: string;
}

export const GROUPS: readonly Group[] = [
  { id: 24, name: "secp384r1" },
  { id: 29, name: "x25519" },
  { id: 25, name: "secp521r1" },
  { id: 23, name: "prime256v1" },
];

/** RSA signature schemes (RFC 8446 code points, valid in TLS 1.2 too), PSS first. */
export interface SignatureScheme {
  id: number;
  name: string;
  hash: HashName;
  pss: boolean;
}

export const SIGNATURE_SCHEMES: readonly SignatureScheme[] = [
  { id: 0x0805, name: "RSA-PSS-RSAE-SHA384", hash: "sha384", pss: true },
  { id: 0x0806, name: "RSA-PSS-RSAE-SHA512", hash: "sha512", pss: true },
  { id: 0x0804, name: "RSA-PSS-RSAE-SHA256", hash: "sha256", pss: true },
  { id: 0x0501, name: "RSA-SHA384", hash: "sha384", pss: false },
  { id: 0x0601, name: "RSA-SHA512", hash: "sha512", pss: false },
  { id: 0x0401, name: "RSA-SHA256", hash: "sha256", pss: false },
];

/** The first of `ours` (in our order) that the peer also lists. */
export function pick<T extends { id: number }>(ours: readonly T[], theirs: readonly number[]): T | undefined {
  return ours.find((x) => theirs.includes(x.id));
}

function rsaOptions(key: KeyObject, scheme: SignatureScheme): { key: KeyObject; padding: number; saltLength?: number } {
  return scheme.pss
    ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
    : { key, padding: constants.RSA_PKCS1_PADDING };
}

export function signWith(scheme: SignatureScheme, key: KeyObject, data: Uint8Array): Uint8Array {
  return new Uint8Array(nodeSign(scheme.hash, data, rsaOptions(key, scheme)));
}

/** RSA keys below this size are refused for signatures (as jamid's GnuTLS priority SECURE192 does). */
export const MIN_RSA_BITS = 2048;

export function verifyWith(scheme: SignatureScheme, key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) return false;
  try {
    return nodeVerify(scheme.hash, data, rsaOptions(key, scheme), signature);
  } catch {
    return false;
  }
}

/** An ephemeral ECDHE key for one handshake. */
export interface KeyShare {
  group: Group;
  publicKey: Uint8Array;
  /** The pre-master secret (RFC 8422 §5.10: the x-coordinate; RFC 7748 for X25519); a bad point is `illegal_parameter`. */
  agree(peer: Uint8Array): Uint8Array;
}

export function newKeyShare(group: Group): KeyShare {
  if (group.name === "x25519") {
    const { privateKey, publicKey } = generateKeyPairSync("x25519");
    return {
      group,
      publicKey: new Uint8Array(Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url")),
      agree(peer) {
        if (peer.length !== 32) throw new DtlsAlert(AlertDescription.illegal_parameter, "X25519 share is not 32 bytes");
        const theirs = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: Buffer.from(peer).toString("base64url") }, format: "jwk" });
        const secret = new Uint8Array(diffieHellman({ privateKey, publicKey: theirs }));
        if (secret.every((b) => b === 0)) throw new DtlsAlert(AlertDescription.illegal_parameter, "X25519 share of small order");
        return secret;
      },
    };
  }
  const ecdh = createECDH(group.name);
  return {
    group,
    publicKey: new Uint8Array(ecdh.generateKeys()),
    agree(peer) {
      // Only uncompressed points (the only format we offer); computeSecret rejects points off the curve.
      if (peer[0] !== 4) throw new DtlsAlert(AlertDescription.illegal_parameter, "EC point is not uncompressed");
      try {
        return new Uint8Array(ecdh.computeSecret(peer));
      } catch {
        throw new DtlsAlert(AlertDescription.illegal_parameter, "EC point is not on the curve");
      }
    },
  };
}

export function hash(name: HashName, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(name).update(data).digest());
}

const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

/** The TLS 1.2 PRF (RFC 5246 §5): P_hash(secret, label + seed). */
export function prf(name: HashName, secret: Uint8Array, label: string, seed: Uint8Array, length: number): Uint8Array {
  const labelled = concat(new TextEncoder().encode(label), seed);
  const out = new Uint8Array(length);
  let a = labelled;
  for (let at = 0; at < length;) {
    a = new Uint8Array(createHmac(name, secret).update(a).digest());
    const block = createHmac(name, secret).update(a).update(labelled).digest();
    out.set(block.subarray(0, Math.min(block.length, length - at)), at);
    at += block.length;
  }
  return out;
}

/** AES-GCM record protection (RFC 5288): 4-byte implicit salt, 8-byte explicit nonce, 16-byte tag. */
export class RecordCipher {
  static readonly overhead = 8 + 16;

  constructor(
    private readonly key: Uint8Array,
    private readonly salt: Uint8Array,
  ) {}

  private algorithm(): "aes-128-gcm" | "aes-256-gcm" {
    return this.key.length === 16 ? "aes-128-gcm" : "aes-256-gcm";
  }

  /** `explicitNonce` is the record's epoch and sequence number (unique per key). */
  seal(explicitNonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const cipher = createCipheriv(this.algorithm(), this.key, concat(this.salt, explicitNonce));
    cipher.setAAD(aad);
    return concat(explicitNonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag());
  }

  /** The plaintext, or undefined when the record does not authenticate. */
  open(aadFor: (plaintextLength: number) => Uint8Array, fragment: Uint8Array): Uint8Array | undefined {
    if (fragment.length < RecordCipher.overhead) return undefined;
    const explicitNonce = fragment.subarray(0, 8);
    const ciphertext = fragment.subarray(8, fragment.length - 16);
    try {
      const decipher = createDecipheriv(this.algorithm(), this.key, concat(this.salt, explicitNonce));
      decipher.setAAD(aadFor(ciphertext.length));
      decipher.setAuthTag(fragment.subarray(fragment.length - 16));
      return concat(decipher.update(ciphertext), decipher.final());
    } catch {
      return undefined;
    }
  }
}
