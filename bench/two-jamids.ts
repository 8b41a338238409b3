import { JamidHarness, type JamidAccount } from "../test-support/jamid-harness.js";
import { askProbe, spawnProbe } from "../test-support/jamid-with-probe.js";
import type { JsonLinesProcess } from "../test-support/opendht.js";

/** Two jamid 13.7 accounts ("a", "b") and a probe account of ours, all seeing each other's devices on the DHT. */
export interface TwoJamids {
  harness: JamidHarness;
  a: JamidAccount;
  b: JamidAccount;
  probe: JsonLinesProcess;
  /** Our probe account's Jami ID. */
  ourId: string;
}

/**
 * Runs `work` against two jamids and our probe in the namespace `netns` (a dhtnode on `dhtPort`), then stops them
 * all; `{ skipped }` when the harness cannot start here (no jamid, not root).
 */
export async function withTwoJamids<T>(netns: string, dhtPort: number, work: (setup: TwoJamids) => Promise<T>): Promise<T | { skipped: string }> {
  let harness: JamidHarness;
  try {
    harness = await JamidHarness.start({ netns, dhtPort });
  } catch (error) {
    return { skipped: (error as Error).message };
  }
  let probe: JsonLinesProcess | undefined;
  try {
    await Promise.all([harness.startInstance("a"), harness.startInstance("b")]);
    const a = await harness.createAccount("a", { alias: "a" });
    const b = await harness.createAccount("b", { alias: "b" });
    probe = spawnProbe(harness, netns, dhtPort);
    const ready = await probe.waitFor((e) => e.event === "ready", 60_000);
    for (const jamid of [a, b]) await askProbe(probe, { cmd: "waitDevices", jamiId: jamid.jamiId }, 70_000);
    return await work({ harness, a, b, probe, ourId: ready.jamiId as string });
  } finally {
    await probe?.endInput();
    await harness.stop();
  }
}

/**
 * jamid a adds `to` (jamid instance `instance`) to its conversation and waits for the invitation there: 13.7 now and
 * then loses one between two jamids, and adding the member again only sends the invitation again (its
 * `addConversationMember` on an invited member), so it is sent again every 30 s, four times at most.
 */
export async function inviteJamid(
  harness: JamidHarness,
  fromAccountId: string,
  conversationId: string,
  to: { instance: string; jamiId: string },
): Promise<void> {
  const since = String(Date.now() / 1000);
  for (let attempt = 1; ; attempt++) {
    await harness.run("add-member", "a", fromAccountId, conversationId, to.jamiId);
    try {
      await harness.run("wait-event", to.instance, "conversationRequestReceived", "--arg", `1=${conversationId}`, "--since", since, "--timeout", "30");
      return;
    } catch (error) {
      if (attempt >= 4) throw error;
    }
  }
}

/**
 * jamid a starts a group: 13.7 answers "" for a second group started by one device within the same second (both
 * initial commits are one commit: "Couldn't create repository" in its log), so it is asked again a second later.
 */
export async function startJamidGroup(harness: JamidHarness, accountId: string): Promise<string> {
  for (let tries = 0; tries < 3; tries++) {
    if (tries) await new Promise((r) => setTimeout(r, 1100));
    const { conversationId } = await harness.run<{ conversationId: string }>("start-conversation", "a", accountId);
    if (conversationId) return conversationId;
  }
  throw new Error("jamid a started no conversation");
}
