import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { JamidHarness } from "../test-support/jamid-harness.js";
import { askProbe } from "../test-support/jamid-with-probe.js";
import { cpuDuring, rssMb } from "./proc.js";
import { inviteJamid, startJamidGroup, withTwoJamids } from "./two-jamids.js";

const NETNS = "jamits-bench-clone";
const DHT_PORT = 4477;
const MESSAGES = Number(process.env.BENCH_CLONE_MESSAGES ?? 1000);
const CONVERSATIONS = Number(process.env.BENCH_CONVERSATIONS ?? 100);
// made on both sides before counting: what the first groups cost once (V8 compiling our code as it gets hot; jamid's
// allocator growing its arenas) is not what a conversation holds — with 10, compiled code was still half our figure
const WARM_UP_GROUPS = 30;

export interface ConversationCloneBench {
  messages: number;
  /**
   * From accepting an invitation to a group of `messages` text messages until the conversation is ready (cloned,
   * every commit validated, joined): jamid's `conversationReady`, our `ready` event. `jamidToJamid` is the reference.
   */
  cloneMs: { jamidToJamid: number; jamidToOurs: number; oursToJamid: number };
  /**
   * jamid b's own clone of the group, from its log, served by jamid a and by us: `fetchMs` from "Start clone" to its
   * first "Validate commit" (the pack from the serving side, indexed and checked out: the part the server takes part
   * in), `validateMs` from there to "New conversation cloned" (b checking 1,000 commits: the same work whoever served,
   * and most of the clone). Without the link set-up and the join around them.
   */
  jamidClonePhases: { fromJamid: ClonePhases; fromOurs: ClonePhases };
  /**
   * Memory added by `conversations` new groups of one message each (after `WARM_UP_GROUPS` not counted), in MB: RSS
   * after `IDLE_SETTLE_MS` with nothing happening, before and after (ours after a full GC too, jamid has none); `oursHeapMB` is our JS heap and external memory after
   * a full GC — what is live, the counterpart of jamid's malloc'ed state. `ratio` is `oursHeapMB / jamidMB`: our RSS
   * moves with when V8 collects and returns pages (it went down by 25 MB over one run), not with what the
   * conversations hold.
   */
  memory: { conversations: number; oursMB: number; oursHeapMB: number; jamidMB: number; ratio: number };
  /**
   * CPU time (ms, 10 ms steps) over each clone by jamid b, accept → ready: the serving side (jamid a, or us) and jamid
   * b itself — on 2 cores, a server busy meanwhile slows b's validation.
   */
  cpuMsDuringJamidClone: { fromJamid: { server: number; jamidB: number }; fromOurs: { server: number; jamidB: number } };
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/**
 * Before each memory reading: an account's conversations untouched for a whole period of the conversations feature's
 * cache release (30 s by default) let go of their caches within two; both sides wait the same.
 */
const IDLE_SETTLE_MS = 65_000;

/**
 * A person accepts an invitation seconds after it arrives, when the link its notice came on is up. Accepting within
 * milliseconds instead times the link set-up racing the clone (jamid b then opens a second link of its own): that
 * moved the jamid ↔ jamid figure by 0.6 s between runs.
 */
const BEFORE_ACCEPT_MS = 2000;

interface ClonePhases {
  fetchMs: number;
  validateMs: number;
}

/** jamid's own timing of its clone of `conversationId` (its log's timestamps, seconds with ms). */
function jamidClonePhases(harness: JamidHarness, instance: string, conversationId: string): ClonePhases {
  const lines = readFileSync(join(harness.root, "inst", instance, "jamid.log"), "utf8").split("\n");
  const time = (index: number, what: string): number => {
    const t = index >= 0 ? /\[(\d+\.\d+)\|/.exec(lines[index]!)?.[1] : undefined;
    if (!t) throw new Error(`jamid ${instance}'s log has no "${what}" for ${conversationId}`);
    return Number(t) * 1000;
  };
  const start = lines.findIndex((l) => l.includes("Start clone in") && l.includes(conversationId));
  const end = lines.findIndex((l) => l.includes("New conversation cloned in") && l.includes(conversationId));
  // the commits it validates are named by id only: the first after the start is this clone's
  const firstValidated = lines.findIndex((l, i) => i > start && l.includes("Validate commit"));
  return {
    fetchMs: Math.round(time(firstValidated, "Validate commit") - time(start, "Start clone in")),
    validateMs: Math.round(time(end, "New conversation cloned in") - time(firstValidated, "Validate commit")),
  };
}

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
    const theirs = await startJamidGroup(harness, a.accountId);
    for (let i = 0; i < MESSAGES; i++) await harness.run("send-message", "a", a.accountId, theirs, `message ${i}`);
    let since = String(Date.now() / 1000);
    await inviteJamid(harness, a.accountId, theirs, { instance: "b", jamiId: b.jamiId! });
    await harness.run("add-member", "a", a.accountId, theirs, ourId);
    await settle(BEFORE_ACCEPT_MS);
    const pidOf = (instance: string): number => Number(readFileSync(join(harness.root, "inst", instance, "jamid.pid"), "utf8").trim());
    const [jamidPid, jamidBPid] = [pidOf("a"), pidOf("b")];
    const ourPid = (await askProbe(probe, { cmd: "memory" })).pid as number;
    const bAccepted = Date.now();
    const { result: jamidToJamid, cpu: fromJamidCpu } = await cpuDuring([jamidPid, jamidBPid], async () => {
      await harness.run("accept-conversation", "b", b.accountId, theirs);
      return (await jamidReady(harness, "b", theirs, since)) - bAccepted;
    });
    await probe.waitFor((e) => e.event === "conversationRequest" && e.conversationId === theirs, 120_000);
    await settle(BEFORE_ACCEPT_MS);
    const arrived = probe.waitFor((e) => e.event === "conversationReady" && e.conversationId === theirs, 600_000);
    // BENCH_PROFILE_DIR=DIR: our clone's CPU profile (V8's, open it in Chrome's DevTools)
    const profileDir = process.env.BENCH_PROFILE_DIR;
    if (profileDir) await askProbe(probe, { cmd: "cpuProfile", action: "start" });
    const weAccepted = Date.now();
    await askProbe(probe, { cmd: "acceptConversation", conversationId: theirs }, 600_000);
    await arrived;
    const jamidToOurs = Date.now() - weAccepted;
    if (profileDir) await askProbe(probe, { cmd: "cpuProfile", action: "stop", path: join(profileDir, "clone.cpuprofile") });

    // our group of MESSAGES messages, cloned by jamid b
    const { conversationId: ours } = await askProbe(probe, { cmd: "createGroup" });
    await askProbe(probe, { cmd: "postMany", conversationId: ours, count: MESSAGES }, 600_000);
    since = String(Date.now() / 1000);
    await askProbe(probe, { cmd: "invite", conversationId: ours, jamiId: b.jamiId });
    await harness.run("wait-event", "b", "conversationRequestReceived", "--arg", `1=${ours as string}`, "--since", since, "--timeout", "120");
    await settle(BEFORE_ACCEPT_MS);
    const jamidAccepted = Date.now();
    const { result: oursToJamid, cpu: fromOursCpu } = await cpuDuring([ourPid, jamidBPid], async () => {
      await harness.run("accept-conversation", "b", b.accountId, ours as string);
      return (await jamidReady(harness, "b", ours as string, since)) - jamidAccepted;
    });

    // memory: CONVERSATIONS new groups of one message each, on our side and on jamid a
    const heapMb = async (): Promise<{ pid: number; heap: number }> => {
      const m = await askProbe(probe, { cmd: "memory" });
      return { pid: m.pid as number, heap: ((m.heapUsed as number) + (m.external as number)) / 1048576 };
    };
    const newGroups = async (count: number, from = 0): Promise<void> => {
      for (let i = from; i < from + count; i++) {
        const { conversationId } = await askProbe(probe, { cmd: "createGroup" });
        await askProbe(probe, { cmd: "post", conversationId, text: `hello ${i}` });
        const id = await startJamidGroup(harness, a.accountId);
        await harness.run("send-message", "a", a.accountId, id, `hello ${i}`);
      }
    };
    // first a few not counted, on both sides: what the first groups cost once (our JIT-compiled code was a third of
    // the figure; jamid's allocator warms up too) is not what each conversation holds
    await newGroups(WARM_UP_GROUPS);
    await settle(IDLE_SETTLE_MS);
    const start = await heapMb();
    // BENCH_HEAP_DIR=DIR: our heap before and after the groups, to diff (what each conversation keeps)
    const heapDir = process.env.BENCH_HEAP_DIR;
    if (heapDir) await askProbe(probe, { cmd: "heapSnapshot", path: join(heapDir, "before.heapsnapshot") }, 120_000);
    const before = { ours: rssMb(ourPid), jamid: rssMb(jamidPid), heap: start.heap };
    await newGroups(CONVERSATIONS, WARM_UP_GROUPS);
    await settle(IDLE_SETTLE_MS);
    if (heapDir) await askProbe(probe, { cmd: "heapSnapshot", path: join(heapDir, "after.heapsnapshot") }, 120_000);
    const oursHeapMB = +((await heapMb()).heap - before.heap).toFixed(1);
    const oursMB = +(rssMb(ourPid) - before.ours).toFixed(1);
    const jamidMB = +(rssMb(jamidPid) - before.jamid).toFixed(1);
    return {
      messages: MESSAGES,
      cloneMs: { jamidToJamid: Math.round(jamidToJamid), jamidToOurs, oursToJamid: Math.round(oursToJamid) },
      jamidClonePhases: { fromJamid: jamidClonePhases(harness, "b", theirs), fromOurs: jamidClonePhases(harness, "b", ours as string) },
      memory: { conversations: CONVERSATIONS, oursMB, oursHeapMB, jamidMB, ratio: +(oursHeapMB / jamidMB).toFixed(2) },
      cpuMsDuringJamidClone: {
        fromJamid: { server: fromJamidCpu[0]!.ms, jamidB: fromJamidCpu[1]!.ms },
        fromOurs: { server: fromOursCpu[0]!.ms, jamidB: fromOursCpu[1]!.ms },
      },
    };
  });
}
