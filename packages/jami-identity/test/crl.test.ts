import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PrivateKey, RevocationList, certifyDevice, readArchive, type AccountKeys } from "jami-identity";
import { itWith } from "../../../test-support/tools.js";
import { vectorBytes } from "./vectors.js";

describe("device revocation lists", () => {
  let alice: AccountKeys;
  let bob: AccountKeys;
  beforeAll(async () => {
    alice = (await readArchive(vectorBytes("alice.nopassword.gz"))).accountKeys;
    bob = (await readArchive(vectorBytes("bob.nopassword.gz"))).accountKeys;
  });

  itWith("openssl")("are signed by the account key with SHA-512 and expire with the account certificate", async () => {
    const device = certifyDevice(alice, await PrivateKey.generate(2048));
    const crl = RevocationList.sign({ issuerKey: alice.accountKey, issuerCertificate: alice.accountCertificate, revoke: [device.certificate] });
    expect(crl.isSignedBy(alice.accountCertificate)).toBe(true);
    expect(crl.isSignedBy(bob.accountCertificate)).toBe(false);
    expect(crl.isRevoked(device.certificate)).toBe(true);
    expect(crl.nextUpdate).toEqual(alice.accountCertificate.notAfter);
    expect(crl.number).toMatch(/^[0-9a-f]+$/);
    const text = opensslCrl(crl, alice);
    expect(text).toContain("verify OK");
    expect(text).toContain("Signature Algorithm: sha512WithRSAEncryption");
    expect(text).toContain("X509v3 CRL Number");
    expect(text.toUpperCase()).toContain(`SERIAL NUMBER: ${Buffer.from(device.certificate.serialBytes).toString("hex").toUpperCase()}`);
  });

  it("accumulate entries and count up their number when re-signed", async () => {
    const one = certifyDevice(alice, await PrivateKey.generate(2048));
    const two = certifyDevice(alice, await PrivateKey.generate(2048));
    const first = RevocationList.sign({ issuerKey: alice.accountKey, issuerCertificate: alice.accountCertificate, revoke: [one.certificate] });
    const second = RevocationList.sign({
      issuerKey: alice.accountKey,
      issuerCertificate: alice.accountCertificate,
      previous: first,
      revoke: [two.certificate, one.certificate],
    });
    expect(second.entries).toHaveLength(2);
    expect(second.isRevoked(one.certificate) && second.isRevoked(two.certificate)).toBe(true);
    expect(BigInt("0x" + second.number!)).toBe(BigInt("0x" + first.number!) + 1n);
    expect(second.number!.length).toBe(first.number!.length);
    expect(RevocationList.fromPem(second.toPem()).entries).toHaveLength(2);
  });

  it("refuse a signing key that is not the issuer's, and a previous list from another issuer", () => {
    expect(() => RevocationList.sign({ issuerKey: bob.accountKey, issuerCertificate: alice.accountCertificate })).toThrow(
      expect.objectContaining({ code: "KEY_MISMATCH" }),
    );
    const bobs = RevocationList.sign({ issuerKey: bob.accountKey, issuerCertificate: bob.accountCertificate });
    expect(() => RevocationList.sign({ issuerKey: alice.accountKey, issuerCertificate: alice.accountCertificate, previous: bobs })).toThrow(
      expect.objectContaining({ code: "CRL_BAD_SIGNATURE" }),
    );
  });

  it("detect tampering and refuse garbage", () => {
    const crl = RevocationList.sign({ issuerKey: alice.accountKey, issuerCertificate: alice.accountCertificate });
    const der = Uint8Array.from(crl.der);
    der[der.length - 5] = der[der.length - 5]! ^ 1;
    expect(RevocationList.fromDer(der).isSignedBy(alice.accountCertificate)).toBe(false);
    expect(() => RevocationList.fromDer(new Uint8Array([0x30, 0x03, 1, 2, 3]))).toThrow(expect.objectContaining({ code: "CRL_INVALID" }));
    expect(() => RevocationList.fromPem("nothing here")).toThrow(expect.objectContaining({ code: "CRL_INVALID" }));
  });
});

function opensslCrl(crl: RevocationList, account: AccountKeys): string {
  const dir = mkdtempSync(join(tmpdir(), "jami-crl-"));
  writeFileSync(join(dir, "crl.pem"), crl.toPem());
  writeFileSync(join(dir, "issuer.pem"), account.accountCertificate.toPem());
  return (
    execFileSync("openssl", ["crl", "-in", join(dir, "crl.pem"), "-CAfile", join(dir, "issuer.pem"), "-noout", "-text"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }) + execFileSync("sh", ["-c", `openssl crl -in ${dir}/crl.pem -CAfile ${dir}/issuer.pem -noout 2>&1`], { encoding: "utf8" })
  );
}
