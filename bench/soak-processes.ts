import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DhtNode } from "jami-dht";
import { Account } from "jami-sdk";
import { freeUdpPort } from "../test-support/ports.js";
import { slope } from "./slope.js";

/**
 * `npm run soak:processes`: the idle network of the security issue's measurement, as separate processes — a
 * `jami dht node` and two contact accounts (`jami online`) — with each process's memory read from /proc (no GC
 * forced: what an operator sees): anonymous, file-backed and total RSS. Prints one JSON line per sample and each
 * process's growth over the second half in MB/h; fails when anonymous memory grows faster than
 * SOAK_MAX_RSS_MB_PER_HOUR (default 2). File-backed pages (the node binary paged in as code runs) are reported, not
 * judged: they are clean, shared and reclaimable.
 * The processes run as the README tells operators to run long-lived ones: MALLOC_ARENA_MAX=1 (glibc's per-thread
 * arenas otherwise grow with the libuv threadpool's allocations) — SOAK_MALLOC_ARENA_MAX sets another value, empty
 * for glibc's default — and with the CLI's periodic full GC (every 5 minutes; SOAK_GC_INTERVAL sets the minutes, 0
 * turns it off).
 *   SOAK_MINUTES (60)  SOAK_SAMPLE_SECONDS (30)
 *   SOAK_NODE_OPTIONS   node flags for the processes (e.g. --trace-gc), their stdout kept in SOAK_SNAPSHOTS or a temp dir
 *   SOAK_SNAPSHOTS=dir  each process writes a heap snapshot (after a full GC) at half time and at the end, into
 *                       dir/<name>/, to diff what its JS heap holds (RSS also counts memory V8 has not returned)
 *   SOAK_LIVE_HEAP=1    each process also runs a full GC every sample (bench/soak-live-heap.cjs) and reports what
 *                       survives it (JS heap + external): its growth is judged too (SOAK_MAX_LIVE_MB_PER_HOUR, 0.5).
 *                       Without it, an idle process's RSS grows with promoted garbage until V8's next major GC.
 *   SOAK_HEAPTRACK=alice,node   run these processes under heaptrack (native allocations: what the JS heap does not
 *                       show), its file in SOAK_HEAPTRACK_DIR (default SOAK_SNAPSHOTS)/<name>.heaptrack.zst —
 *                       read it with `heaptrack_print -f <file>`
 */
const minutes = Number(process.env.SOAK_MINUTES ?? 60);
const sampleMs = Number(process.env.SOAK_SAMPLE_SECONDS ?? 30) * 1000;
const maxMbPerHour = Number(process.env.SOAK_MAX_RSS_MB_PER_HOUR ?? 2);
const cli = join(__dirname, "..", "packages", "jami-sdk", "dist", "cli.js");
const snapshots = process.env.SOAK_SNAPSHOTS;
const liveHeap = process.env.SOAK_LIVE_HEAP === "1";
const maxLiveMbPerHour = Number(process.env.SOAK_MAX_LIVE_MB_PER_HOUR ?? 0.5);
const liveDir = liveHeap ? mkdtempSync(join(tmpdir(), "jami-soak-live-")) : undefined;
const liveFile = (name: string): string => join(liveDir!, `${name}.jsonl`);

/** The last full-GC figure a process wrote (JS heap + external, MB), when SOAK_LIVE_HEAP is on. */
function liveMb(name: string): number | undefined {
  try {
    const lines = readFileSync(liveFile(name), "utf8").trim().split("\n");
    const last = JSON.parse(lines[lines.length - 1]!) as { heapUsedMB: number; externalMB: number };
    return last.heapUsedMB + last.externalMB;
  } catch {
    return undefined;
  }
}

/** The node process itself: `pid`, or its descendant when a wrapper (heaptrack) started it. */
function nodePid(pid: number): number {
  const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  if (comm === "node") return pid;
  for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean)) {
    try {
      return nodePid(Number(child));
    } catch {
      continue;
    }
  }
  throw new Error(`no node process under ${pid}`);
}

/**
 * The process's resident memory from /proc, in MB: `anon` (heap, V8, buffers: what a leak grows) and `file`
 * (pages of the node binary and libraries, clean and shared: they grow as more code runs, up to the binary's size,
 * and the kernel reclaims them when it needs to).
 */
function memoryMb(pid: number): { rss: number; anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) / 1024;
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") };
}

