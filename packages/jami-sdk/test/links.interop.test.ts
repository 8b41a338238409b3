/**
 * Device links with jamid 13.7 (in the harness's network namespace: jamid never uses loopback host candidates):
 * we open a link and a `sip` channel to jamid's device; jamid opens a link to ours (to clone the conversation of
 * a trust request it accepted) and asks for its channel.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { JsonLinesProcess } from "../../../test-support/opendht.js";
import type { JamidHarness, JamidAccount } from "../../../test-support/jamid-harness.js";
import { jamidAndProbe, spawnProbe } from "../../../test-support/jamid-with-probe.js";

jest.setTimeout(240_000);
const NETNS = "jamits-links";
const DHT_PORT = 4452;

describe("device links with jamid 13.7", () => {
  let harness: JamidHarness;
  let jamid: JamidAccount;
  let us: JsonLinesProcess;

  beforeAll(async () => {
    ({ harness, jamid, us } = await jamidAndProbe(NETNS, DHT_PORT));
  });

  afterAll(async () => {
    await us?.endInput();
    await harness?.stop();
  });

  it("we link to jamid's device and it accepts a sip channel (TLS both ways verified)", async () => {
    us.child.stdin.write(JSON.stringify({ id: "c1", cmd: "connect", target: jamid.jamiId, name: "sip" }) + "\n");
    const reply = await us.waitFor((e) => e.id === "c1", 90_000);
    expect(reply).toMatchObject({ event: "reply", name: "sip", devices: [jamid.deviceId] });
    // jamid answers our beacon on the protocol channel.
    us.child.stdin.write(JSON.stringify({ id: "p1", cmd: "ping", deviceId: jamid.deviceId }) + "\n");
    expect(await us.waitFor((e) => e.id === "p1", 10_000)).toMatchObject({ event: "reply", ms: expect.any(Number) });
  });

  it("jamid links to a device of ours it never talked to (after accepting its trust request) and asks for a channel", async () => {
    // A second account of ours: no link exists yet, so the link is jamid's (ICE-controlling, TLS client).
    const other = spawnProbe(harness, NETNS, DHT_PORT);
    try {
      const me = await other.waitFor((e) => e.event === "ready" || e.event === "error", 60_000);
      expect(me.event).toBe("ready");
      // ready: start() returned, so our certificate and announcement were stored (acknowledged) on the DHT
      const since = String(Date.now() / 1000);
      other.child.stdin.write(JSON.stringify({ id: "c2", cmd: "addContact", jamiId: jamid.jamiId }) + "\n");
      expect(await other.waitFor((e) => e.id === "c2", 60_000)).toMatchObject({ event: "reply" });
      await harness.run("wait-event", "j", "incomingTrustRequest", "--arg", `2=${me.jamiId}`, "--since", since, "--timeout", "60");
      await harness.run("accept", "j", jamid.accountId, me.jamiId as string);
      const channel = await other.waitFor((e) => e.event === "channel" && e.deviceId === jamid.deviceId, 90_000);
      expect(channel).toMatchObject({ jamiId: jamid.jamiId, name: expect.stringMatching(/^(git:\/\/|sip|data-transfer:\/\/)/) });
      const log = readFileSync(join(harness.root, "inst", "j", "jamid.log"), "utf8");
      expect(log).toMatch(new RegExp(`Start TLS session - Initied by connectDevice\\(\\)[^\\n]*${(me.deviceId as string).slice(0, 16)}`));
    } finally {
      await other.endInput();
    }
  });
});
