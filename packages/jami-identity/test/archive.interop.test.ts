import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Certificate,
  createAccount,
  exportAccount,
  importAccount,
  openAccountArchive,
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
});
