import { X509Certificate } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import { BasicConstraints, Certificate as AsnCertificate, id_ce_basicConstraints, id_ce_subjectKeyIdentifier, Name } from "@peculiar/asn1-x509";
import { asBytes, bytesEqual, sha256, toHex } from "jami-core";
import { readChildren, readTlv, slice } from "./der.js";
import { IdentityError } from "./errors.js";
import { DeviceId, DeviceShortId, JamiId } from "./ids.js";
import { PublicKey } from "./keys.js";
import { decodePem, encodePem } from "./pem.js";

const OID_CN = "2.5.4.3";
const OID_UID = "0.9.2342.19200300.100.1.1";

export interface DistinguishedName {
  /** Common name: `Jami CA`, `Jami` or `Jami device` for jamid's identities. */
  cn?: string;
  /** The 40-hex key id jamid puts in every certificate it makes. */
  uid?: string;
}

/** An immutable X.509 certificate, kept as its exact DER bytes. */
export class Certificate {
  readonly der: Uint8Array;
  readonly publicKey: PublicKey;
  readonly subject: DistinguishedName;
  readonly issuer: DistinguishedName;
  /** Exact DER of the subject and issuer names (jamid copies them byte for byte). */
  readonly subjectDer: Uint8Array;
  readonly issuerDer: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Serial as signed lowercase hex; 13.7 certificates may be negative (`-…`). */
  readonly serialNumber: string;
  /** The serial's raw DER INTEGER content, what a CRL entry must repeat. */
  readonly serialBytes: Uint8Array;
  readonly isCA: boolean;
  readonly subjectKeyIdentifier: Uint8Array | undefined;
  readonly signatureAlgorithm: string;
  /** Exact to-be-signed bytes. */
  readonly tbs: Uint8Array;
  private readonly native: X509Certificate;

  private constructor(der: Uint8Array) {
    this.der = Uint8Array.from(der);
    let asn: AsnCertificate;
    try {
      this.native = new X509Certificate(Buffer.from(this.der));
      asn = AsnConvert.parse(this.der, AsnCertificate);
      const top = readTlv(this.der, 0);
      if (top.end !== this.der.byteLength) throw new Error("trailing bytes after certificate");
      const [tbsTlv] = readChildren(this.der, top);
      this.tbs = slice(this.der, tbsTlv!);
      const fields = readChildren(this.der, tbsTlv!);
      // version [0] is present in v3 certificates; fields after it are positional
      const base = fields[0]?.tag === 0xa0 ? 1 : 0;
      this.serialBytes = Uint8Array.from(this.der.subarray(fields[base]!.contentStart, fields[base]!.end));
      this.issuerDer = Uint8Array.from(slice(this.der, fields[base + 2]!));
      this.subjectDer = Uint8Array.from(slice(this.der, fields[base + 4]!));
    } catch (cause) {
      if (cause instanceof IdentityError) throw cause;
      throw new IdentityError("CERT_INVALID", `not a readable X.509 certificate: ${(cause as Error).message}`, { cause });
    }
    const tbs = asn.tbsCertificate;
    this.publicKey = PublicKey.fromSpki(asBytes(AsnConvert.serialize(tbs.subjectPublicKeyInfo)));
    this.subject = readName(tbs.subject);
    this.issuer = readName(tbs.issuer);
    this.notBefore = tbs.validity.notBefore.getTime();
    this.notAfter = tbs.validity.notAfter.getTime();
    this.serialNumber = signedHex(this.serialBytes);
    this.signatureAlgorithm = asn.signatureAlgorithm.algorithm;
    let isCA = false;
    let ski: Uint8Array | undefined;
    for (const ext of tbs.extensions ?? []) {
      const value = asBytes(ext.extnValue.buffer);
      if (ext.extnID === id_ce_basicConstraints) isCA = AsnConvert.parse(value, BasicConstraints).cA;
      // SubjectKeyIdentifier is an OCTET STRING inside the extension value
      if (ext.extnID === id_ce_subjectKeyIdentifier) ski = Uint8Array.from(value.subarray(2));
    }
    this.isCA = isCA;
    this.subjectKeyIdentifier = ski;
  }

  static fromDer(der: Uint8Array): Certificate {
    return new Certificate(der);
  }

  /** The first certificate of a PEM text. */
  static fromPem(pem: string): Certificate {
    const [first] = Certificate.chainFromPem(pem);
    if (!first) throw new IdentityError("CERT_INVALID", "no CERTIFICATE block in PEM text");
    return first;
  }

  /** Every certificate of a PEM text, in file order (jamid: device, account, CA). */
  static chainFromPem(pem: string): Certificate[] {
    return decodePem(pem)
      .filter((b) => b.label === "CERTIFICATE")
      .map((b) => new Certificate(b.der));
  }

  toPem(): string {
    return encodePem("CERTIFICATE", this.der);
  }

  /** SHA-1 of the SPKI: the Jami ID for an account certificate, the short id for a device. */
  get keyId(): Uint8Array {
    return this.publicKey.jamiId.bytes;
  }

  /** Read as an account certificate: its Jami ID. */
  get jamiId(): JamiId {
    return this.publicKey.jamiId;
  }

  get deviceShortId(): DeviceShortId {
    return this.publicKey.deviceShortId;
  }

  get deviceId(): DeviceId {
    return this.publicKey.deviceId;
  }

  /** SHA-256 of the DER: a stable name for this exact certificate. */
  get fingerprint(): string {
    return toHex(sha256(this.der));
  }

  get isSelfIssued(): boolean {
    return bytesEqual(this.subjectDer, this.issuerDer);
  }

  /** Whether `issuer`'s key made this certificate's signature (natively checked). */
  isSignedBy(issuer: Certificate | PublicKey): boolean {
    const key = issuer instanceof Certificate ? issuer.publicKey : issuer;
    try {
      return this.native.verify(key.keyObject);
    } catch {
      return false;
    }
  }

  /** Names chain: this certificate's issuer is `other`'s subject, byte for byte. */
  isIssuedBy(other: Certificate): boolean {
    return bytesEqual(this.issuerDer, other.subjectDer);
  }

  equals(other: Certificate): boolean {
    return bytesEqual(this.der, other.der);
  }
}

export function readName(name: Name): DistinguishedName {
  const out: DistinguishedName = {};
  for (const rdn of name) {
    for (const atv of rdn) {
      if (atv.type === OID_CN) out.cn = atv.value.toString();
      if (atv.type === OID_UID) out.uid = atv.value.toString();
    }
  }
  return out;
}

function signedHex(content: Uint8Array): string {
  if (content.byteLength === 0) return "0";
  let value = BigInt("0x" + toHex(content));
  if (content[0]! & 0x80) value -= 1n << BigInt(content.byteLength * 8);
  return value < 0n ? "-" + (-value).toString(16) : value.toString(16);
}
