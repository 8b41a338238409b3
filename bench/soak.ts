import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeHeapSnapshot } from "node:v8";
import { DhtNode } from "jami-dht";
import { Account } from "jami-sdk";
import { slope } from "./slope.js";

/**
 * `npm run soak`: an idle network left running (a DHT node and two accounts that are contacts, nothing else
 * happening), its heap sampled after a forced GC. Prints one JSON line per sample, then the growth over the
 * second half of the run in MB/h, and fails when it is above SOAK_MAX_MB_PER_HOUR (default 1).
 *   SOAK_MINUTES (60)  SOAK_SAMPLE_SECONDS (30)  SOAK_SNAPSHOTS=dir  heap snapshots after warm-up and at the end
 * Not part of `npm test`: it takes its time by design.
 */
const minutes = Number(process.env.SOAK_MINUTES ?? 60);
const sampleMs = Number(process.env.SOAK_SAMPLE_SECONDS ?? 30) * 1000;
const maxMbPerHour = Number(process.env.SOAK_MAX_MB_PER_HOUR ?? 1);
const snapshots = process.env.SOAK_SNAPSHOTS;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc (npm run soak does)");

function heapMb(): { heapUsed: number; rss: number } {
  gc!();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed / 2 ** 20, rss: m.rss / 2 ** 20 };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "jami-soak-"));
  const seed = await DhtNode.create({ host: "127.0.0.1", port: 0 });
  const network = { bootstrap: [`127.0.0.1:${seed.addresses[0]!.port}`], host: "127.0.0.1", iceAddresses: ["127.0.0.1"] };
  const [alice, bob] = await Promise.all([
    Account.create({ dir: join(work, "a"), bits: 2048, ...network }),
    Account.create({ dir: join(work, "b"), bits: 2048, ...network }),
  ]);
  await Promise.all([alice.start(), bob.start()]);
  const requested = new Promise((r) => bob.contacts.once("request", r));
  await alice.contacts.add(bob.jamiId);
  await requested;
  await bob.contacts.accept(alice.jamiId);

  const start = Date.now();
  const end = start + minutes * 60_000;
  const samples: Array<{ t: number; heapUsed: number; rss: number }> = [];
  let snapshotTaken = false;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, Math.min(sampleMs, Math.max(0, end - Date.now()))));
    const t = (Date.now() - start) / 3_600_000;
    const m = heapMb();
    samples.push({ t, ...m });
    console.log(JSON.stringify({ minutes: +(t * 60).toFixed(2), heapUsedMB: +m.heapUsed.toFixed(2), rssMB: +m.rss.toFixed(1) }));
    if (snapshots && !snapshotTaken && Date.now() - start >= (end - start) / 2) {
      mkdirSync(snapshots, { recursive: true });
      writeHeapSnapshot(join(snapshots, "half.heapsnapshot"));
      snapshotTaken = true;
    }
  }
  if (snapshots) writeHeapSnapshot(join(snapshots, "end.heapsnapshot"));
  await Promise.all([alice.stop(), bob.stop()]);
  await seed.close();
  rmSync(work, { recursive: true, force: true });

  // The first half warms up (caches fill, JIT settles); the second half must be flat.
  const late = samples.filter((s) => s.t >= samples[samples.length - 1]!.t / 2);
  const heapSlope = slope(late.map((s) => [s.t, s.heapUsed]));
  const rssSlope = slope(late.map((s) => [s.t, s.rss]));
  const summary = {
    minutes,
    samples: samples.length,
    heapUsedMBPerHour: +heapSlope.toFixed(2),
    rssMBPerHour: +rssSlope.toFixed(2),
    limitMBPerHour: maxMbPerHour,
  };
  console.log(JSON.stringify({ summary }));
  if (heapSlope > maxMbPerHour) {
    console.error(`heap grows by ${heapSlope.toFixed(2)} MB/h while idle (limit ${maxMbPerHour})`);
    process.exitCode = 1;
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
