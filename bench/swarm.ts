import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex, PassThrough } from "node:stream";
import { createAccountKeys, createDevice, type DeviceIdentity } from "jami-identity";
import { SwarmRepository, encodeBody, fetchPack, parsePack, serveUploadPack, writePack, type GitFs } from "jami-swarm";
import { CommitValidator, objectId, signCommit, walkNewestFirst, type RawObject } from "jami-swarm/internal";

const nodeFs = fs as unknown as GitFs;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

export interface SwarmBench {
  /** Our writer: sendText (checks, RSA-4096 signature, validation, loose objects). */
  create1000: { ms: number; commitsPerSecond: number };
  /** A fetched history of text commits: parse the pack, validate every commit (strict), store, fast-forward. */
  validateApply: Array<{
    commits: number;
    validateMs: number;
    validateCommitsPerSecond: number;
    applyMs: number;
    applyCommitsPerSecond: number;
    heapDeltaMb: number;
    rssDeltaMb: number;
  }>;
  /**
   * Our client cloning 10,000 commits from our server (in-process stream; the first serve of a freshly opened
   * repository, then the median of the next ones) and from `git daemon --inetd` (a process per clone) on the same
   * repository.
   */
  clone10000:
    | { oursColdMs: number; oursWarmMs: number; gitMs: number; ratioCold: number; ratioWarm: number; packBytesOurs: number; packBytesGit: number }
    | { skipped: string };
  notes: string;
}

function duplexPair(): [Duplex, Duplex] {
  const ab = new PassThrough({ highWaterMark: 1 << 20 });
  const ba = new PassThrough({ highWaterMark: 1 << 20 });
  return [Duplex.from({ readable: ba, writable: ab }), Duplex.from({ readable: ab, writable: ba })];
}

