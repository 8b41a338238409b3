import type { Certificate } from "./certificate.js";
import { IdentityError } from "./errors.js";
import type { DeviceId, DeviceShortId, JamiId } from "./ids.js";
import type { RevocationList } from "./crl.js";

export interface VerifyChainOptions {
  /** Refuse a chain whose account is not this Jami ID. */
  expectedJamiId?: JamiId | string;
  /** Revocation lists to honour; only those signed by the chain's account are used. */
  revocationLists?: Iterable<RevocationList>;
  now?: Date;
}

/** RSA keys below this size are refused anywhere in a chain (jamid's own keys are 4096 bits). */
export const MIN_RSA_BITS = 2048;
/** Certificate signature algorithms accepted: RSA (PKCS#1 v1.5 and PSS) and ECDSA with SHA-256/384/512. */
const ACCEPTED_SIGNATURES = new Map([
  ["1.2.840.113549.1.1.11", "sha256WithRSAEncryption"],
  ["1.2.840.113549.1.1.12", "sha384WithRSAEncryption"],
  ["1.2.840.113549.1.1.13", "sha512WithRSAEncryption"],
  ["1.2.840.113549.1.1.10", "RSASSA-PSS"],
  ["1.2.840.10045.4.3.2", "ecdsa-with-SHA256"],
  ["1.2.840.10045.4.3.3", "ecdsa-with-SHA384"],
  ["1.2.840.10045.4.3.4", "ecdsa-with-SHA512"],
]);

/** Refuses what jamid's GnuTLS priority refuses: MD5/SHA-1 signatures, RSA below 2048 bits, DSA. */
function checkStrength(cert: Certificate, role: string): void {
  if (!ACCEPTED_SIGNATURES.has(cert.signatureAlgorithm)) {
    throw new IdentityError("CHAIN_WEAK", `${role} certificate is signed with a weak or unknown algorithm (${cert.signatureAlgorithm})`);
  }
  const key = cert.publicKey.keyObject;
  if (key.asymmetricKeyType === "dsa") throw new IdentityError("CHAIN_WEAK", `${role} certificate has a DSA key`);
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits !== undefined && bits < MIN_RSA_BITS)
    throw new IdentityError("CHAIN_WEAK", `${role} certificate has a ${bits}-bit RSA key (at least ${MIN_RSA_BITS})`);
}

export interface VerifiedDevice {
  jamiId: JamiId;
  deviceId: DeviceId;
  deviceShortId: DeviceShortId;
  device: Certificate;
  account: Certificate;
}

/**
 * Checks a device chain (device → account [→ CA]) as jamid 13.7 does before it
 * trusts a peer device: names and signatures link up to a self-signed top that
 * is the only anchor, every issuer is a CA, nothing is outside its validity
 * period, the device is not self-signed and not revoked by its account, and no
 * certificate is weak (MD5/SHA-1 signatures, RSA under 2048 bits). The
 * Jami ID is the device's issuer key id. Throws an `IdentityError` saying why.
 */
export function verifyDeviceChain(chain: readonly Certificate[], options: VerifyChainOptions = {}): VerifiedDevice {
  const [device, account] = chain;
  if (!device) throw new IdentityError("CHAIN_EMPTY", "no certificate in the chain");
  if (!account) throw new IdentityError("CHAIN_UNTRUSTED_ROOT", "device certificate without its account certificate");
  if (device.isSelfIssued && device.isSignedBy(device)) {
    throw new IdentityError("CHAIN_SELF_SIGNED_DEVICE", "the device certificate is self-signed");
  }
  const now = options.now ?? new Date();
  chain.forEach((cert, index) => {
    const role = index === 0 ? "device" : index === 1 ? "account" : "CA";
    if (now < cert.notBefore) {
      throw new IdentityError("CHAIN_NOT_YET_VALID", `${role} certificate is valid only from ${cert.notBefore.toISOString()}`);
    }
    if (now > cert.notAfter) {
      throw new IdentityError("CHAIN_EXPIRED", `${role} certificate expired on ${cert.notAfter.toISOString()}`);
    }
    if (index > 0 && !cert.isCA) throw new IdentityError("CHAIN_NOT_CA", `${role} certificate is not a CA`);
    checkStrength(cert, role);
    const issuer = chain[index + 1] ?? cert;
    if (!cert.isIssuedBy(issuer)) {
      throw new IdentityError(
        issuer === cert ? "CHAIN_UNTRUSTED_ROOT" : "CHAIN_ISSUER_MISMATCH",
        issuer === cert
          ? `the chain ends at a ${role} certificate that is not self-signed`
          : `${role} certificate was not issued by the next certificate of the chain`,
      );
    }
    if (!cert.isSignedBy(issuer)) {
      throw new IdentityError("CHAIN_BAD_SIGNATURE", `${role} certificate signature does not verify`);
    }
  });
  const jamiId = account.jamiId;
  if (options.expectedJamiId !== undefined && !jamiId.equals(options.expectedJamiId.toString())) {
    throw new IdentityError("CHAIN_WRONG_ACCOUNT", `chain belongs to ${jamiId}, expected ${options.expectedJamiId}`);
  }
  for (const crl of options.revocationLists ?? []) {
    if (crl.isSignedBy(account) && crl.isRevoked(device)) {
      throw new IdentityError("CHAIN_REVOKED", `device ${device.deviceId} was revoked by account ${jamiId}`);
    }
  }
  return { jamiId, deviceId: device.deviceId, deviceShortId: device.deviceShortId, device, account };
}
