import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { JAMIH, JamidHarness, type JamidAccount } from "../test-support/jamid-harness.js";
import { JsonLinesProcess, type PeerEvent } from "../test-support/opendht.js";
import { summarize, type Summary } from "./stats.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const NETNS = "jamits-bench-account";
const DHT_PORT = 4446;

export interface AccountBench {
  /** A new device (imported from a jamid archive, device key made) until a peer sees its announcement. */
  importToOnline: { ours: Summary; jamid: Summary };
  /** `start()` of an existing account until a peer sees it (jamid re-announces identical bytes, so no jamid figure). */
  oursStartToOnline: Summary;
  /** A fresh device link from our account to jamid's device, `connect()` until jamid accepts a `sip` channel. */
  linkOursToJamid: Summary;
  /**
   * A fresh link between two jamids (the one that accepted a trust request links to the other to clone the
   * conversation): from its "Request connection" log line (just before its request put) to "Connection … is ready"
   * (TLS up; the channel request goes out on the same tick).
   */
  linkJamidToJamid: Summary;
  /** Trust request: the sender's call until the receiver's event. */
  trustRequest: {
    oursToOurs: Summary;
    oursToJamid: Summary;
    jamidToOurs: Summary & { declinedConversationResent: number };
    jamidToJamid: Summary & { declinedConversationResent: number };
  };
}

/**
 * Presence and trust requests on one local DHT (the harness's dhtnode in its namespace): our Account next to jamid
 * 13.7, same run. jamid's start times come from its D-Bus signals (`accountsChanged`, `contactAdded`).
 */
