import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Certificate, PrivateKey, RevocationList, certifyDevice, createAccountKeys, readArchive, verifyDeviceChain, type AccountKeys } from "jami-identity";
import { issueCertificate } from "jami-identity/internal";
import { itWith } from "../../../test-support/tools.js";
import { IDS, vectorBytes, vectorText, WHO } from "./vectors.js";

const chainOf = (who: string) => Certificate.chainFromPem(vectorText(`${who}.device-chain.pem`));
const code = (code: string) => expect.objectContaining({ code });

describe("verifyDeviceChain on jamid's chains", () => {
  it.each([...WHO])("$who verifies to its Jami ID", (v) => {
    const result = verifyDeviceChain(chainOf(v.who), { expectedJamiId: v.jamiId });
    expect(result.jamiId.toString()).toBe(v.jamiId);
    expect(result.deviceId.toString()).toBe(v.deviceId);
    expect(result.deviceShortId.toString()).toBe(v.deviceShortId);
  });

  it("refuses a chain for a different Jami ID", () => {
    expect(() => verifyDeviceChain(chainOf("bob"), { expectedJamiId: IDS.alice.jamiId })).toThrow(code("CHAIN_WRONG_ACCOUNT"));
  });

  it("refuses bob's device presented under alice's account", () => {
    const [bobDevice] = chainOf("bob");
    const [, aliceAccount, aliceCa] = chainOf("alice");
    expect(() => verifyDeviceChain([bobDevice!, aliceAccount!, aliceCa!])).toThrow(code("CHAIN_ISSUER_MISMATCH"));
  });

  it("refuses an empty chain and a lone device certificate", () => {
    expect(() => verifyDeviceChain([])).toThrow(code("CHAIN_EMPTY"));
    expect(() => verifyDeviceChain(chainOf("alice").slice(0, 1))).toThrow(code("CHAIN_UNTRUSTED_ROOT"));
  });

  it("refuses a chain that stops before a self-signed root", () => {
    expect(() => verifyDeviceChain(chainOf("alice").slice(0, 2))).toThrow(code("CHAIN_UNTRUSTED_ROOT"));
  });

  it("refuses a certificate outside its validity period", () => {
    const [device] = chainOf("alice");
    expect(() => verifyDeviceChain(chainOf("alice"), { now: new Date(device!.notAfter.getTime() + 1000) })).toThrow(code("CHAIN_EXPIRED"));
    expect(() => verifyDeviceChain(chainOf("alice"), { now: new Date(device!.notBefore.getTime() - 1000) })).toThrow(code("CHAIN_NOT_YET_VALID"));
  });

  it("refuses a forged signature", () => {
    const [device, account, ca] = chainOf("alice");
    const der = Uint8Array.from(device!.der);
    der[der.length - 10] = der[der.length - 10]! ^ 0xff; // inside the signature value
    expect(() => verifyDeviceChain([Certificate.fromDer(der), account!, ca!])).toThrow(code("CHAIN_BAD_SIGNATURE"));
  });
});

