import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { JamidHarness } from "../test-support/jamid-harness.js";
import { askProbe } from "../test-support/jamid-with-probe.js";
import { inviteJamid, startJamidGroup, withTwoJamids } from "./two-jamids.js";
import { summarize, type Summary } from "./stats.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const NETNS = "jamits-bench-conv";
const DHT_PORT = 4476;

export interface ConversationsBench {
  /**
   * From the commit of a message until the other side has it (our `message` event, by the probe's clock when it
   * fired; jamid's `messageReceived`, by its recorder's timestamp), with every group joined and linked first. Our
   * commit is when `send` resolves; jamid's, its own `messageReceived` for the message (13.7 emits it for its own
   * commits). What is timed is the notice, the fetch, validation and merge on the receiving side. ours → jamid: our
   * group of three (jamid a and b). jamid → ours and jamid → jamid: two groups of jamid a's, one with us, one with b,
   * posted to one after the other — so that a serves one fetch at a time and neither receiver waits behind the
   * other in a's notification order.
   */
  delivery: { oursToJamid: Summary; jamidToOurs: Summary; jamidToJamid: Summary };
}

/** When jamid `instance` emitted `messageReceived` for a text message `body` (its recorder's clock, ms). */
async function jamidReceived(harness: JamidHarness, instance: string, body: string, timeoutMs = 60_000): Promise<number> {
  const file = join(harness.root, "inst", instance, "events.jsonl");
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (!line.includes("messageReceived") || !line.includes(body)) continue;
      const ev = JSON.parse(line) as { t: number; signal: string; args: [string, string, Record<string, string>] };
      if (ev.signal === "messageReceived" && ev.args[2]?.body === body) return ev.t * 1000;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`jamid ${instance} did not receive "${body}" in time`);
}

/** Message delivery in a group, ours and jamid 13.7 side by side in the same run. */
export async function benchConversations(): Promise<ConversationsBench | { skipped: string }> {
  return withTwoJamids(NETNS, DHT_PORT, async ({ harness, a, b, probe, ourId }) => {
    const conversationId = (await askProbe(probe, { cmd: "createGroup" })).conversationId as string;
    const since = String(Date.now() / 1000);
    for (const [instance, jamid] of [
      ["a", a],
      ["b", b],
    ] as const) {
      await askProbe(probe, { cmd: "invite", conversationId, jamiId: jamid.jamiId });
      await harness.run("wait-event", instance, "conversationRequestReceived", "--arg", `1=${conversationId}`, "--since", since, "--timeout", "90");
      await harness.run("accept-conversation", instance, jamid.accountId, conversationId);
      await probe.waitFor((e) => e.event === "member" && e.conversationId === conversationId && e.jamiId === jamid.jamiId && e.action === "join", 90_000);
    }
    // warm-up: every pair has its link and sip channel before the timed runs
    await askProbe(probe, { cmd: "post", conversationId, text: "warm-up ours" });
    await jamidReceived(harness, "a", "warm-up ours");
    await harness.run("send-message", "a", a.accountId, conversationId, "warm-up a");
    await Promise.all([
      jamidReceived(harness, "b", "warm-up a"),
      probe.waitFor((e) => e.event === "message" && (e.body as { body?: string }).body === "warm-up a", 60_000),
    ]);

    // jamid a's two groups of two: with us, and with b
    const pairWith = async (uri: string): Promise<string> => {
      const id = await startJamidGroup(harness, a.accountId);
      if (uri === b.jamiId) await inviteJamid(harness, a.accountId, id, { instance: "b", jamiId: uri });
      else await harness.run("add-member", "a", a.accountId, id, uri);
      return id;
    };
    const withUs = await pairWith(ourId);
    await probe.waitFor((e) => e.event === "conversationRequest" && e.conversationId === withUs, 120_000);
    await askProbe(probe, { cmd: "acceptConversation", conversationId: withUs }, 180_000);
    const asked = String(Date.now() / 1000);
    const withB = await pairWith(b.jamiId!);
    await harness.run("accept-conversation", "b", b.accountId, withB);
    await harness.run("wait-event", "b", "conversationReady", "--arg", `1=${withB}`, "--since", asked, "--timeout", "120");
    for (const [id, warm] of [
      [withUs, "warm-up with us"],
      [withB, "warm-up with b"],
    ] as const) {
      await harness.run("send-message", "a", a.accountId, id, warm);
      await (id === withUs
        ? probe.waitFor((e) => e.event === "message" && (e.body as { body?: string }).body === warm, 60_000)
        : jamidReceived(harness, "b", warm));
    }

    const oursToJamid: number[] = [];
    const jamidToOurs: number[] = [];
    const jamidToJamid: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const ours = `ours ${i} ${Date.now()}`;
      await askProbe(probe, { cmd: "post", conversationId, text: ours });
      const committed = Date.now(); // `send` resolves once committed, as jamid's own messageReceived marks its commit
      oursToJamid.push((await jamidReceived(harness, "a", ours)) - committed);

      const toUs = `a to us ${i} ${Date.now()}`;
      const arrived = probe.waitFor((e) => e.event === "message" && (e.body as { body?: string }).body === toUs, 60_000);
      await harness.run("send-message", "a", a.accountId, withUs, toUs);
      const [sentToUs, atUs] = await Promise.all([jamidReceived(harness, "a", toUs), arrived]);
      jamidToOurs.push((atUs.t as number) - sentToUs);

      const toB = `a to b ${i} ${Date.now()}`;
      await harness.run("send-message", "a", a.accountId, withB, toB);
      const [sentToB, atB] = await Promise.all([jamidReceived(harness, "a", toB), jamidReceived(harness, "b", toB)]);
      jamidToJamid.push(atB - sentToB);
    }
    return { delivery: { oursToJamid: summarize(oursToJamid), jamidToOurs: summarize(jamidToOurs), jamidToJamid: summarize(jamidToJamid) } };
  });
}