export async function benchAccount(): Promise<AccountBench | { skipped: string }> {
  let harness: JamidHarness;
  try {
    harness = await JamidHarness.start({ netns: NETNS, dhtPort: DHT_PORT });
  } catch (error) {
    return { skipped: (error as Error).message };
  }
  let probe: JsonLinesProcess | undefined;
  try {
    await Promise.all([harness.startInstance("a"), harness.startInstance("b")]);
    const [jamidA, jamidB, source] = [
      await harness.createAccount("a", { alias: "a" }),
      await harness.createAccount("b", { alias: "b" }),
      await harness.createAccount("a", { alias: "imported" }),
    ];
    const archive = join(mkdtempSync(join(tmpdir(), "bench-archive-")), "source.gz");
    await harness.exportArchive("a", source.accountId, archive);
    probe = new JsonLinesProcess(
      spawn(
        JAMIH,
        [
          "exec",
          "--",
          "sh",
          "-c",
          `exec "${process.execPath}" --import tsx bench/account-probe.ts 127.0.0.1:${DHT_PORT} 2>>"${process.env.BENCH_PROBE_LOG ?? "/dev/null"}"`,
        ],
        {
          cwd: resolve(__dirname, ".."),
          env: { ...process.env, JAMIH_ROOT: harness.root, JAMIH_NETNS: NETNS },
        },
      ),
    );
    const ready = await probe.waitFor((e) => e.event === "ready" || e.event === "error", 120_000);
    if (ready.event === "error") throw new Error(`probe: ${String(ready.message)}`);
    const ours = { sender: ready.sender as string, receiver: ready.receiver as string };
    const ask = command(probe);
    await ask({ cmd: "watch", jamiId: source.jamiId! });

    const oursStart: number[] = [];
    for (let i = 0; i < RUNS; i++) oursStart.push((await ask({ cmd: "startOnline" })).ms as number);
    const oursImport: number[] = [];
    for (let i = 0; i < RUNS; i++) oursImport.push((await ask({ cmd: "importOnline", archive })).ms as number);
    const jamidImport: number[] = [];
    if (process.env.BENCH_VERBOSE) console.error(probe.events.filter((e) => e.ms !== undefined));
    for (let i = 0; i < RUNS; i++) jamidImport.push(await jamidImportToOnline(harness, probe, archive, source, `import${i}`));

    const trust = { oursToOurs: [] as number[], oursToJamid: [] as number[], jamidToOurs: [] as number[], jamidToJamid: [] as number[] };
    // After removeContact + addContact, 13.7 now and then reuses the conversation the receiver declined; receivers
    // (jamid and ours alike) ignore a declined conversation sent again. Such runs are counted, not timed, as are
    // requests that never arrive.
    const timedOut = { jamidToOurs: 0, jamidToJamid: 0 };
    const reused = { jamidToOurs: 0, jamidToJamid: 0 };
    const declined = { jamidToOurs: new Set<string>(), jamidToJamid: new Set<string>() };
    for (let i = 0; i < RUNS; i++) {
      const { t0 } = await ask({ cmd: "send", to: ours.receiver });
      trust.oursToOurs.push(
        ((await probe.waitFor((e) => e.event === "trustRequest" && e.from === ours.sender && (e.t as number) >= (t0 as number), 60_000)).t as number) -
          (t0 as number),
      );
      await ask({ cmd: "decline", from: ours.sender });

      const sent = await ask({ cmd: "send", to: jamidB.jamiId! });
      trust.oursToJamid.push((await jamidEvent(harness, "b", "incomingTrustRequest", ours.sender, (sent.t0 as number) / 1000)) * 1000 - (sent.t0 as number));
      await harness.run("discard", "b", jamidB.accountId, ours.sender);

      // jamid re-sends an existing contact's conversation, which a receiver that declined it ignores: a new one each run.
      await harness.run("call", "a", "removeContact", jamidA.accountId, ours.receiver, "false");
      const toOurs = Date.now() / 1000;
      const toOursConversation = (await harness.run<{ conversationId: string }>("add-contact", "a", jamidA.accountId, ours.receiver)).conversationId;
      const sentAt = await jamidEvent(harness, "a", "contactAdded", ours.receiver, toOurs, 1);
      if (declined.jamidToOurs.has(toOursConversation)) reused.jamidToOurs++;
      else {
        try {
          const got = await probe.waitFor((e) => e.event === "trustRequest" && e.from === jamidA.jamiId && (e.t as number) >= toOurs * 1000, 30_000);
          trust.jamidToOurs.push((got.t as number) - sentAt * 1000);
          await ask({ cmd: "decline", from: jamidA.jamiId! });
          declined.jamidToOurs.add(toOursConversation);
        } catch {
          timedOut.jamidToOurs++;
        }
      }

      await harness.run("call", "a", "removeContact", jamidA.accountId, jamidB.jamiId!, "false");
      const toJamid = Date.now() / 1000;
      const toJamidConversation = (await harness.run<{ conversationId: string }>("add-contact", "a", jamidA.accountId, jamidB.jamiId!)).conversationId;
      const jamidSentAt = await jamidEvent(harness, "a", "contactAdded", jamidB.jamiId!, toJamid, 1);
      if (declined.jamidToJamid.has(toJamidConversation)) reused.jamidToJamid++;
      else {
        try {
          trust.jamidToJamid.push(((await jamidEvent(harness, "b", "incomingTrustRequest", jamidA.jamiId!, toJamid, 2, 30)) - jamidSentAt) * 1000);
          await harness.run("discard", "b", jamidB.accountId, jamidA.jamiId!);
          declined.jamidToJamid.add(toJamidConversation);
        } catch {
          timedOut.jamidToJamid++;
        }
      }
    }
    const linkToJamid: number[] = [];
    let linkFailures = 0;
    for (let i = 0; i < RUNS; i++) {
      const ms = await ask({ cmd: "link", jamiId: jamidB.jamiId! }).then(
        (r) => r.ms as number,
        (e: Error) => (console.error(`link to jamid failed: ${e.message}`), undefined),
      );
      if (ms === undefined) linkFailures++;
      else linkToJamid.push(ms);
    }
    const jamidLinks: number[] = [];
    let jamidLinkTimeouts = 0;
    for (let i = 0; i < RUNS; i++) {
      const ms = await jamidToJamidLink(harness, i).catch(() => undefined);
      if (ms === undefined) jamidLinkTimeouts++;
      else jamidLinks.push(ms);
    }
    return {
      linkOursToJamid: summarize(linkToJamid, linkFailures),
      linkJamidToJamid: summarize(jamidLinks, jamidLinkTimeouts),
      importToOnline: { ours: summarize(oursImport), jamid: summarize(jamidImport) },
      oursStartToOnline: summarize(oursStart),
      trustRequest: {
        oursToOurs: summarize(trust.oursToOurs),
        oursToJamid: summarize(trust.oursToJamid),
        jamidToOurs: { ...summarize(trust.jamidToOurs, timedOut.jamidToOurs), declinedConversationResent: reused.jamidToOurs },
        jamidToJamid: { ...summarize(trust.jamidToJamid, timedOut.jamidToJamid), declinedConversationResent: reused.jamidToJamid },
      },
    };
  } finally {
    await probe?.endInput();
    await harness.stop();
  }
}

