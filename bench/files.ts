import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JamidHarness } from "../test-support/jamid-harness.js";
import { askProbe } from "../test-support/jamid-with-probe.js";
import { cpuDuring, rssMb, type ProcessCpu } from "./proc.js";
import { inviteJamid, startJamidGroup, withTwoJamids } from "./two-jamids.js";

const NETNS = "jamits-bench-files";
const DHT_PORT = 4479;
const FILE_MB = Number(process.env.BENCH_FILE_MB ?? 200);

export interface FilesBench {
  fileMB: number;
  /** From asking the file to having all of it verified, in MB/s (jamid: `dataTransferEvent` finished; ours: `download` resolved). */
  throughputMBps: { jamidToJamid: number; jamidToOurs: number; oursToJamid: number };
  /** Our process's peak RSS during its download and during its upload, and before them, in MB. */
  oursPeakRssMB: { before: number; download: number; upload: number };
  /**
   * jamid a's CPU while it sends, in cores (1 = one core all the time): the whole process and its busiest thread,
   * during jamid b's download and during ours. A busiest thread near 1 in both: jamid's sending thread sets the
   * pace, whatever receives.
   */
  jamidSenderCpu: { toJamid: SenderCpu | null; toOurs: SenderCpu };
  /** How many `downloadFile` requests jamid needed (its first one sometimes delivers nothing). */
  jamidRequests: { jamidToJamid: number; oursToJamid: number };
}

/** jamid a's CPU as the sender: the process and its busiest thread, in cores. */
type SenderCpu = Pick<ProcessCpu, "process" | "busiestThread">;

/** `pid`'s CPU around `work`, as a sender's. */
async function senderCpu<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; cpu: SenderCpu }> {
  const { result, cpu } = await cpuDuring([pid], work);
  return { result, cpu: { process: cpu[0]!.process, busiestThread: cpu[0]!.busiestThread } };
}

/**
 * jamid downloading a file until `dataTransferEvent` finished: 13.7's first request sometimes delivers nothing (spec
 * jami-swarm.md §6.4, it retries at a later sync), so a request without an end after `stallS` is made again. Resolves
 * with the time from the request that completed, and how many were made.
 */
async function jamidDownload(
  harness: JamidHarness,
  instance: string,
  accountId: string,
  conversationId: string,
  messageId: string,
  fileId: string,
  path: string,
  stallS = 60,
): Promise<{ ms: number; requests: number }> {
  for (let requests = 1; ; requests++) {
    const asked = String(Date.now() / 1000);
    const start = Date.now();
    await harness.run("call", instance, "downloadFile", accountId, conversationId, messageId, fileId, path);
    try {
      const done = await harness.run<{ t: number }>(
        "wait-event",
        instance,
        "dataTransferEvent",
        "--arg",
        `2=${messageId}`,
        "--arg",
        "4=6",
        "--since",
        asked,
        "--timeout",
        String(stallS),
      );
      return { ms: done.t * 1000 - start, requests };
    } catch (error) {
      if (requests >= 5) throw error;
    }
  }
}

/** Runs `work` while sampling `pid`'s RSS every 50 ms; resolves with the work's time and the peak. */
async function sampled(pid: number, work: () => Promise<unknown>): Promise<{ ms: number; peak: number }> {
  let peak = rssMb(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 50);
  const start = Date.now();
  try {
    await work();
    return { ms: Date.now() - start, peak };
  } finally {
    clearInterval(timer);
  }
}

function randomFile(path: string, mb: number): void {
  const fd = openSync(path, "w");
  for (let i = 0; i < mb; i++) writeSync(fd, randomBytes(1 << 20));
  closeSync(fd);
}

/** jamid a's group of two (its member invited by `invite`, who accepts with `accept`); resolves with its id. */
async function pairOf(
  harness: JamidHarness,
  accountId: string,
  invite: (conversationId: string) => Promise<unknown>,
  accept: (conversationId: string, since: string) => Promise<void>,
): Promise<string> {
  const conversationId = await startJamidGroup(harness, accountId);
  const since = String(Date.now() / 1000);
  await invite(conversationId);
  await accept(conversationId, since);
  return conversationId;
}

/**
 * A file of FILE_MB moved jamid → jamid, jamid → ours and ours → jamid in one run, and our memory meanwhile. Each
 * transfer in a group of two (jamid a with b, jamid a with us), so that the one receiving asks one device only and
 * no third holder or asker takes part; the reference first, before we have moved anything.
 */
