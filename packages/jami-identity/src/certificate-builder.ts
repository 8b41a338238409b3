import { randomBytes } from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  BasicConstraints,
  Certificate as AsnCertificate,
  Extension,
  Extensions,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from "@peculiar/asn1-x509";
import { asBytes } from "jami-core";
import { Certificate, type DistinguishedName } from "./certificate.js";
import type { PrivateKey, PublicKey } from "./keys.js";

const OID_SHA384_WITH_RSA = "1.2.840.113549.1.1.12";
const DAY_MS = 86_400_000;
/** jamid: 10 × 365 days, no leap correction. */
export const DEFAULT_VALIDITY_DAYS = 3650;

export interface IssueOptions {
  subject: DistinguishedName;
  publicKey: PublicKey;
  /** The signer: its key and, unless self-signing, its certificate (whose subject becomes our issuer). */
  issuerKey: PrivateKey;
  issuerCertificate?: Certificate;
  /** CA and account certificates carry SKI + basicConstraints CA + keyUsage; device certificates none. */
  isCA: boolean;
  notBefore?: Date;
  validityDays?: number;
  notAfter?: Date;
  /** DER INTEGER content; defaults to 8 random bytes, positive (as today's OpenDHT writes it). */
  serial?: Uint8Array;
}

/** Builds and signs (sha384WithRSAEncryption) a certificate laid out as OpenDHT/GnuTLS lays out jamid's. */
export function issueCertificate(options: IssueOptions): Certificate {
  // GnuTLS writes whole seconds
  const notBefore = new Date(Math.floor((options.notBefore ?? new Date()).getTime() / 1000) * 1000);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + (options.validityDays ?? DEFAULT_VALIDITY_DAYS) * DAY_MS);
  const subject = encodeName(options.subject);
  const issuer = options.issuerCertificate ? AsnConvert.parse(options.issuerCertificate.subjectDer, Name) : subject;
  const signature = new AlgorithmIdentifier({ algorithm: OID_SHA384_WITH_RSA, parameters: null });
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: toArrayBuffer(options.serial ?? randomSerial()),
    signature,
    issuer,
    validity: new Validity({ notBefore, notAfter }),
    subject,
    subjectPublicKeyInfo: AsnConvert.parse(options.publicKey.spki, SubjectPublicKeyInfo),
  });
  if (options.isCA) tbs.extensions = caExtensions(options.publicKey);
  const tbsDer = asBytes(AsnConvert.serialize(tbs));
  const signatureValue = options.issuerKey.sign(tbsDer, "sha384");
  const cert = new AsnCertificate({
    tbsCertificate: tbs,
    signatureAlgorithm: signature,
    signatureValue: toArrayBuffer(signatureValue),
  });
  return Certificate.fromDer(asBytes(AsnConvert.serialize(cert)));
}

/** SKI (= SHA-1 of the SPKI, jamid's key id), critical CA:TRUE, critical keyCertSign + cRLSign. */
function caExtensions(publicKey: PublicKey): Extensions {
  const ext = (extnID: string, critical: boolean, value: unknown) =>
    new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
  return new Extensions([
    ext(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(toArrayBuffer(publicKey.jamiId.bytes))),
    ext(id_ce_basicConstraints, true, new BasicConstraints({ cA: true })),
    ext(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign)),
  ]);
}

/** `CN=…, UID=…`, one attribute per RDN, PrintableString where the text allows it (as GnuTLS does). */
export function encodeName(dn: DistinguishedName): Name {
  const rdns: RelativeDistinguishedName[] = [];
  const add = (type: string, text: string) => {
    const value = /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(text) ? new AttributeValue({ printableString: text }) : new AttributeValue({ utf8String: text });
    rdns.push(new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value })]));
  };
  if (dn.cn !== undefined) add("2.5.4.3", dn.cn);
  if (dn.uid !== undefined) add("0.9.2342.19200300.100.1.1", dn.uid);
  return new Name(rdns);
}

/** 8 random bytes as a positive, minimally encoded DER INTEGER. */
export function randomSerial(): Uint8Array {
  const serial = new Uint8Array(randomBytes(8));
  serial[0] = serial[0]! & 0x7f || 0x01;
  return serial;
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
