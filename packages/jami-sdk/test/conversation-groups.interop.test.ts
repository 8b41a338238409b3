/**
 * Groups with two jamid 13.7 members (spec jami-swarm.md §9): our group with jamid "j" and jamid "m" as members —
 * everyone receives everyone's messages; concurrent posts from the three end up in every copy (`git-log` on both
 * jamids, our events); a jamid stopped while we post catches up when it starts again.
 */
import type { JsonLinesProcess } from "../../../test-support/opendht.js";
import type { JamidHarness, JamidAccount } from "../../../test-support/jamid-harness.js";
import { askProbe, jamidAndProbe } from "../../../test-support/jamid-with-probe.js";
import { waitFor } from "../../../test-support/events.js";

jest.setTimeout(400_000);
const NETNS = "jamits-groups";
const DHT_PORT = 4472;

/** The commit ids in a jamid's copy (`git log` of its repository). */
async function jamidCommits(harness: JamidHarness, instance: string, account: JamidAccount, conversationId: string): Promise<string[]> {
  const log = JSON.stringify(await harness.run("git-log", instance, account.accountId, conversationId));
  return [...new Set(log.match(/\b[0-9a-f]{40}\b/g) ?? [])];
}

describe("groups with two jamid 13.7 members", () => {
  let harness: JamidHarness;
  let j: JamidAccount;
  let m: JamidAccount;
  let us: JsonLinesProcess;
  let conversationId: string;

  beforeAll(async () => {
    ({ harness, jamid: j, us } = await jamidAndProbe(NETNS, DHT_PORT));
    await harness.startInstance("m");
    m = await harness.createAccount("m", { alias: "second jamid" });
    await askProbe(us, { cmd: "waitDevices", jamiId: m.jamiId }, 70_000);
  });

  afterAll(async () => {
    await us?.endInput();
    await harness?.stop();
  });

  /** Until jamid `instance`'s history of the conversation holds a message with `text` (a bound on a failure). */
  async function jamidHas(instance: string, accountId: string, text: string): Promise<void> {
    await waitFor(async () => JSON.stringify(await harness.run("list-messages", instance, accountId, conversationId)).includes(JSON.stringify(text)), {
      timeoutMs: 90_000,
      what: `${JSON.stringify(text)} in ${instance}'s history`,
    });
  }

  it("our group with two jamid members: both accept, and every message reaches the two others", async () => {
    conversationId = (await askProbe(us, { cmd: "createGroup" })).conversationId as string;
    const since = String(Date.now() / 1000);
    for (const jamid of [j, m]) await askProbe(us, { cmd: "invite", conversationId, jamiId: jamid.jamiId });
    for (const [instance, jamid] of [
      ["j", j],
      ["m", m],
    ] as const) {
      await harness.run("wait-event", instance, "conversationRequestReceived", "--arg", `1=${conversationId}`, "--since", since, "--timeout", "90");
      await harness.run("accept-conversation", instance, jamid.accountId, conversationId);
      await harness.run("wait-event", instance, "conversationReady", "--arg", `1=${conversationId}`, "--since", since, "--timeout", "90");
      await us.waitFor((e) => e.event === "member" && e.conversationId === conversationId && e.jamiId === jamid.jamiId && e.action === "join", 90_000);
    }

    // (the first messageReceived after posting may be another member's join: what counts is the text arriving)
    await askProbe(us, { cmd: "post", conversationId, text: "hello both" });
    for (const [instance, jamid] of [
      ["j", j],
      ["m", m],
    ] as const)
      await jamidHas(instance, jamid.accountId, "hello both");

    // j's message reaches m (jamid to jamid through the group) and us
    await harness.run("send-message", "j", j.accountId, conversationId, "from j to everyone");
    await us.waitFor((e) => e.event === "message" && (e.body as { body?: string })?.body === "from j to everyone", 90_000);
    await jamidHas("m", m.accountId, "from j to everyone");
  });

  it("concurrent posts from the three converge: every copy holds all three (merges as jamid makes them)", async () => {
    const texts = ["concurrent: ours", "concurrent: j", "concurrent: m"];
    await Promise.all([
      askProbe(us, { cmd: "post", conversationId, text: texts[0] }),
      harness.run("send-message", "j", j.accountId, conversationId, texts[1]!),
      harness.run("send-message", "m", m.accountId, conversationId, texts[2]!),
    ]);
    for (const text of texts.slice(1)) await us.waitFor((e) => e.event === "message" && (e.body as { body?: string })?.body === text, 90_000);
    for (const instance of ["j", "m"]) {
      const account = instance === "j" ? j : m;
      await waitFor(
        async () => {
          const log = JSON.stringify(await harness.run("git-log", instance, account.accountId, conversationId));
          return texts.every((t) => log.includes(t));
        },
        { timeoutMs: 120_000, what: `all three posts in ${instance}'s copy` },
      );
    }
  });

  it("a jamid stopped while we post catches up when it starts again", async () => {
    await harness.run("stop", "m");
    const { commit } = await askProbe(us, { cmd: "post", conversationId, text: "while m was away" });
    const since = String(Date.now() / 1000);
    await harness.startInstance("m");
    await harness.run("wait-event", "m", "messageReceived", "--arg", `1=${conversationId}`, "--since", since, "--timeout", "180");
    await waitFor(async () => (await jamidCommits(harness, "m", m, conversationId)).includes(commit as string), {
      timeoutMs: 60_000,
      what: "our post in m's copy",
    });
  });
});
