import { DhtNode, InfoHash, Value } from "jami-dht";
import { addressOf, eventually, LOOPBACK, loopbackNetwork } from "./helpers.js";

/**
 * A node that stopped is still listed by the others for a while. Searches must not let it hold up what can be
 * done without it (OpenDHT announces to nodes as they answer), and must not ask it again once it timed out.
 */
describe("a network with nodes that went away", () => {
  let live: DhtNode[];
  beforeAll(async () => {
    // Seven nodes that all answered each other; three stop, and the others still list them as good.
    const all = await loopbackNetwork(7);
    live = all.slice(0, 4);
    await Promise.all(all.slice(4).map((g) => g.close()));
  });
  afterAll(async () => {
    await Promise.all(live.map((n) => n.close()));
  });

  it("a put with acknowledgedBy returns once stored while a full put still waits for the dead nodes", async () => {
    const fresh = await DhtNode.create({ ...LOOPBACK, bootstrap: [addressOf(live[0]!)] });
    try {
      await fresh.bootstrap();
      await eventually(() => fresh.knownNodes().length > live.length);
      let fullDone = false;
      const full = fresh.put(InfoHash.random(), new Value({ data: "full" })).then((r) => ((fullDone = true), r));
      const key = InfoHash.random();
      const quick = await fresh.put(key, new Value({ data: "quick" }), { acknowledgedBy: 1 });
      expect(quick.nodes).toBeGreaterThanOrEqual(1);
      expect(fullDone).toBe(false);
      const found: string[] = [];
      for await (const v of live[1]!.get(key)) found.push(new TextDecoder().decode(v.data));
      expect(found).toEqual(["quick"]);
      expect((await full).nodes).toBeGreaterThanOrEqual(1);
    } finally {
      await fresh.close();
    }
  });

  it("a node that timed out is not asked again by the next search", async () => {
    const fresh = await DhtNode.create({ ...LOOPBACK, bootstrap: [addressOf(live[0]!)] });
    try {
      await fresh.bootstrap();
      await fresh.findNodes(InfoHash.random());
      expect(fresh.knownNodes().length).toBeGreaterThan(live.length);
      await fresh.findNodes(InfoHash.random());
      const before = fresh.stats().requestsSent;
      await fresh.findNodes(InfoHash.random());
      // Only the live nodes (at most 4 + retries of none): the 3 ghosts would add 3 requests each.
      expect(fresh.stats().requestsSent - before).toBeLessThanOrEqual(live.length);
    } finally {
      await fresh.close();
    }
  });
});
