import { fromBase64 } from "jami-core";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Certificate, PrivateKey, readArchive } from "jami-identity";
import { issueCertificate } from "jami-identity/internal";
import { itWith } from "../../../test-support/tools.js";
import { vectorBytes, vectorText, WHO } from "./vectors.js";

describe("jamid's certificates", () => {
  const [device, account, ca] = Certificate.chainFromPem(vectorText("alice.device-chain.pem"));

  it("read as jamid wrote them: names, CA flags, validity, algorithm", () => {
    expect(ca!.subject).toEqual({ cn: "Jami CA", uid: ca!.jamiId.toString() });
    expect(ca!.isSelfIssued).toBe(true);
    expect(account!.subject).toEqual({ cn: "Jami", uid: account!.jamiId.toString() });
    expect(account!.issuer).toEqual(ca!.subject);
    expect(device!.subject).toEqual({ cn: "Jami device", uid: device!.deviceShortId.toString() });
    expect([ca!.isCA, account!.isCA, device!.isCA]).toEqual([true, true, false]);
    // SKI is the SHA-1 key id, not the RFC 5280 method
    expect(Buffer.from(ca!.subjectKeyIdentifier!).toString("hex")).toBe(ca!.jamiId.toString());
    expect(device!.subjectKeyIdentifier).toBeUndefined();
    expect(account!.signatureAlgorithm).toBe("1.2.840.113549.1.1.12");
    const days = (c: Certificate) => (c.notAfter.getTime() - c.notBefore.getTime()) / 86_400_000;
    expect([days(ca!), days(account!), days(device!)]).toEqual([3650, 3650, 3650]);
    expect(account!.publicKey.keyObject.asymmetricKeyDetails).toMatchObject({ modulusLength: 4096 });
  });

  it("accepts 13.7's negative serials", () => {
    expect(ca!.serialNumber).toBe("-65d4da17130f4ac");
    expect(account!.serialNumber).toBe("3c96e4451dbf8a62");
  });

  it("checks signatures natively and links names byte for byte", () => {
    expect(device!.isSignedBy(account!)).toBe(true);
    expect(device!.isSignedBy(ca!)).toBe(false);
    expect(device!.isIssuedBy(account!)).toBe(true);
    expect(account!.isSignedBy(ca!)).toBe(true);
  });

  it("PEM round-trips to the same bytes jamid wrote", () => {
    expect(device!.toPem() + account!.toPem() + ca!.toPem()).toBe(vectorText("alice.device-chain.pem"));
    expect(Certificate.fromPem(vectorText("bob.account.crt.pem")).jamiId.toString()).toBe(WHO[2].jamiId);
  });

  it.each([
    ["empty", ""],
    ["garbage PEM", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"],
    ["bad base64", "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"],
  ])("refuses %s with CERT_INVALID", (_, pem) => {
    expect(() => Certificate.fromPem(pem)).toThrow(expect.objectContaining({ code: "CERT_INVALID" }));
  });

  it("refuses truncated and padded DER with CERT_INVALID", () => {
    expect(() => Certificate.fromDer(device!.der.subarray(0, 600))).toThrow(expect.objectContaining({ code: "CERT_INVALID" }));
    const padded = new Uint8Array([...device!.der, 0]);
    expect(() => Certificate.fromDer(padded)).toThrow(expect.objectContaining({ code: "CERT_INVALID" }));
  });
});

describe("our certificate builder", () => {
  it.each(["alice", "bob"])("re-creates %s's three certificates byte for byte from the same keys, serials and dates", async (who) => {
    const archive = await readArchive(vectorBytes(`${who}.nopassword.gz`));
    const { caKey, accountKey } = archive.accountKeys;
    const deviceKey = PrivateKey.fromPem(vectorText(`${who}.device.key.pem`));
    const [device, account, ca] = Certificate.chainFromPem(vectorText(`${who}.device-chain.pem`));
    const again = (orig: Certificate, key: PrivateKey, signer: PrivateKey, issuer: Certificate | undefined, isCA: boolean) =>
      issueCertificate({
        subject: orig.subject,
        publicKey: key.publicKey,
        issuerKey: signer,
        issuerCertificate: issuer,
        isCA,
        notBefore: orig.notBefore,
        notAfter: orig.notAfter,
        serial: orig.serialBytes,
      });
    expect(Buffer.from(again(ca!, caKey!, caKey!, undefined, true).der)).toEqual(Buffer.from(ca!.der));
    expect(Buffer.from(again(account!, accountKey, caKey!, ca, true).der)).toEqual(Buffer.from(account!.der));
    expect(Buffer.from(again(device!, deviceKey, accountKey, account, false).der)).toEqual(Buffer.from(device!.der));
  });

  itWith("openssl")("makes certificates OpenSSL verifies as a chain", async () => {
    const archive = await readArchive(vectorBytes("bob.nopassword.gz"));
    const key = await PrivateKey.generate(2048);
    const cert = issueCertificate({
      subject: { cn: "Jami device", uid: key.publicKey.deviceShortId.toString() },
      publicKey: key.publicKey,
      issuerKey: archive.accountKeys.accountKey,
      issuerCertificate: archive.accountKeys.accountCertificate,
      isCA: false,
    });
    const dir = mkdtempSync(join(tmpdir(), "jami-cert-"));
    const ringCert = Buffer.from(fromBase64(archive.fields.ringAccountCert as string)).toString();
    const [acc, root] = Certificate.chainFromPem(ringCert);
    writeFileSync(join(dir, "root.pem"), root!.toPem());
    writeFileSync(join(dir, "acc.pem"), acc!.toPem());
    writeFileSync(join(dir, "dev.pem"), cert.toPem());
    const out = execFileSync("openssl", ["verify", "-CAfile", join(dir, "root.pem"), "-untrusted", join(dir, "acc.pem"), join(dir, "dev.pem")], {
      encoding: "utf8",
    });
    expect(out.trim()).toBe(`${join(dir, "dev.pem")}: OK`);
  });
});
