/**
 * jamid 13.7 and our DHT layer on the same local DHT (the harness's dhtnode, in its network namespace): we list
 * and verify the device jamid announces, jamid finds the device we announce and sends it a trust request.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
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
    // Give jamid time to publish its certificate and announcement.
    await new Promise((r) => setTimeout(r, 5000));
    probe = new JsonLinesProcess(
      spawn(JAMIH, ["exec", "--", process.execPath, "--import", "tsx", "test-support/jami-device-probe.ts", `127.0.0.1:${DHT_PORT}`, jamid.jamiId!], {
        cwd: REPO,
        env: { ...process.env, JAMIH_ROOT: harness.root, JAMIH_NETNS: NETNS },
      }),
    );
  });

  afterAll(async () => {
    probe?.child.stdin.end();
    await probe?.exited;
    await harness?.stop();
  });

  it("we find jamid's device at its Jami ID and verify its chain", async () => {
    const devices = await probe.waitFor((e) => e.event === "devices" || e.event === "error", 60_000);
    expect(devices).toMatchObject({ event: "devices", deviceIds: [jamid.deviceId] });
  });

  it("jamid finds the device we announce and sends it a trust request we decrypt and verify", async () => {
    const ours = await probe.waitFor((e) => e.event === "published" || e.event === "error", 60_000);
    expect(ours.event).toBe("published");
    await new Promise((r) => setTimeout(r, 2000));
    await harness.run("add-contact", "j", jamid.accountId, ours.jamiId as string);
    const request = await probe.waitFor((e) => e.event === "trustRequest", 90_000);
    expect(request).toMatchObject({ from: jamid.jamiId, confirm: false, conversationId: expect.stringMatching(/^[0-9a-f]{40}$/) });
  });
});
