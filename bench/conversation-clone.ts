import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { JamidHarness } from "../test-support/jamid-harness.js";
import { askProbe } from "../test-support/jamid-with-probe.js";
import { inviteJamid, withTwoJamids } from "./two-jamids.js";

const NETNS = "jamits-bench-clone";
const DHT_PORT = 4477;
const MESSAGES = Number(process.env.BENCH_CLONE_MESSAGES ?? 1000);
const CONVERSATIONS = Number(process.env.BENCH_CONVERSATIONS ?? 100);

export interface ConversationCloneBench {
  messages: number;
  /**
   * From accepting an invitation to a group of `messages` text messages until the conversation is ready (cloned,
   * every commit validated, joined): jamid's `conversationReady`, our `ready` event. `jamidToJamid` is the reference.
   */
  cloneMs: { jamidToJamid: number; jamidToOurs: number; oursToJamid: number };
  /**
   * Memory added by `conversations` new groups of one message each, in MB: RSS after a settle (ours after a full GC
   * too, jamid has none); `oursHeapMB` is our JS heap and external memory after a full GC — what is live, the
   * counterpart of jamid's malloc'ed state. `ratio` is `oursHeapMB / jamidMB`: our RSS moves with when V8 collects
   * and returns pages (it went down by 25 MB over one run), not with what the conversations hold.
   */
  memory: { conversations: number; oursMB: number; oursHeapMB: number; jamidMB: number; ratio: number };
}

const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) / 1024;
const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** jamid's `conversationReady` for `conversationId` on `instance`, by its recorder's clock (ms). */
async function jamidReady(harness: JamidHarness, instance: string, conversationId: string, since: string): Promise<number> {
  const ev = await harness.run<{ t: number }>(
    "wait-event",
    instance,
    "conversationReady",
    "--arg",
    `1=${conversationId}`,
    "--since",
    since,
    "--timeout",
    "600",
  );
  return ev.t * 1000;
}

/** Clone of a long conversation both ways and memory per conversation, ours and jamid 13.7 in the same run. */
export async function benchConversationClone(): Promise<ConversationCloneBench | { skipped: string }> {
  // the probe's `memory` command runs a full GC first when it can
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} --expose-gc`.trim();
  return withTwoJamids(NETNS, DHT_PORT, async ({ harness, a, b, probe, ourId }) => {
    // jamid a's group of MESSAGES messages, cloned by jamid b (the reference) and by us
    const { conversationId: theirs } = await harness.run<{ conversationId: string }>("start-conversation", "a", a.accountId);
    for (let i = 0; i < MESSAGES; i++) await harness.run("send-message", "a", a.accountId, theirs, `message ${i}`);
    let since = String(Date.now() / 1000);
    await inviteJamid(harness, a.accountId, theirs, { instance: "b", jamiId: b.jamiId! });
    await harness.run("add-member", "a", a.accountId, theirs, ourId);
    const bAccepted = Date.now();
    await harness.run("accept-conversation", "b", b.accountId, theirs);
    const jamidToJamid = (await jamidReady(harness, "b", theirs, since)) - bAccepted;
    await probe.waitFor((e) => e.event === "conversationRequest" && e.conversationId === theirs, 120_000);
    const arrived = probe.waitFor((e) => e.event === "conversationReady" && e.conversationId === theirs, 600_000);
    const weAccepted = Date.now();
    await askProbe(probe, { cmd: "acceptConversation", conversationId: theirs }, 600_000);
    await arrived;
    const jamidToOurs = Date.now() - weAccepted;

    // our group of MESSAGES messages, cloned by jamid b
    const { conversationId: ours } = await askProbe(probe, { cmd: "createGroup" });
    await askProbe(probe, { cmd: "postMany", conversationId: ours, count: MESSAGES }, 600_000);
    since = String(Date.now() / 1000);
    await askProbe(probe, { cmd: "invite", conversationId: ours, jamiId: b.jamiId });
    await harness.run("wait-event", "b", "conversationRequestReceived", "--arg", `1=${ours as string}`, "--since", since, "--timeout", "120");
    const jamidAccepted = Date.now();
    await harness.run("accept-conversation", "b", b.accountId, ours as string);
    const oursToJamid = (await jamidReady(harness, "b", ours as string, since)) - jamidAccepted;

    // memory: CONVERSATIONS new groups of one message each, on our side and on jamid a
    const heapMb = async (): Promise<{ pid: number; heap: number }> => {
      const m = await askProbe(probe, { cmd: "memory" });
      return { pid: m.pid as number, heap: ((m.heapUsed as number) + (m.external as number)) / 1048576 };
    };
    const jamidPid = Number(readFileSync(join(harness.root, "inst", "a", "jamid.pid"), "utf8").trim());
    await settle(5000);
    const start = await heapMb();
    const ourPid = start.pid;
    const before = { ours: rssMb(ourPid), jamid: rssMb(jamidPid), heap: start.heap };
    for (let i = 0; i < CONVERSATIONS; i++) {
      const { conversationId } = await askProbe(probe, { cmd: "createGroup" });
      await askProbe(probe, { cmd: "post", conversationId, text: `hello ${i}` });
      const { conversationId: id } = await harness.run<{ conversationId: string }>("start-conversation", "a", a.accountId);
      await harness.run("send-message", "a", a.accountId, id, `hello ${i}`);
    }
    await settle(5000);
    const oursHeapMB = +((await heapMb()).heap - before.heap).toFixed(1);
    const oursMB = +(rssMb(ourPid) - before.ours).toFixed(1);
    const jamidMB = +(rssMb(jamidPid) - before.jamid).toFixed(1);
    return {
      messages: MESSAGES,
      cloneMs: { jamidToJamid: Math.round(jamidToJamid), jamidToOurs, oursToJamid: Math.round(oursToJamid) },
      memory: { conversations: CONVERSATIONS, oursMB, oursHeapMB, jamidMB, ratio: +(oursHeapMB / jamidMB).toFixed(2) },
    };
  });
}