export async function benchFiles(): Promise<FilesBench | { skipped: string }> {
  const dir = mkdtempSync(join(tmpdir(), "jami-bench-files-"));
  chmodSync(dir, 0o755);
  try {
    return await withTwoJamids(NETNS, DHT_PORT, async ({ harness, a, b, probe, ourId }) => {
      const ourPid = (await askProbe(probe, { cmd: "memory" })).pid as number;
      const jamidPid = Number(readFileSync(join(harness.root, "inst", "a", "jamid.pid"), "utf8").trim());
      const withB = await pairOf(
        harness,
        a.accountId,
        (id) => inviteJamid(harness, a.accountId, id, { instance: "b", jamiId: b.jamiId! }),
        async (id, since) => {
          await harness.run("accept-conversation", "b", b.accountId, id);
          await harness.run("wait-event", "b", "conversationReady", "--arg", `1=${id}`, "--since", since, "--timeout", "120");
        },
      );
      const withUs = await pairOf(
        harness,
        a.accountId,
        (id) => harness.run("add-member", "a", a.accountId, id, ourId),
        async (id) => {
          await probe.waitFor((e) => e.event === "conversationRequest" && e.conversationId === id, 120_000);
          await askProbe(probe, { cmd: "acceptConversation", conversationId: id }, 120_000);
        },
      );

      const theirs = join(dir, "theirs.bin");
      randomFile(theirs, FILE_MB);
      const mbps = (ms: number): number => +(FILE_MB / (ms / 1000)).toFixed(1);
      const jamidRequests = { jamidToJamid: 0, oursToJamid: 0 };

      // the reference: jamid b from jamid a (13.7's transfers between two jamids sometimes stall: null then)
      let since = String(Date.now() / 1000);
      await harness.run("call", "a", "sendFile", a.accountId, withB, theirs, "theirs.bin", "");
      const atB = await harness.run<{ args: [string, string, Record<string, string>] }>(
        "wait-event",
        "b",
        "messageReceived",
        "--arg",
        `1=${withB}`,
        "--since",
        since,
        "--timeout",
        "300",
      );
      const toB = atB.args[2];
      if (toB.type !== "application/data-transfer+json") throw new Error(`jamid b got a ${toB.type} first, not the file`);
      const toJamid = await senderCpu(jamidPid, () =>
        jamidDownload(harness, "b", b.accountId, withB, toB.id!, toB.fileId!, join(dir, "b-got.bin")).catch(() => undefined),
      );
      const atJamid = toJamid.result;
      jamidRequests.jamidToJamid = atJamid?.requests ?? 0;
      rmSync(join(dir, "b-got.bin"), { force: true });

      // jamid a → ours
      const arrived = probe.waitFor(
        (e) => e.event === "message" && e.conversationId === withUs && (e.body as { type?: string }).type === "application/data-transfer+json",
        300_000,
      );
      await harness.run("call", "a", "sendFile", a.accountId, withUs, theirs, "theirs.bin", "");
      const message = await arrived;
      const before = rssMb(ourPid);
      // BENCH_PROFILE_DIR: our download's CPU profile (V8's, open it in Chrome's DevTools)
      const profileDir = process.env.BENCH_PROFILE_DIR;
      if (profileDir) await askProbe(probe, { cmd: "cpuProfile", action: "start" });
      const { result: down, cpu: toOurs } = await senderCpu(jamidPid, () =>
        sampled(ourPid, () =>
          askProbe(probe, { cmd: "download", conversationId: withUs, messageId: message.id, path: join(dir, "us-got.bin"), timeoutMs: 880_000 }, 900_000),
        ),
      );
      if (profileDir) await askProbe(probe, { cmd: "cpuProfile", action: "stop", path: join(profileDir, "download.cpuprofile") });
      rmSync(join(dir, "us-got.bin"), { force: true });

      // ours → jamid a
      const ours = join(dir, "ours.bin");
      randomFile(ours, FILE_MB);
      let oursToJamid = 0;
      const up = await sampled(ourPid, async () => {
        since = String(Date.now() / 1000);
        const sent = await askProbe(probe, { cmd: "sendFile", conversationId: withUs, path: ours }, 300_000);
        await harness.run("wait-event", "a", "messageReceived", "--arg", `1=${withUs}`, "--since", since, "--timeout", "300");
        const fromUs = await jamidDownload(harness, "a", a.accountId, withUs, sent.messageId as string, sent.fileId as string, join(dir, "a-got.bin"));
        oursToJamid = fromUs.ms;
        jamidRequests.oursToJamid = fromUs.requests;
      });
      return {
        fileMB: FILE_MB,
        throughputMBps: { jamidToJamid: mbps(atJamid?.ms ?? NaN), jamidToOurs: mbps(down.ms), oursToJamid: mbps(oursToJamid) },
        oursPeakRssMB: { before: +before.toFixed(1), download: +down.peak.toFixed(1), upload: +up.peak.toFixed(1) },
        jamidSenderCpu: { toJamid: atJamid ? toJamid.cpu : null, toOurs },
        jamidRequests,
      };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
