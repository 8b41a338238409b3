import { Certificate, createAccountKeys, createDevice, deviceChain, verifyDeviceChain } from "jami-identity";
import { vectorText } from "./vectors.js";

/** The DER of everything but key-dependent parts: what our certificates must share with jamid's. */
function shape(cert: Certificate) {
  return {
    subjectCn: cert.subject.cn,
    uidIsKeyId: cert.subject.uid === cert.deviceShortId.toString(),
    issuerCn: cert.issuer.cn,
    isCA: cert.isCA,
    skiIsKeyId: cert.subjectKeyIdentifier ? Buffer.from(cert.subjectKeyIdentifier).equals(Buffer.from(cert.keyId)) : undefined,
    algorithm: cert.signatureAlgorithm,
    days: (cert.notAfter.getTime() - cert.notBefore.getTime()) / 86_400_000,
    serialBytes: cert.serialBytes.length,
    modulus: cert.publicKey.keyObject.asymmetricKeyDetails?.modulusLength,
    exponent: cert.publicKey.keyObject.asymmetricKeyDetails?.publicExponent,
    // the DER up to the serial, and the extension block, are fixed by the layout
    extensions: Buffer.from(cert.tbs.subarray(cert.tbs.length - (cert.isCA ? 68 : 0)))
      .toString("hex")
      .replace(/0414[0-9a-f]{40}/, "0414<ski>"),
  };
}

describe("a new account (RSA-4096, as jamid makes it)", () => {
  let made: Awaited<ReturnType<typeof createAccountKeys>>;
  let device: Awaited<ReturnType<typeof createDevice>>;
  beforeAll(async () => {
    made = await createAccountKeys();
    device = await createDevice(made);
  });

  it("has the same certificate layout as jamid's, field by field", () => {
    const [jDevice, jAccount, jCa] = Certificate.chainFromPem(vectorText("alice.device-chain.pem"));
    const ours = deviceChain(device).map(shape);
    const theirs = [jDevice!, jAccount!, jCa!].map(shape);
    // jamid's 13.7 serial can be 8 bytes of a negative number; ours positive, 8 bytes
    expect(ours).toEqual(theirs);
  });

  it("chains device → account → CA and verifies, with ids derived from the keys", () => {
    const verified = verifyDeviceChain(deviceChain(device));
    expect(verified.jamiId.equals(made.accountKey.publicKey.jamiId)).toBe(true);
    expect(made.accountCertificate.subject.uid).toBe(verified.jamiId.toString());
    expect(made.caCertificate!.subject.uid).toBe(made.caKey!.publicKey.jamiId.toString());
    expect(verified.deviceId.toString()).toMatch(/^[0-9a-f]{64}$/);
    expect(Buffer.from(device.certificate.issuerDer)).toEqual(Buffer.from(made.accountCertificate.subjectDer));
  });

  it("makes a different device (key, ids) each time, under the same account", async () => {
    const second = await createDevice(made, { bits: 2048 });
    expect(second.certificate.deviceId.equals(device.certificate.deviceId)).toBe(false);
    expect(verifyDeviceChain(deviceChain(second)).jamiId.equals(made.accountCertificate.jamiId)).toBe(true);
  });
});
