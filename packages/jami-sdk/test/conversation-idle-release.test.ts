import { MemoryDht } from "jami-dht";
import type { GitFs } from "jami-swarm";
import { Conversations } from "../src/features/conversations.js";
import { newTestDevice, type TestDevice } from "../../../test-support/components.js";
import { countingFs } from "../../../test-support/counting-fs.js";

/** A timer the test fires by hand. */
function manualTimer(): { every: (ms: number, fn: () => void) => () => void; fire: () => void; periods: number[]; running: () => boolean } {
  const periods: number[] = [];
  let fn: (() => void) | undefined;
  return {
    every: (ms, f) => {
      periods.push(ms);
      fn = f;
      return () => (fn = undefined);
    },
    fire: () => fn?.(),
    periods,
    running: () => fn !== undefined,
  };
}

describe("conversations let go of their caches when idle", () => {
  let dht: MemoryDht;
  let a: TestDevice, b: TestDevice;
  beforeEach(async () => {
    dht = new MemoryDht();
    [a, b] = await Promise.all([newTestDevice(dht), newTestDevice(dht)]);
    await Promise.all([a.start(), b.start()]);
    await a.components.links.start();
    await b.components.links.start();
  });
  afterEach(async () => {
    await a.components.links.stop();
    await b.components.links.stop();
    await Promise.all([a.stop(), b.stop()]);
  });

  it("a cloned conversation idle for a whole period is read from disk again, with the same messages; one in use is not; the timer ends with the feature", async () => {
    const ca = new Conversations(a.components, { cacheReleaseMs: 0 });
    const timer = manualTimer();
    let clock = 1_000_000;
    const counting = countingFs<GitFs>("/objects/pack/");
    const cb = new Conversations(b.components, { fs: counting.fs, cacheReleaseMs: 45_000, every: timer.every, now: () => clock });
    for (const conv of [ca, cb]) {
      await conv.load();
      await conv.start();
    }
    try {
      expect(timer.periods).toEqual([45_000]);
      const group = await ca.create();
      await group.addMember(b.local.jamiId.toString());
      for (let i = 0; i < 50; i++) await group.sendText(`message ${i}`);
      const copy = await cb.clone(group.conversationId, a.local.jamiId.toString());
      const id = copy.conversationId;
      const history = await cb.loadMessages(id);
      expect(history.length).toBeGreaterThan(50);
      const read = counting.reads();

      // used in every period: nothing read again
      for (let period = 0; period < 3; period++) {
        clock += 45_000;
        timer.fire();
        expect(await cb.loadMessages(id, { n: 5 })).toEqual(history.slice(0, 5));
      }
      expect(counting.reads()).toBe(read);

      // a whole period unused: let go, and read again when next asked
      clock += 45_000;
      timer.fire();
      clock += 45_000;
      timer.fire();
      expect(await cb.loadMessages(id)).toEqual(history);
      expect(counting.reads()).toBeGreaterThan(read);
    } finally {
      await ca.stop();
      await cb.stop();
    }
    expect(timer.running()).toBe(false);
  });
});
