import { execFile, spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { DhtNode, InfoHash, Value } from "jami-dht";
import { OpenDhtDriver, runPeer } from "../test-support/opendht.js";
import { quantile } from "./stats.js";

const execFileAsync = promisify(execFile);
const NODES = Number(process.env.BENCH_DHT_NODES ?? 100);
const GETS = Number(process.env.BENCH_DHT_GETS ?? 100);
const RATES = [2_000, 5_000, 10_000, 20_000, 40_000, 80_000];

export interface LatencyReport {
  nodes: number;
  gets: number;
  found: number;
  medianMs: number;
  p95Ms: number;
  messagesPerGetMedian: number;
  messagesPerGetP95: number;
}

export interface RateReport {
  /** Highest offered rate (requests/s, 1 s bursts) answered at ≥ 95 %. */
  maxRatePerSecond: Record<"ping" | "get", number>;
  steps: Record<"ping" | "get", { rate: number; sent: number; replies: number }[]>;
}

function report(nodes: number, samples: { ms: number; messages: number; found: boolean }[]): LatencyReport {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const msgs = samples.map((s) => s.messages).sort((a, b) => a - b);
  return {
    nodes,
    gets: samples.length,
    found: samples.filter((s) => s.found).length,
    medianMs: Math.round(quantile(ms, 0.5) * 10) / 10,
    p95Ms: Math.round(quantile(ms, 0.95) * 10) / 10,
    messagesPerGetMedian: quantile(msgs, 0.5),
    messagesPerGetP95: quantile(msgs, 0.95),
  };
}

const pick = <T>(a: T[]): T => a[Math.floor(Math.random() * a.length)]!;

/** 100 of our nodes on loopback: random keys put, then gets from random nodes. */
async function oursLatency(): Promise<LatencyReport> {
  const first = await DhtNode.create({ host: "127.0.0.1", port: 0, rateLimit: false });
  const boot = `127.0.0.1:${first.addresses[0]!.port}`;
  const nodes = [first];
  for (let i = 1; i < NODES; i++) nodes.push(await DhtNode.create({ host: "127.0.0.1", port: 0, rateLimit: false, bootstrap: [boot] }));
  try {
    await Promise.all(nodes.map((n) => n.bootstrap().catch(() => {})));
    for (const n of nodes) await n.findNodes(n.id);
    const keys = Array.from({ length: GETS }, () => InfoHash.random());
    for (const k of keys) await pick(nodes).put(k, new Value({ data: "bench" }));
    const samples = [];
    for (const k of keys) {
      const n = pick(nodes);
      const before = n.stats().requestsSent;
      const start = performance.now();
      const got = await n.getAll(k);
      samples.push({ ms: performance.now() - start, messages: n.stats().requestsSent - before, found: got.length > 0 });
    }
    return report(NODES, samples);
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
  }
}

/** 100 real OpenDHT 2.4.12 nodes (python3-opendht runners in one process). */
async function openDhtLatency(): Promise<LatencyReport> {
  const driver = await OpenDhtDriver.start({ nodes: NODES });
  try {
    await new Promise((r) => setTimeout(r, 15_000)); // let the tables converge
    const keys = Array.from({ length: GETS }, () => InfoHash.random().toString());
    for (const k of keys) await driver.command({ cmd: "put", node: Math.floor(Math.random() * NODES), key: k, data_hex: "62656e6368" }, 60_000);
    const samples = [];
    for (const k of keys) {
      const r = await driver.command({ cmd: "get", node: Math.floor(Math.random() * NODES), key: k }, 60_000);
      samples.push({ ms: r.elapsed_ms as number, messages: r.messages as number, found: (r.values as unknown[]).length > 0 });
    }
    return report(NODES, samples);
  } finally {
    await driver.stop();
  }
}

async function flood(target: string, kind: "ping" | "get", rate: number, keyHex: string): Promise<{ sent: number; replies: number }> {
  const { stdout } = await execFileAsync(
    process.execPath,
    ["--import", "tsx", resolve(__dirname, "udp-flood.ts"), target, kind, String(rate), "1000", keyHex],
    { timeout: 60_000 },
  );
  return JSON.parse(stdout.trim().split("\n").pop()!) as { sent: number; replies: number };
}

async function rates(target: string, keyHex: string): Promise<RateReport> {
  const out: RateReport = { maxRatePerSecond: { ping: 0, get: 0 }, steps: { ping: [], get: [] } };
  for (const kind of ["ping", "get"] as const) {
    for (const rate of RATES) {
      const r = await flood(target, kind, rate, keyHex);
      out.steps[kind].push({ rate, ...r });
      if (r.replies >= 0.95 * r.sent) out.maxRatePerSecond[kind] = rate;
      else break;
      await new Promise((res) => setTimeout(res, 500));
    }
  }
  return out;
}

/** One node under load: ours in a child process, and `dhtnode -U` (no rate limit), both holding one value. */
async function requestRates(): Promise<{ ours: RateReport; dhtnode: RateReport }> {
  const key = InfoHash.get("bench-rate-key");
  const ourPort = 4350;
  const ours: ChildProcess = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      resolve(__dirname, "../packages/jami-sdk/src/cli.ts"),
      "dht",
      "node",
      "--port",
      String(ourPort),
      "--bind",
      "127.0.0.1",
      "--status-interval",
      "0",
      "--no-rate-limit",
    ],
    { stdio: "ignore" },
  );
  const theirPort = 4351;
  const theirs: ChildProcess = spawn("dhtnode", ["-s", "-U", "-p", String(theirPort)], { stdio: "ignore" });
  try {
    await new Promise((r) => setTimeout(r, 4000));
    for (const port of [ourPort, theirPort]) await runPeer(["-b", `127.0.0.1:${port}`, "put", key.toString(), "bench"]);
    return { ours: await rates(`127.0.0.1:${ourPort}`, key.toString()), dhtnode: await rates(`127.0.0.1:${theirPort}`, key.toString()) };
  } finally {
    ours.kill("SIGINT");
    theirs.kill("SIGINT");
  }
}

/** `BENCH_DHT_PARTS=latency,rates` (default both). */
export async function benchDht(): Promise<Record<string, unknown>> {
  const parts = (process.env.BENCH_DHT_PARTS ?? "latency,rates").split(",");
  if (!parts.includes("latency")) return { requestRate: await requestRates() };
  const ours = await oursLatency();
  console.error("dht: ours", JSON.stringify(ours));
  const opendht = await openDhtLatency();
  console.error("dht: opendht", JSON.stringify(opendht));
  if (!parts.includes("rates")) return { getLatency: { ours, opendht } };
  const requestRate = await requestRates();
  console.error("dht: rates", JSON.stringify(requestRate.ours.maxRatePerSecond), JSON.stringify(requestRate.dhtnode.maxRatePerSecond));
  return { getLatency: { ours, opendht }, requestRate };
}

if (require.main === module) {
  benchDht().then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
