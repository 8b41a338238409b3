/**
 * Conversations with jamid 13.7 (spec jami-swarm.md §9 steps 2–3), jamid in the harness's network namespace: jamid
 * creates a group and adds us; we clone it from jamid's device over `git://` (its history validated strictly:
 * signatures, chains), join, and announce the join with a SIP MESSAGE on `sip`; jamid fetches from our device
 * (our upload-pack server) and reports us as a member; our message reaches jamid; jamid's message reaches us.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { JsonLinesProcess } from "../../../test-support/opendht.js";
import type { JamidHarness, JamidAccount } from "../../../test-support/jamid-harness.js";
import { jamidAndProbe } from "../../../test-support/jamid-with-probe.js";

jest.setTimeout(300_000);
const NETNS = "jamits-conv";
const DHT_PORT = 4462;

describe("conversations with jamid 13.7", () => {
  let harness: JamidHarness;
  let jamid: JamidAccount;
  let us: JsonLinesProcess;
  let me: Record<string, unknown>;

  beforeAll(async () => {
    ({ harness, jamid, us, me } = await jamidAndProbe(NETNS, DHT_PORT));
  });

  afterAll(async () => {
    await us?.endInput();
    await harness?.stop();
  });

  it("jamid's group: we clone, join and post; jamid sees the join and the message; jamid's message reaches us", async () => {
    const { conversationId } = await harness.run<{ conversationId: string }>("start-conversation", "j", jamid.accountId);
    await harness.run("add-member", "j", jamid.accountId, conversationId, me.jamiId as string);

    us.child.stdin.write(JSON.stringify({ id: "c1", cmd: "clone", conversationId, from: jamid.jamiId }) + "\n");
    const cloned = await us.waitFor((e) => e.id === "c1", 120_000);
    expect(cloned.message).toBeUndefined(); // an error's text, shown when the clone fails
    expect(cloned).toMatchObject({
      event: "reply",
      members: expect.arrayContaining([
        { uri: jamid.jamiId, role: "admin" },
        { uri: me.jamiId, role: "invited" },
      ]),
    });

    let since = String(Date.now() / 1000);
    us.child.stdin.write(JSON.stringify({ id: "j1", cmd: "join", conversationId }) + "\n");
    expect(await us.waitFor((e) => e.id === "j1", 120_000)).toMatchObject({ event: "reply", devices: 1 });
    await harness
      .run(
        "wait-event",
        "j",
        "conversationMemberEvent",
        "--arg",
        `1=${conversationId}`,
        "--arg",
        `2=${me.jamiId}`,
        "--arg",
        "3=1",
        "--since",
        since,
        "--timeout",
        "90",
      )
      .catch((e: Error) => {
        const log = readFileSync(join(harness.root, "inst", "j", "jamid.log"), "utf8");
        throw new Error(
          e.message +
            "\n" +
            log
              .split("\n")
              .filter((l) => /onversation|git|Git|MESSAGE|fetch|Malformed|sip/i.test(l))
              .slice(-60)
              .join("\n"),
        );
      });

    since = String(Date.now() / 1000);
    us.child.stdin.write(JSON.stringify({ id: "s1", cmd: "send", conversationId, text: "hello jamid, from jami-ts" }) + "\n");
    expect(await us.waitFor((e) => e.id === "s1", 120_000)).toMatchObject({ event: "reply", devices: 1 });
    const received = await harness.run<{ args: unknown[] }>(
      "wait-event",
      "j",
      "messageReceived",
      "--arg",
      `1=${conversationId}`,
      "--since",
      since,
      "--timeout",
      "90",
    );
    expect(JSON.stringify(received)).toContain("hello jamid, from jami-ts");
    // jamid took our notices as SIP MESSAGEs (not only the fetch it does when a sip channel comes up)
    const log = readFileSync(join(harness.root, "inst", "j", "jamid.log"), "utf8");
    expect(log.split(`Text message received from ${me.jamiId as string}, 1 part(s)`).length - 1).toBeGreaterThanOrEqual(2);
    expect(log).toContain(`fetch commits for peer ${me.jamiId as string} on device ${me.deviceId as string}`);

    await harness.run("send-message", "j", jamid.accountId, conversationId, "hello jami-ts, from jamid");
    const ours = await us.waitFor((e) => e.event === "message" && (e.body as { body?: string })?.body === "hello jami-ts, from jamid", 120_000);
    expect(ours).toMatchObject({ conversationId, author: jamid.jamiId, body: { type: "text/plain", body: "hello jami-ts, from jamid" } });
  });
});