describe("verifyDeviceChain on forged chains", () => {
  let alice: AccountKeys;
  beforeAll(async () => {
    alice = (await readArchive(vectorBytes("alice.nopassword.gz"))).accountKeys;
  });

  it("refuses a device certificate made by a key that is not the account's", async () => {
    const forger = await PrivateKey.generate(2048);
    const key = await PrivateKey.generate(2048);
    const forged = issueCertificate({
      subject: { cn: "Jami device", uid: key.publicKey.deviceShortId.toString() },
      publicKey: key.publicKey,
      issuerKey: forger,
      issuerCertificate: alice.accountCertificate, // claims alice's account as issuer
      isCA: false,
    });
    expect(() => verifyDeviceChain([forged, alice.accountCertificate, alice.caCertificate!])).toThrow(code("CHAIN_BAD_SIGNATURE"));
  });

  it("refuses a self-signed device certificate", async () => {
    const key = await PrivateKey.generate(2048);
    const self = issueCertificate({ subject: { cn: "Jami device" }, publicKey: key.publicKey, issuerKey: key, isCA: false });
    expect(() => verifyDeviceChain([self, alice.accountCertificate])).toThrow(code("CHAIN_SELF_SIGNED_DEVICE"));
  });

  it("refuses an issuer that is not a CA", async () => {
    const device = certifyDevice(alice, await PrivateKey.generate(2048));
    const key = await PrivateKey.generate(2048);
    // a certificate "issued" by a device certificate, which is no CA
    const sub = issueCertificate({
      subject: { cn: "Jami device" },
      publicKey: key.publicKey,
      issuerKey: device.key,
      issuerCertificate: device.certificate,
      isCA: false,
    });
    expect(() => verifyDeviceChain([sub, device.certificate, alice.accountCertificate, alice.caCertificate!])).toThrow(code("CHAIN_NOT_CA"));
  });

  it("refuses a device revoked by its account, and only by its own account", async () => {
    const device = certifyDevice(alice, await PrivateKey.generate(2048));
    const chain = [device.certificate, ...device.issuers];
    const crl = RevocationList.sign({ issuerKey: alice.accountKey, issuerCertificate: alice.accountCertificate, revoke: [device.certificate] });
    expect(() => verifyDeviceChain(chain, { revocationLists: [crl] })).toThrow(code("CHAIN_REVOKED"));
    // a CRL from someone else listing the same serial is ignored
    const other = await createAccountKeys({ bits: 2048 });
    const foreign = RevocationList.sign({ issuerKey: other.accountKey, issuerCertificate: other.accountCertificate, revoke: [device.certificate] });
    expect(verifyDeviceChain(chain, { revocationLists: [foreign] }).deviceId.equals(device.certificate.deviceId)).toBe(true);
    // other devices of the account are not affected
    expect(() => verifyDeviceChain(chainOf("alice"), { revocationLists: [crl] })).not.toThrow();
  });

  it("accepts an old-style two-level account (self-signed account certificate)", async () => {
    const accountKey = await PrivateKey.generate(2048);
    const accountCertificate = issueCertificate({
      subject: { cn: "Jami", uid: accountKey.publicKey.jamiId.toString() },
      publicKey: accountKey.publicKey,
      issuerKey: accountKey,
      isCA: true,
    });
    const device = certifyDevice({ accountKey, accountCertificate }, await PrivateKey.generate(2048));
    expect(verifyDeviceChain([device.certificate, accountCertificate]).jamiId.equals(accountKey.publicKey.jamiId)).toBe(true);
  });
});

describe("verifyDeviceChain refuses weak chains (as jamid's GnuTLS priority does)", () => {
  /** A 3-level chain (CA → account CA → device) made by the openssl command line with the given digest and key size. */
  function opensslChain(digest: string, bits: number): Certificate[] {
    const dir = mkdtempSync(join(tmpdir(), "weak-chain-"));
    const run = (...args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    try {
      writeFileSync(join(dir, "ext.cnf"), "[wca]\nbasicConstraints=critical,CA:TRUE\n[wdev]\nbasicConstraints=CA:FALSE\n");
      for (const name of ["ca", "acc", "dev"]) run("genrsa", "-out", `${name}.key`, String(bits));
      run(
        "req",
        "-x509",
        "-new",
        "-key",
        "ca.key",
        `-${digest}`,
        "-subj",
        "/CN=ca",
        "-days",
        "30",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-out",
        "ca.crt",
      );
      for (const [name, issuer, ext] of [
        ["acc", "ca", "wca"],
        ["dev", "acc", "wdev"],
      ] as const) {
        run("req", "-new", "-key", `${name}.key`, "-subj", `/CN=${name}`, "-out", `${name}.csr`);
        run(
          "x509",
          "-req",
          "-in",
          `${name}.csr`,
          "-CA",
          `${issuer}.crt`,
          "-CAkey",
          `${issuer}.key`,
          `-${digest}`,
          "-days",
          "30",
          "-extfile",
          "ext.cnf",
          "-extensions",
          ext,
          "-out",
          `${name}.crt`,
        );
      }
      return ["dev", "acc", "ca"].map((n) => Certificate.fromPem(readFileSync(join(dir, `${n}.crt`), "utf8")));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  itWith("openssl").each([
    ["md5", 512, /weak or unknown algorithm/],
    ["sha1", 1024, /weak or unknown algorithm/],
    ["sha256", 1024, /1024-bit RSA key/],
  ])("a %s / RSA-%d chain fails with CHAIN_WEAK", (digest, bits, why) => {
    const chain = opensslChain(digest, bits);
    // Everything else about it is sound: the signatures link up.
    expect(chain[0]!.isSignedBy(chain[1]!) && chain[1]!.isSignedBy(chain[2]!)).toBe(true);
    expect(() => verifyDeviceChain(chain)).toThrow(expect.objectContaining({ code: "CHAIN_WEAK", message: expect.stringMatching(why) }));
  });

  itWith("openssl")("the same recipe with sha256 and RSA-2048 passes (the refusals above are about strength only)", () => {
    expect(verifyDeviceChain(opensslChain("sha256", 2048)).device.subject).toBeDefined();
  });
});
