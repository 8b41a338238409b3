/**
 * jamid 13.7 and our DHT layer on the same local DHT (the harness's dhtnode, in its network namespace): we list
 * and verify the device jamid announces, jamid finds the device we announce and sends it a trust request.
 */
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { JsonLinesProcess } from "../../../test-support/opendht.js";
import { JAMIH, JamidHarness, type JamidAccount } from "../../../test-support/jamid-harness.js";

jest.setTimeout(240_000);
const REPO = resolve(__dirname, "../../..");
const NETNS = "jamits-devices";
const DHT_PORT = 4432;

describe("device announcements and trust requests with jamid 13.7", () => {
  let harness: JamidHarness;
  let jamid: JamidAccount;
  let probe: JsonLinesProcess;

  beforeAll(async () => {
    harness = await JamidHarness.start({ netns: NETNS, dhtPort: DHT_PORT });
    await harness.startInstance("j");
    jamid = await harness.createAccount("j", { alias: "jamid" });
    // The probe waits for jamid's announcement on the DHT before it lists jamid's devices.
    probe = new JsonLinesProcess(
      spawn(JAMIH, ["exec", "--", process.execPath, "--import", "tsx", "test-support/jami-device-probe.ts", `127.0.0.1:${DHT_PORT}`, jamid.jamiId!], {
        cwd: REPO,
        env: { ...process.env, JAMIH_ROOT: harness.root, JAMIH_NETNS: NETNS },
      }),
    );
  });

  afterAll(async () => {
    await probe?.endInput();
    await harness?.stop();
  });

  it("we find jamid's device at its Jami ID and verify its chain", async () => {
    const devices = await probe.waitFor((e) => e.event === "devices" || e.event === "error", 60_000);
    expect(devices).toMatchObject({ event: "devices", deviceIds: [jamid.deviceId] });
  });

  it("jamid finds the device we announce and sends it a trust request we decrypt and verify", async () => {
    const ours = await probe.waitFor((e) => e.event === "published" || e.event === "error", 60_000);
    expect(ours.event).toBe("published");
    // published: our certificate and announcement were stored (acknowledged) on the DHT
    await harness.run("add-contact", "j", jamid.accountId, ours.jamiId as string);
    const request = await probe.waitFor((e) => e.event === "trustRequest", 90_000);
    expect(request).toMatchObject({ from: jamid.jamiId, confirm: false, conversationId: expect.stringMatching(/^[0-9a-f]{40}$/) });
  });

  function accountProbe(archive?: string): JsonLinesProcess {
    return new JsonLinesProcess(
      spawn(
        JAMIH,
        ["exec", "--", process.execPath, "--import", "tsx", "test-support/jami-account-probe.ts", `127.0.0.1:${DHT_PORT}`, ...(archive ? [archive] : [])],
        {
          cwd: REPO,
          env: { ...process.env, JAMIH_ROOT: harness.root, JAMIH_NETNS: NETNS },
        },
      ),
    );
  }

  it("our Account's trust request reaches jamid, and jamid's accept is seen by us", async () => {
    const us = accountProbe();
    try {
      const ready = await us.waitFor((e) => e.event === "ready" || e.event === "error", 60_000);
      expect(ready.event).toBe("ready");
      const since = String(Date.now() / 1000);
      us.child.stdin.write(JSON.stringify({ id: "1", cmd: "addContact", jamiId: jamid.jamiId }) + "\n");
      expect(await us.waitFor((e) => e.id === "1", 60_000)).toMatchObject({ event: "reply" });
      const incoming = await harness.run<{ args: unknown[] }>(
        "wait-event",
        "j",
        "incomingTrustRequest",
        "--arg",
        `2=${ready.jamiId}`,
        "--since",
        since,
        "--timeout",
        "60",
      );
      expect(incoming.args[2]).toBe(ready.jamiId);
      await harness.run("accept", "j", jamid.accountId, ready.jamiId as string);
      const confirmation = await us.waitFor((e) => e.event === "trustRequest" && e.confirm === true, 90_000);
      expect(confirmation).toMatchObject({ from: jamid.jamiId });
      expect(await us.waitFor((e) => e.event === "contact" && e.confirmed === true, 10_000)).toMatchObject({ jamiId: jamid.jamiId });
      expect(await us.waitFor((e) => e.event === "presence" && e.online === true, 30_000)).toMatchObject({ jamiId: jamid.jamiId });
      // jamid links to us right after its accept (to clone the conversation) and keeps its side open: our stop
      // still ends everything, including a link it set up while we were stopping, and the process exits by itself.
      expect(await us.endInput()).toBe(0);
    } finally {
      await us.endInput();
    }
  }, 420_000);

  it("jamid's trust request reaches our Account; we accept it and jamid reports the contact confirmed", async () => {
    const us = accountProbe();
    try {
      const ready = await us.waitFor((e) => e.event === "ready" || e.event === "error", 60_000);
      expect(ready.event).toBe("ready");
      // ready: start() returned, so our certificate and announcement were stored (acknowledged) on the DHT
      const since = String(Date.now() / 1000);
      await harness.run("add-contact", "j", jamid.accountId, ready.jamiId as string);
      const request = await us.waitFor((e) => e.event === "trustRequest", 90_000);
      expect(request).toMatchObject({ from: jamid.jamiId, confirm: false });
      us.child.stdin.write(JSON.stringify({ id: "2", cmd: "accept", from: jamid.jamiId }) + "\n");
      expect(await us.waitFor((e) => e.id === "2", 60_000)).toMatchObject({ event: "reply" });
      const added = await harness.run<{ args: unknown[] }>(
        "wait-event",
        "j",
        "contactAdded",
        "--arg",
        `1=${ready.jamiId}`,
        "--since",
        since,
        "--timeout",
        "60",
      );
      expect(added.args[1]).toBe(ready.jamiId);
      // jamid marks the contact confirmed once our confirmation arrived.
      const deadline = Date.now() + 60_000;
      let confirmed = false;
      while (!confirmed && Date.now() < deadline) {
        const list = await harness.run<{ contacts: Record<string, string>[] }>("list", "j", jamid.accountId);
        confirmed = list.contacts.some((c) => c.id === ready.jamiId && c.confirmed === "true");
        if (!confirmed) await new Promise((r) => setTimeout(r, 1000));
      }
      expect(confirmed).toBe(true);
    } finally {
      await us.endInput();
    }
  });

  it("an account we import from jamid's archive appears to jamid as a second device; contacts sync both ways (DeviceSync)", async () => {
    const archive = join(mkdtempSync(join(tmpdir(), "jamid-export-")), "jamid.gz");
    await harness.exportArchive("j", jamid.accountId, archive);
    const jamidContacts = (await harness.run<{ contacts: Record<string, string>[] }>("list", "j", jamid.accountId)).contacts.map((c) => c.id);
    const us = accountProbe(archive);
    try {
      const ready = await us.waitFor((e) => e.event === "ready" || e.event === "error", 60_000);
      expect(ready).toMatchObject({ event: "ready", jamiId: jamid.jamiId });
      expect(ready.deviceId).not.toBe(jamid.deviceId);
      // The archive's contacts are ours from the start.
      expect([...(ready.contacts as string[])].sort()).toEqual([...jamidContacts].sort());
      const deadline = Date.now() + 90_000;
      let known: Record<string, string> = {};
      while (Date.now() < deadline) {
        known = (await harness.run<{ knownDevices: Record<string, string> }>("info", "j", jamid.accountId, "--all")).knownDevices;
        if (Object.keys(known).some((id) => (ready.deviceId as string).startsWith(id) || id === ready.deviceId)) break;
        await new Promise((r) => setTimeout(r, 2000));
      }
      expect(Object.keys(known)).toContainEqual(expect.stringMatching(new RegExp(`^${(ready.deviceId as string).slice(0, 40)}`)));
      // We know jamid's device as one of ours.
      await us.waitFor((e) => e.event === "devices" && (e.deviceIds as string[]).includes(jamid.deviceId!), 60_000);

      // jamid → us: a contact jamid adds reaches our device in jamid's DeviceSync.
      const fromJamid = "4a".repeat(20);
      await harness.run("add-contact", "j", jamid.accountId, fromJamid, "--no-request");
      expect(await us.waitFor((e) => e.event === "contact" && e.jamiId === fromJamid, 60_000)).toMatchObject({ banned: false });

      // us → jamid: a contact we block shows up banned in jamid's contact list.
      const fromUs = "5b".repeat(20);
      us.child.stdin.write(JSON.stringify({ id: "3", cmd: "block", jamiId: fromUs }) + "\n");
      expect(await us.waitFor((e) => e.id === "3", 30_000)).toMatchObject({ event: "reply" });
      const until = Date.now() + 60_000;
      let banned = false;
      while (!banned && Date.now() < until) {
        const list = await harness.run<{ contacts: Record<string, string>[] }>("list", "j", jamid.accountId);
        banned = list.contacts.some((c) => c.id === fromUs && c.banned === "true");
        if (!banned) await new Promise((r) => setTimeout(r, 1000));
      }
      expect(banned).toBe(true);
    } finally {
      await us.endInput();
    }
  });
});