/** Spawns the CLI and resolves once it printed `ready` (a line matching it). */
function run(name: string, args: string[], ready: RegExp): Promise<ChildProcess> {
  const cwd = snapshots ? join(snapshots, name) : undefined;
  if (cwd) mkdirSync(cwd, { recursive: true });
  // SIGUSR2 makes the process write a heap snapshot into its cwd (Node does a full GC first).
  const flags = (process.env.SOAK_NODE_OPTIONS ?? "").split(" ").filter(Boolean);
  if (liveHeap) flags.push("--expose-gc", "--require", join(__dirname, "soak-live-heap.cjs"));
  const gcEvery = process.env.SOAK_GC_INTERVAL;
  const command = [process.execPath, "--heapsnapshot-signal=SIGUSR2", ...flags, cli, ...args, ...(gcEvery ? ["--gc-interval", gcEvery] : [])];
  const traced = (process.env.SOAK_HEAPTRACK ?? "").split(",").includes(name);
  const traceDir = process.env.SOAK_HEAPTRACK_DIR ?? cwd;
  if (traced && !traceDir) throw new Error("SOAK_HEAPTRACK needs SOAK_HEAPTRACK_DIR or SOAK_SNAPSHOTS (where its files go)");
  if (traceDir) mkdirSync(traceDir, { recursive: true });
  const [file, ...argv] = traced ? ["heaptrack", "-o", join(traceDir!, `${name}.heaptrack`), ...command] : command;
  const arenas = process.env.SOAK_MALLOC_ARENA_MAX ?? "1";
  const env: NodeJS.ProcessEnv = { ...process.env, ...(arenas ? { MALLOC_ARENA_MAX: arenas } : {}) };
  if (liveHeap) Object.assign(env, { SOAK_LIVE_HEAP_FILE: liveFile(name), SOAK_LIVE_HEAP_SECONDS: String(sampleMs / 1000) });
  const child = spawn(file!, argv, { stdio: ["ignore", "pipe", "inherit"], cwd, env });
  if (cwd) child.stdout!.pipe(createWriteStream(join(cwd, "stdout.log")));
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited (${code}) before it was ready`)));
  });
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "jami-soak-processes-"));
  const port = await freeUdpPort();
  const bootstrap = `127.0.0.1:${port}`;
  // Two accounts made contacts on a temporary node on the same port, then stopped.
  const seed = await DhtNode.create({ host: "127.0.0.1", port });
  const network = { bootstrap: [bootstrap], host: "127.0.0.1", iceAddresses: ["127.0.0.1"] };
  const dirs = [join(work, "a"), join(work, "b")];
  const [alice, bob] = await Promise.all(dirs.map((dir) => Account.create({ dir, bits: 2048, ...network })));
  await Promise.all([alice!.start(), bob!.start()]);
  const requested = new Promise((r) => bob!.contacts.once("request", r));
  await alice!.contacts.add(bob!.jamiId);
  await requested;
  await bob!.contacts.accept(alice!.jamiId);
  await Promise.all([alice!.stop(), bob!.stop()]);
  await seed.close();

  const node = await run("node", ["dht", "node", "--port", String(port), "--bind", "127.0.0.1"], /\n/);
  const accounts = await Promise.all(
    dirs.map((dir, i) => run(i ? "bob" : "alice", ["online", "--dir", dir, "--bootstrap", bootstrap, "--bind", "127.0.0.1"], /"event":"online"/)),
  );
  const processes = { node, alice: accounts[0]!, bob: accounts[1]! };

  const start = Date.now();
  const end = start + minutes * 60_000;
  const samples: Array<{ t: number } & Record<string, number>> = [];
  let halfSnapshot = false;
  const snapshot = async (): Promise<void> => {
    for (const p of Object.values(processes)) process.kill(nodePid(p.pid!), "SIGUSR2");
    await new Promise((r) => setTimeout(r, 5000));
  };
  try {
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, Math.min(sampleMs, Math.max(0, end - Date.now()))));
      const t = (Date.now() - start) / 3_600_000;
      const sample: { t: number } & Record<string, number> = { t };
      const line: Record<string, number> = { minutes: +(t * 60).toFixed(2) };
      for (const [name, p] of Object.entries(processes)) {
        const m = memoryMb(nodePid(p.pid!));
        sample[name] = m.anon;
        sample[`${name}Rss`] = m.rss;
        Object.assign(line, { [`${name}AnonMB`]: +m.anon.toFixed(1), [`${name}FileMB`]: +m.file.toFixed(1), [`${name}RssMB`]: +m.rss.toFixed(1) });
        const live = liveHeap ? liveMb(name) : undefined;
        if (live !== undefined) {
          sample[`${name}Live`] = live;
          line[`${name}LiveMB`] = +live.toFixed(2);
        }
      }
      samples.push(sample);
      console.log(JSON.stringify(line));
      if (snapshots && !halfSnapshot && Date.now() - start >= (end - start) / 2) {
        halfSnapshot = true;
        await snapshot();
      }
    }
    if (snapshots) await snapshot();
  } finally {
    for (const p of Object.values(processes)) {
      try {
        process.kill(nodePid(p.pid!), "SIGINT");
      } catch {
        p.kill("SIGINT");
      }
    }
    // heaptrack writes its file after the traced process ended
    await Promise.all(Object.values(processes).map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : p.once("exit", r)))));
    rmSync(work, { recursive: true, force: true });
    if (liveDir) rmSync(liveDir, { recursive: true, force: true });
  }
  const late = samples.filter((s) => s.t >= samples[samples.length - 1]!.t / 2);
  const perHour = (key: (n: string) => string): Record<string, number> =>
    Object.fromEntries(Object.keys(processes).map((n) => [n, +slope(late.filter((s) => s[key(n)] !== undefined).map((s) => [s.t, s[key(n)]!])).toFixed(2)]));
  const growth = perHour((n) => n);
  const rssGrowth = perHour((n) => `${n}Rss`);
  const liveGrowth = liveHeap ? perHour((n) => `${n}Live`) : undefined;
  console.log(
    JSON.stringify({
      summary: { minutes, samples: samples.length, anonMBPerHour: growth, rssMBPerHour: rssGrowth, liveMBPerHour: liveGrowth, limitMBPerHour: maxMbPerHour },
    }),
  );
  const over = Object.entries(growth).filter(([, g]) => g > maxMbPerHour);
  if (over.length) {
    console.error(`anonymous memory grows while idle: ${over.map(([n, g]) => `${n} ${g} MB/h`).join(", ")} (limit ${maxMbPerHour})`);
    process.exitCode = 1;
  }
  const liveOver = Object.entries(liveGrowth ?? {}).filter(([, g]) => !(g <= maxLiveMbPerHour));
  if (liveOver.length) {
    console.error(`what survives a full GC grows: ${liveOver.map(([n, g]) => `${n} ${g} MB/h`).join(", ")} (limit ${maxLiveMbPerHour})`);
    process.exitCode = 1;
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
