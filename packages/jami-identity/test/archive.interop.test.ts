import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Certificate,
  createAccount,
  exportAccount,
  importAccount,
  openAccountArchive,
  readArchive,
  RevocationList,
  verifyDeviceChain,
  type LocalAccount,
} from "jami-identity";
import { JamidHarness } from "../../../test-support/jamid-harness.js";

/** jamid (13.7, Debian) and jami-identity read each other's account archives. */
describe("archives across jamid and jami-identity", () => {
  let jamid: JamidHarness;
  let work: string;
  let ours: LocalAccount;
  let oursPlain: LocalAccount;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "jami-identity-interop-"));
    [jamid, ours, oursPlain] = await Promise.all([
      JamidHarness.start({ netns: "jamits-identity", dhtPort: 4222 }),
      createAccount({ dir: join(work, "ours"), password: "our-password", displayName: "Ours" }),
      createAccount({ dir: join(work, "ours-plain"), displayName: "Ours plain" }),
    ]);
  });

  afterAll(async () => {
    await jamid?.stop();
  });

  it.each([
    ["without a password", undefined],
    ["with a password", "our-password"],
  ])("jamid imports our archive %s and registers with our Jami ID, as a new device of our account", async (_, password) => {
    const instance = password ? "pw" : "plain";
    await jamid.startInstance(instance);
    const account = password ? ours : oursPlain;
    const file = join(work, `ours-${instance}.gz`);
    writeFileSync(file, await exportAccount({ dir: account.dir, password }));
    const imported = await jamid.importAccount(instance, file, password);
    expect(imported.registrationStatus).toBe("REGISTERED");
    expect(imported.jamiId).toBe(account.jamiId.toString());
    // jamid made its own device under our account; our verifier accepts its chain
    const chain = Certificate.chainFromPem(readFileSync(imported.deviceCertPath!, "utf8"));
    const verified = verifyDeviceChain(chain, { expectedJamiId: account.jamiId });
    expect(verified.deviceId.toString()).toBe(imported.deviceId);
    expect(verified.deviceId.equals(account.deviceId)).toBe(false);
  });

  it("jamid refuses our encrypted archive with a wrong password (it really decrypts it)", async () => {
    await jamid.startInstance("wrong");
    const file = join(work, "ours-wrong.gz");
    writeFileSync(file, await exportAccount({ dir: ours.dir, password: "our-password" }));
    const result = await jamid.importAccount("wrong", file, "not-the-password");
    expect(result.registrationStatus).toBe("REMOVED");
  });

  it.each([
    ["without a password", undefined],
    ["with a password", "jamid-password"],
  ])("we import a fresh jamid export %s: same Jami ID, our own device, jamid's device chain verifies", async (_, password) => {
    const instance = password ? "theirs-pw" : "theirs";
    await jamid.startInstance(instance);
    const theirs = await jamid.createAccount(instance, { alias: "Theirs", password });
    expect(theirs.registrationStatus).toBe("REGISTERED");
    const file = join(work, `${instance}.gz`);
    await jamid.exportArchive(instance, theirs.accountId, file, password);
    const account = await importAccount({ archive: new Uint8Array(readFileSync(file)), dir: join(work, `imported-${instance}`), password });
    expect(account.jamiId.toString()).toBe(theirs.jamiId);
    expect(account.displayName).toBe("Theirs");
    const jamidChain = Certificate.chainFromPem(readFileSync(theirs.deviceCertPath!, "utf8"));
    expect(verifyDeviceChain(jamidChain, { expectedJamiId: account.jamiId }).deviceId.toString()).toBe(theirs.deviceId);
    const archive = await openAccountArchive({ dir: account.dir, password });
    expect(archive.exportingDeviceChain[0]?.deviceId.toString()).toBe(theirs.deviceId);
  });

  it("we read and honour the CRL jamid signs when it revokes a device, and extend it as jamid would", async () => {
    await Promise.all([jamid.startInstance("rev-a"), jamid.startInstance("rev-b")]);
    const first = await jamid.createAccount("rev-a", { alias: "Revoker" });
    const second = await jamid.importAccount("rev-b", first.archivePath!);
    expect(second.jamiId).toBe(first.jamiId);
    // the first device learns the second through the DHT before it can revoke it
    await waitFor(async () => {
      const info = await jamid.run<{ knownDevices?: Record<string, string> }>("info", "rev-a", first.accountId, "--all");
      return Boolean(info.knownDevices?.[second.deviceId!]);
    }, 30_000);
    const since = String(Date.now() / 1000);
    await jamid.run("call", "rev-a", "revokeDevice", first.accountId, "", second.deviceId!);
    const ended = await jamid.run<{ args: unknown[] }>(
      "wait-event",
      "rev-a",
      "deviceRevocationEnded",
      "--arg",
      `1=${second.deviceId}`,
      "--since",
      since,
      "--timeout",
      "30",
    );
    expect(ended.args[2]).toBe(0); // SUCCESS

    const file = join(work, "revoker.gz");
    await jamid.exportArchive("rev-a", first.accountId, file);
    const archive = await readArchive(new Uint8Array(readFileSync(file)));
    const crl = archive.revocationList!;
    const { accountKey, accountCertificate } = archive.accountKeys;
    expect(crl.isSignedBy(accountCertificate)).toBe(true);
    const revokedChain = Certificate.chainFromPem(readFileSync(second.deviceCertPath!, "utf8"));
    const keptChain = Certificate.chainFromPem(readFileSync(first.deviceCertPath!, "utf8"));
    expect(() => verifyDeviceChain(revokedChain, { revocationLists: [crl] })).toThrow(expect.objectContaining({ code: "CHAIN_REVOKED" }));
    expect(verifyDeviceChain(keptChain, { revocationLists: [crl] }).deviceId.toString()).toBe(first.deviceId);

    // re-signing on top of jamid's list keeps its entry and counts its number up as an 8-byte counter
    const ours = await importAccount({ archive: new Uint8Array(readFileSync(file)), dir: join(work, "revoker-ours"), bits: 2048 });
    const extended = RevocationList.sign({ issuerKey: accountKey, issuerCertificate: accountCertificate, previous: crl, revoke: [ours.device.certificate] });
    expect(extended.entries).toHaveLength(2);
    expect(extended.isRevoked(revokedChain[0]!) && extended.isRevoked(ours.device.certificate)).toBe(true);
    expect(extended.number).toHaveLength(crl.number!.length);
    expect((BigInt("0x" + extended.number!) - BigInt("0x" + crl.number!)) & 0xffffffffffffffffn).toBe(1n);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