/** `count` signed text commits on top of `head` (same tree), built in memory as a peer would send them. */
function history(device: DeviceIdentity, head: string, tree: string, count: number, start: number): { objects: RawObject[]; head: string } {
  const objects: RawObject[] = [];
  let parent = head;
  for (let i = 0; i < count; i++) {
    const content = signCommit({ device }, tree, [parent], encodeBody({ type: "text/plain", body: `message ${i}` }), new Date(start + i * 1000));
    objects.push({ type: "commit", content });
    parent = objectId("commit", content);
  }
  return { objects, head: parent };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;

export async function benchSwarm(): Promise<SwarmBench> {
  const work = mkdtempSync(join(tmpdir(), "jami-bench-swarm-"));
  try {
    const account = await createAccountKeys();
    const [alice, bob] = [await createDevice(account), await createDevice(account)];
    const writer = await SwarmRepository.create(join(work, "writer"), { mode: 2 }, { fs: nodeFs, author: { device: alice } });
    const t = performance.now();
    for (let i = 0; i < 1000; i++) await writer.sendText(`message ${i}`);
    const createMs = performance.now() - t;

    const validateApply: SwarmBench["validateApply"] = [];
    let big: SwarmRepository | undefined;
    for (const count of [1000, 10000]) {
      // a fresh conversation of alice's; her device sends `count` commits on top of it to bob's copy
      const base = await SwarmRepository.create(join(work, `base${count}`), { mode: 2 }, { fs: nodeFs, author: { device: alice } });
      const baseHead = await base.head();
      const baseTree = (await base.readCommit(baseHead)).tree;
      const sent = history(alice, baseHead, baseTree, count, Date.now());
      const pack = writePack(sent.objects);
      const pristine = `${base.dir}.pristine`;
      cpSync(base.dir, pristine, { recursive: true });
      const validateOnly: number[] = [];
      const apply: number[] = [];
      let memory = { heap: 0, rss: 0 };
      for (let run = 0; run < RUNS; run++) {
        // validation alone: the pack parsed, every commit checked (strict), nothing stored
        let t = performance.now();
        const parsed = parsePack(pack);
        const staged = base.store.withStaged(parsed.objects);
        const commits = (await walkNewestFirst(staged, sent.head, (oid) => oid === baseHead)).reverse();
        await new CommitValidator(staged, base.conversationId, {}).validate(commits);
        validateOnly.push(performance.now() - t);
        // the whole fetch as bob's copy applies it: parse, validate, store the pack, fast-forward, messages
        rmSync(base.dir, { recursive: true, force: true });
        cpSync(pristine, base.dir, { recursive: true });
        const copy = await SwarmRepository.open(base.dir, { fs: nodeFs, author: { device: bob } });
        const before = process.memoryUsage();
        t = performance.now();
        const outcome = await copy.applyFetch(alice.certificate.deviceId.toString(), sent.head, pack);
        apply.push(performance.now() - t);
        const after = process.memoryUsage();
        memory = { heap: after.heapUsed - before.heapUsed, rss: after.rss - before.rss };
        if (outcome.newCommits.length !== count || outcome.result !== "fast-forward")
          throw new Error(`apply of ${count}: ${outcome.result}, ${outcome.newCommits.length}`);
        big = copy;
      }
      validateApply.push({
        commits: count,
        validateMs: Math.round(median(validateOnly)),
        validateCommitsPerSecond: Math.round(count / (median(validateOnly) / 1000)),
        applyMs: Math.round(median(apply)),
        applyCommitsPerSecond: Math.round(count / (median(apply) / 1000)),
        heapDeltaMb: mb(memory.heap),
        rssDeltaMb: mb(memory.rss),
      });
    }
    return {
      create1000: { ms: Math.round(createMs), commitsPerSecond: Math.round(1000 / (createMs / 1000)) },
      validateApply,
      clone10000: await benchClone(big!),
      notes: `RSA-4096 device keys as jamid's; medians of ${RUNS} runs; memory deltas of the last apply, without a forced GC`,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function benchClone(repo: SwarmRepository): Promise<SwarmBench["clone10000"]> {
  const request = { conversationId: repo.conversationId, host: "0".repeat(64) };
  const ours: number[] = [];
  let packBytesOurs = 0;
  // the first serve reads and indexes the history (cold); later ones walk the remembered commit graph (warm)
  const fresh = await SwarmRepository.open(repo.dir, { fs: nodeFs });
  for (let i = 0; i <= RUNS; i++) {
    const [server, client] = duplexPair();
    const t = performance.now();
    const serving = serveUploadPack(server, async () => fresh);
    const fetched = await fetchPack(client, request);
    await serving;
    ours.push(performance.now() - t);
    packBytesOurs = fetched.pack!.byteLength;
  }
  const oursColdMs = Math.round(ours.shift()!);
  const git: number[] = [];
  let packBytesGit = 0;
  const parent = join(repo.dir, "..");
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const daemon = spawn("git", ["daemon", "--inetd", "--export-all", `--base-path=${parent}`, parent], { stdio: ["pipe", "pipe", "ignore"] });
    const failed = new Promise<never>((_, reject) => daemon.on("error", reject));
    const fetched = await Promise.race([
      fetchPack(Duplex.from({ readable: daemon.stdout, writable: daemon.stdin }), { ...request, conversationId: repo.dir.split("/").pop()! }),
      failed,
    ]).catch((error: Error) => error);
    if (fetched instanceof Error) return { skipped: `git daemon: ${fetched.message}` };
    git.push(performance.now() - t);
    packBytesGit = fetched.pack!.byteLength;
  }
  const ratio = (ms: number): number => Math.round((ms / median(git)) * 100) / 100;
  return {
    oursColdMs,
    oursWarmMs: Math.round(median(ours)),
    gitMs: Math.round(median(git)),
    ratioCold: ratio(oursColdMs),
    ratioWarm: ratio(median(ours)),
    packBytesOurs,
    packBytesGit,
  };
}