function command(probe: JsonLinesProcess): (c: Record<string, string>) => Promise<PeerEvent> {
  let n = 0;
  return async (c) => {
    const id = String(++n);
    probe.child.stdin.write(JSON.stringify({ ...c, id }) + "\n");
    const reply = await probe.waitFor((e) => e.id === id, 120_000);
    if (reply.error) throw new Error(`probe ${c.cmd}: ${String(reply.error)}`);
    return reply;
  };
}

/**
 * A fresh jamid imports the archive as a new device: from its `accountsChanged` signal to the probe seeing the
 * device. One jamid per run: 13.7 can hang at "connecting…" when an account it removed is imported again.
 */
async function jamidImportToOnline(harness: JamidHarness, probe: JsonLinesProcess, archive: string, source: JamidAccount, instance: string): Promise<number> {
  await harness.startInstance(instance);
  try {
    const since = Date.now() / 1000;
    const before = probe.events.length;
    await harness.importAccount(instance, archive);
    const added = await harness.run<{ t: number }>("wait-event", instance, "accountsChanged", "--since", String(since), "--timeout", "30");
    const online = await probe.waitFor(
      (e) => e.event === "announced" && e.jamiId === source.jamiId && probe.events.indexOf(e) >= before && (e.t as number) >= since * 1000,
      60_000,
    );
    return (online.t as number) - added.t * 1000;
  } finally {
    await harness.run("stop", instance);
  }
}

/**
 * Two fresh jamids (a link is made once per device pair and then reused): B accepts A's trust request and links to
 * A's device. Timed from B's own log, both stamps taken by the same process as it logged them (lines from several
 * threads can come out of order, the stamps themselves are right).
 */
async function jamidToJamidLink(harness: JamidHarness, run: number): Promise<number> {
  const [a, b] = [`linka${run}`, `linkb${run}`];
  await Promise.all([harness.startInstance(a), harness.startInstance(b)]);
  try {
    const accountA = await harness.createAccount(a, { alias: a });
    const accountB = await harness.createAccount(b, { alias: b });
    // 13.7 sends a trust request only to devices it finds at that moment: both must be announced first.
    await Promise.all([deviceAnnounced(harness, a, accountA.accountId), deviceAnnounced(harness, b, accountB.accountId)]);
    const since = Date.now() / 1000;
    await harness.run("add-contact", a, accountA.accountId, accountB.jamiId!);
    await jamidEvent(harness, b, "incomingTrustRequest", accountA.jamiId!, since);
    await harness.run("accept", b, accountB.accountId, accountA.jamiId!);
    return await linkSetupInLog(join(harness.root, "inst", b, "jamid.log"), accountA.deviceId!);
  } finally {
    await Promise.all([harness.run("stop", a), harness.run("stop", b)]);
  }
}

async function deviceAnnounced(harness: JamidHarness, instance: string, accountId: string, timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
    const info = await harness.run<{ volatile: Record<string, string> }>("info", instance, accountId, "--all");
    if (info.volatile["Account.deviceAnnounced"] === "true") return;
  }
  throw new Error(`${instance}'s device was not announced in time`);
}

/** Milliseconds from jamid's "Request connection to DEVICE" to its "Connection to DEVICE is ready". */
async function linkSetupInLog(log: string, device: string, timeoutMs = 60_000): Promise<number> {
  const stampOf = (text: string, needle: string): number | undefined => {
    const line = text.split("\n").find((l) => l.includes(needle));
    const m = line && /\[(\d+)\.(\d{3})\|/.exec(line);
    return m ? Number(m[1]) * 1000 + Number(m[2]) : undefined;
  };
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
    const text = readFileSync(log, "utf8");
    const requested = stampOf(text, `Request connection to ${device}`);
    const ready = stampOf(text, `Connection to ${device} is ready`);
    if (requested !== undefined && ready !== undefined) return ready - requested;
  }
  throw new Error(`no link to ${device} in ${log}`);
}

/**
 * Unix seconds of the first D-Bus signal of an instance since `since` whose argument `arg` is `peer` (the recorder
 * stamps each signal as it arrives). jamid signals `contactAdded` just before it sends a trust request, in the same
 * call.
 */
async function jamidEvent(harness: JamidHarness, instance: string, signal: string, peer: string, since: number, arg = 2, timeoutS = 60): Promise<number> {
  const ev = await harness.run<{ t: number }>(
    "wait-event",
    instance,
    signal,
    "--arg",
    `${arg}=${peer}`,
    "--since",
    String(since),
    "--timeout",
    String(timeoutS),
  );
  return ev.t;
}
