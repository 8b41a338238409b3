import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DhtNode } from "jami-dht";
import { Account, type Channel } from "jami-sdk";
import { summarize, type Summary } from "./stats.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const THROUGHPUT_MB = Number(process.env.BENCH_LINK_MB ?? 200);

export interface LinksBench {
  /** `connect(device, "sip")` on a fresh link: request put → ICE → TLS → channel accepted (two of our accounts, 127.0.0.1). */
  oursToOursSetup: Summary;
  /** One channel, one direction, `THROUGHPUT_MB` MB in 64 KiB writes (TLS 1.3 AES-256-GCM over ICE-TCP on 127.0.0.1). */
  channelThroughputMBps: number;
  /** `openssl speed -evp aes-256-gcm`, 16 KiB blocks, one core: the cipher's own limit on this machine. */
  opensslAes256GcmMBps: number | { skipped: string };
}

export async function benchLinks(): Promise<LinksBench> {
  const seed = await DhtNode.create({ host: "127.0.0.1", port: 0 });
  const network = { bootstrap: [`127.0.0.1:${seed.addresses[0]!.port}`], host: "127.0.0.1", iceAddresses: ["127.0.0.1"] };
  const work = mkdtempSync(join(tmpdir(), "bench-links-"));
  const [a, b] = await Promise.all([Account.create({ dir: join(work, "a"), ...network }), Account.create({ dir: join(work, "b"), ...network })]);
  try {
    await Promise.all([a.start(), b.start()]);
    b.links.handle("sip");
    const [device] = await a.devices.of(b.jamiId);
    if (!device) throw new Error("device not found");
    const setup: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const channel = await a.links.connect(device, "sip");
      setup.push(performance.now() - t0);
      channel.end();
      a.links.disconnect(b.deviceId);
      await new Promise((r) => setTimeout(r, 200));
    }
    const mbps = await throughput(a, b);
    return { oursToOursSetup: summarize(setup), channelThroughputMBps: mbps, opensslAes256GcmMBps: opensslSpeed() };
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await seed.close();
  }
}

async function throughput(a: Account, b: Account): Promise<number> {
  const total = THROUGHPUT_MB * 1024 * 1024;
  const incoming = new Promise<Channel>((resolve) => b.links.once("channel", ({ channel }) => resolve(channel)));
  const [device] = await a.devices.of(b.jamiId);
  const sender = await a.links.connect(device!, "sip");
  const receiver = await incoming;
  const chunk = Buffer.alloc(65536, 0x5a);
  const done = new Promise<number>((resolve) => {
    let got = 0;
    let t0 = 0;
    receiver.on("data", (d: Buffer) => {
      if (!t0) t0 = performance.now();
      got += d.length;
      if (got >= total) resolve(performance.now() - t0);
    });
  });
  for (let sent = 0; sent < total; sent += chunk.length) {
    if (!sender.write(chunk)) await new Promise((r) => sender.once("drain", r));
  }
  const ms = await done;
  return Math.round((total / 1024 / 1024 / ms) * 1000);
}

function opensslSpeed(): number | { skipped: string } {
  try {
    const out = execFileSync("openssl", ["speed", "-evp", "aes-256-gcm", "-seconds", "2", "-bytes", "16384"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    const line = out.split("\n").find((l) => l.toLowerCase().startsWith("aes-256-gcm"));
    const kBps = Number(line?.trim().split(/\s+/).pop()?.replace(/k$/, ""));
    return Number.isFinite(kBps) ? Math.round((kBps * 1000) / 1024 / 1024) : { skipped: `cannot read: ${line}` };
  } catch (e) {
    return { skipped: (e as Error).message };
  }
}
