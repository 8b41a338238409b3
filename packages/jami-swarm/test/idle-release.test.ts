import { cpSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { DeviceIdentity } from "jami-identity";
import { SwarmRepository, releaseIdleSharedCaches, type GitFs } from "../src/index.js";
import { CertificateCache, releaseIdleCertificates } from "../src/members.js";
import { ObjectStore, recentObjectsHeld, releaseIdleRecentObjects } from "../src/objects.js";
import { fetchOver, newAccount, nodeFs, tempDir } from "./helpers.js";
import { countingFs } from "../../../test-support/counting-fs.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const heapAndExternal = (): number => process.memoryUsage().heapUsed + process.memoryUsage().external;

/**
 * JS heap and external memory once collected: V8 frees buffers' memory on a concurrent sweeper, so `external` still
 * counts what a collection freed until that has run (in one full `npm test`, the first reading stood 72 MB above the
 * next): collected again until the figure stops falling.
 */
async function liveHeap(): Promise<number> {
  let last = Infinity;
  for (let round = 0; round < 20; round++) {
    gc();
    gc();
    await new Promise((r) => setTimeout(r, 20));
    const now = heapAndExternal();
    if (last - now < 64 << 10) return now;
    last = now;
  }
  return last;
}

describe("what repositories keep in memory to go faster is let go when they sit idle", () => {
  let tmp: ReturnType<typeof tempDir>;
  let alice: DeviceIdentity, bob: DeviceIdentity;
  let cloneDir: string;
  const MESSAGES = 300;

  beforeAll(async () => {
    tmp = tempDir();
    [alice, bob] = [(await newAccount()).devices[0]!, (await newAccount()).devices[0]!];
    const a = await SwarmRepository.create(join(tmp.dir, "a"), { mode: 2 }, { fs: nodeFs, author: { device: alice } });
    await a.addMember(bob.certificate.issuer.uid!);
    for (let i = 0; i < MESSAGES; i++) await a.sendText(`message ${i} `.repeat(20));
    const fetched = await fetchOver(a, undefined);
    const b = await SwarmRepository.clone(
      join(tmp.dir, a.conversationId),
      { conversationId: a.conversationId, remoteDevice: "a".repeat(64), head: fetched.head, pack: fetched.pack! },
      { fs: nodeFs },
    );
    cloneDir = b.dir;
  });
  afterAll(() => tmp.cleanup());

  it("a cloned history used since the last release is kept; left alone one whole period, its pack is read from disk again, with the same answers", async () => {
    const counting = countingFs<GitFs>("/objects/pack/");
    const repo = await SwarmRepository.open(cloneDir, { fs: counting.fs });
    const history = await repo.load();
    const members = await repo.members();
    expect(history.length).toBeGreaterThan(MESSAGES);
    const loaded = counting.reads();
    expect(loaded).toBeGreaterThan(0);

    repo.releaseIdle(); // used since it was opened: kept
    expect(await repo.load()).toEqual(history);
    repo.releaseIdle(); // used again in between: kept
    expect(await repo.load({ n: 10 })).toEqual(history.slice(0, 10));
    expect(counting.reads()).toBe(loaded);

    repo.releaseIdle();
    repo.releaseIdle(); // nothing asked for a whole period: let go
    expect(counting.reads()).toBe(loaded);
    expect(await repo.load()).toEqual(history);
    expect(await repo.members()).toEqual(members);
    expect(counting.reads()).toBeGreaterThan(loaded);
  });

  it("twenty idle cloned conversations hold what their objects cost, not their histories (live heap)", async () => {
    const COPIES = 20;
    const packBytes = readdirSync(join(cloneDir, ".git", "objects", "pack"))
      .filter((n) => n.endsWith(".pack"))
      .reduce((sum, n) => sum + readFileSync(join(cloneDir, ".git", "objects", "pack", n)).byteLength, 0);
    const dirs: string[] = [];
    for (let i = 0; i < COPIES; i++) {
      // named by the conversation, as on an account
      dirs.push(join(tmp.dir, "copies", String(i), cloneDir.split("/").pop()!));
      cpSync(cloneDir, dirs[i]!, { recursive: true });
    }
    // once through first, not counted: the code compiled on the way, and what the clone left in the shared caches
    const warmUp = await SwarmRepository.open(cloneDir, { fs: nodeFs });
    await warmUp.load();
    const twoIdlePeriods = (repos: SwarmRepository[]): void => {
      for (let period = 0; period < 2; period++) {
        for (const repo of repos) repo.releaseIdle();
        releaseIdleRecentObjects();
        releaseIdleCertificates();
      }
    };
    twoIdlePeriods([warmUp]);
    const none = await liveHeap();
    const repos: SwarmRepository[] = [];
    for (const dir of dirs) repos.push(await SwarmRepository.open(dir, { fs: nodeFs }));
    for (const repo of repos) await repo.load();
    const used = await liveHeap();
    twoIdlePeriods(repos);
    const idle = await liveHeap();
    // in use, each holds at least its pack (the display order and parsed trees besides); idle, a few KB (the bound
    // leaves room for what the collector does not settle: ±1 MB over the whole, in either direction)
    expect(used - idle).toBeGreaterThan(COPIES * packBytes);
    expect(idle - none).toBeLessThan(COPIES * 50_000);
    expect(repos.length).toBe(COPIES);
  });

  it("the recent objects every repository shares: kept while read, dropped after a whole period unread", async () => {
    const dir = tempDir();
    try {
      const store = new ObjectStore(nodeFs, dir.dir);
      const kept = await store.write("blob", new TextEncoder().encode("read every period"));
      const dropped = await store.write("blob", new TextEncoder().encode("read once"));
      await store.read(dropped);
      await store.read(kept);
      releaseIdleRecentObjects();
      const before = recentObjectsHeld().objects;
      await store.read(kept);
      releaseIdleRecentObjects(); // `dropped` unread for a whole period
      expect(recentObjectsHeld().objects).toBe(before - 1);
      releaseIdleRecentObjects(); // and now `kept` too
      expect(recentObjectsHeld().objects).toBe(before - 2);
      // gone from memory, still in the repository
      expect(new TextDecoder().decode((await store.read(dropped)).content)).toBe("read once");
    } finally {
      dir.cleanup();
    }
  });

  it("releases of the shared caches closer than half a period apart count once (several accounts, each on its own timer)", async () => {
    const dir = tempDir();
    try {
      const store = new ObjectStore(nodeFs, dir.dir);
      const oid = await store.write("blob", new TextEncoder().encode("one object"));
      releaseIdleRecentObjects();
      releaseIdleRecentObjects(); // what earlier tests left: gone
      releaseIdleSharedCaches({ now: 1_000_000, periodMs: 30_000 });
      await store.read(oid);
      const held = recentObjectsHeld().objects;
      expect(held).toBe(1);
      releaseIdleSharedCaches({ now: 1_030_000, periodMs: 30_000 }); // read in this period: kept
      releaseIdleSharedCaches({ now: 1_031_000, periodMs: 30_000 }); // another account's timer, 1 s later: nothing
      releaseIdleSharedCaches({ now: 1_044_000, periodMs: 30_000 }); // and 14 s later: nothing
      expect(recentObjectsHeld().objects).toBe(held);
      releaseIdleSharedCaches({ now: 1_060_000, periodMs: 30_000 }); // a whole period unread: dropped
      expect(recentObjectsHeld().objects).toBe(held - 1);
    } finally {
      dir.cleanup();
    }
  });

  it("parsed certificates: the same ones while in use, parsed again after a whole period unused", async () => {
    const pem = new TextEncoder().encode(bob.certificate.toPem());
    const store = new ObjectStore(nodeFs, join(tmp.dir, "certs"));
    mkdirSync(store.gitdir, { recursive: true });
    const oid = await store.write("blob", pem);
    const cache = new CertificateCache(store);
    const first = await cache.chain(oid);
    releaseIdleCertificates();
    expect(await cache.chain(oid)).toBe(first);
    releaseIdleCertificates();
    releaseIdleCertificates();
    const again = await new CertificateCache(store).chain(oid);
    expect(again).not.toBe(first);
    expect(again[0]!.toPem()).toBe(first[0]!.toPem());
  });
});
