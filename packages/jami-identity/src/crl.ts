import { randomBytes } from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier, CertificateList, Extension, id_ce_cRLNumber, Name, RevokedCertificate, TBSCertList, Time, Version } from "@peculiar/asn1-x509";
import { asBytes, bytesEqual, fromHex, toHex } from "jami-core";
import type { Certificate } from "./certificate.js";
import { readChildren, readTlv, slice } from "./der.js";
import { IdentityError } from "./errors.js";
import type { HashName, PrivateKey } from "./keys.js";
import { decodePem, encodePem } from "./pem.js";

const RSA_SIGNATURE_HASH: Record<string, HashName> = {
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
};
const OID_SHA512_WITH_RSA = "1.2.840.113549.1.1.13";

export interface RevokedEntry {
  /** DER INTEGER content of the revoked certificate's serial. */
  serial: Uint8Array;
  revokedAt: Date;
}

/** An X.509 CRL as the account key signs it to revoke devices (jamid `revokeDevice`). */
export class RevocationList {
  readonly der: Uint8Array;
  readonly issuerDer: Uint8Array;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  readonly entries: readonly RevokedEntry[];
  /** The CRL number, hex of its DER INTEGER content; bumped at each re-signing. */
  readonly number: string | undefined;
  private readonly tbs: Uint8Array;
  private readonly signature: Uint8Array;
  private readonly hash: HashName | undefined;

  private constructor(der: Uint8Array) {
    this.der = Uint8Array.from(der);
    try {
      const asn = AsnConvert.parse(this.der, CertificateList);
      const top = readTlv(this.der, 0);
      if (top.end !== this.der.byteLength) throw new Error("trailing bytes");
      const [tbsTlv] = readChildren(this.der, top);
      this.tbs = slice(this.der, tbsTlv!);
      const fields = readChildren(this.der, tbsTlv!);
      const base = fields[0]?.tag === 0x02 ? 1 : 0;
      this.issuerDer = Uint8Array.from(slice(this.der, fields[base + 1]!));
      const tbs = asn.tbsCertList;
      this.thisUpdate = tbs.thisUpdate.getTime();
      this.nextUpdate = tbs.nextUpdate?.getTime();
      this.entries = (tbs.revokedCertificates ?? []).map((r) => ({
        serial: asBytes(r.userCertificate),
        revokedAt: r.revocationDate.getTime(),
      }));
      const numberExt = tbs.crlExtensions?.find((e) => e.extnID === id_ce_cRLNumber);
      this.number = numberExt ? toHex(integerContent(asBytes(numberExt.extnValue.buffer))) : undefined;
      this.signature = asBytes(asn.signature);
      this.hash = RSA_SIGNATURE_HASH[asn.signatureAlgorithm.algorithm];
    } catch (cause) {
      throw new IdentityError("CRL_INVALID", `not a readable X.509 CRL: ${(cause as Error).message}`, { cause });
    }
  }

  static fromDer(der: Uint8Array): RevocationList {
    return new RevocationList(der);
  }

  static fromPem(pem: string): RevocationList {
    const block = decodePem(pem).find((b) => b.label === "X509 CRL");
    if (!block) throw new IdentityError("CRL_INVALID", "no X509 CRL block in PEM text");
    return new RevocationList(block.der);
  }

  toPem(): string {
    return encodePem("X509 CRL", this.der);
  }

  /** Signed by this issuer's key, and names it as issuer. */
  isSignedBy(issuer: Certificate): boolean {
    return this.hash !== undefined && bytesEqual(this.issuerDer, issuer.subjectDer) && issuer.publicKey.verify(this.tbs, this.signature, this.hash);
  }

  isRevoked(certificate: Certificate): boolean {
    return bytesEqual(certificate.issuerDer, this.issuerDer) && this.entries.some((e) => bytesEqual(e.serial, certificate.serialBytes));
  }

  /**
   * A new list, signed by `issuerKey`, holding this list's entries plus `revoke`
   * (already listed ones are kept once). OpenDHT's rules: thisUpdate now,
   * nextUpdate the issuer certificate's expiry, CRL number incremented.
   */
  static sign(options: {
    issuerKey: PrivateKey;
    issuerCertificate: Certificate;
    previous?: RevocationList;
    revoke?: readonly Certificate[];
    now?: Date;
  }): RevocationList {
    const { issuerKey, issuerCertificate, previous } = options;
    if (!issuerKey.publicKey.equals(issuerCertificate.publicKey)) {
      throw new IdentityError("KEY_MISMATCH", "the CRL signing key is not the issuer certificate's key");
    }
    if (previous && !previous.isSignedBy(issuerCertificate)) {
      throw new IdentityError("CRL_BAD_SIGNATURE", "the previous CRL is not signed by this issuer");
    }
    const now = new Date(Math.floor((options.now ?? new Date()).getTime() / 1000) * 1000);
    const entries = [...(previous?.entries ?? [])];
    for (const cert of options.revoke ?? []) {
      if (!entries.some((e) => bytesEqual(e.serial, cert.serialBytes))) {
        entries.push({ serial: cert.serialBytes, revokedAt: now });
      }
    }
    const signature = new AlgorithmIdentifier({ algorithm: OID_SHA512_WITH_RSA, parameters: null });
    const tbs = new TBSCertList({
      version: Version.v2,
      signature,
      issuer: AsnConvert.parse(issuerCertificate.subjectDer, Name),
      thisUpdate: new Time(now),
      nextUpdate: new Time(issuerCertificate.notAfter),
      revokedCertificates: entries.length
        ? entries.map((e) => new RevokedCertificate({ userCertificate: buf(e.serial), revocationDate: new Time(e.revokedAt) }))
        : undefined,
      crlExtensions: [
        new Extension({
          extnID: id_ce_cRLNumber,
          critical: false,
          extnValue: new OctetString(buf(derInteger(nextNumber(previous?.number)))),
        }),
      ],
    });
    const tbsDer = asBytes(AsnConvert.serialize(tbs));
    const list = new CertificateList({
      tbsCertList: tbs,
      signatureAlgorithm: signature,
      signature: buf(issuerKey.sign(tbsDer, "sha512")),
    });
    return new RevocationList(asBytes(AsnConvert.serialize(list)));
  }
}

/**
 * OpenDHT's rule: a fresh list starts at 8 random bytes; re-signing adds one
 * to the same bytes read as an unsigned counter (so 13.7's "negative" numbers
 * count up as jamid counts them).
 */
function nextNumber(previousHex: string | undefined): Uint8Array {
  if (previousHex === undefined) {
    const fresh = new Uint8Array(randomBytes(8));
    fresh[0] = fresh[0]! & 0x7f || 0x01;
    return fresh;
  }
  const bytes = fromHex(previousHex);
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = (bytes[i]! + 1) & 0xff;
    if (bytes[i] !== 0) break;
  }
  // an all-0xff counter wraps to zeros: keep the INTEGER minimally encoded
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0 && bytes[start + 1]! < 0x80) start++;
  return bytes.subarray(start);
}

function derInteger(content: Uint8Array): Uint8Array {
  return Uint8Array.from([0x02, content.length, ...content]);
}

function integerContent(der: Uint8Array): Uint8Array {
  const tlv = readTlv(der, 0);
  if (tlv.tag !== 0x02) throw new Error("CRL number is not an INTEGER");
  return der.subarray(tlv.contentStart, tlv.end);
}

function buf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
