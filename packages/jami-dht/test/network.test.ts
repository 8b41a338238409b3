import { DhtNode, InfoHash, Value } from "jami-dht";
import { eventually, loopbackNetwork } from "./helpers.js";

describe("a loopback network of our nodes", () => {
  let nodes: DhtNode[] = [];
  beforeAll(async () => {
    nodes = await loopbackNetwork(12);
  });
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.close()));
  });

  it("pings and fills routing tables", async () => {
    const id = await nodes[1]!.ping(`127.0.0.1:${nodes[0]!.addresses[0]!.port}`);
    expect(id.equals(nodes[0]!.id)).toBe(true);
    for (const n of nodes) {
      const { good, dubious } = n.stats().ipv4;
      expect(good).toBeGreaterThanOrEqual(1);
      expect(good + dubious).toBeGreaterThanOrEqual(5);
    }
  });

  it("a value put by one node is found by every node", async () => {
    const key = InfoHash.get("network-test-key");
    const value = new Value({ data: "hello", userType: "text/plain" });
    const result = await nodes[3]!.put(key, value);
    expect(result.nodes).toBeGreaterThan(0);
    for (const n of nodes) {
      const got = await n.getAll(key);
      expect(got.map((v) => new TextDecoder().decode(v.data))).toEqual(["hello"]);
    }
  });

  it("listeners get new values and edits pushed", async () => {
    const key = InfoHash.get("listen-test-key");
    const listeners = (): number => nodes.reduce((n, node) => n + node.stats().listeners, 0);
    const before = listeners();
    const sub = nodes[5]!.listen(key);
    const received: string[] = [];
    sub.on("value", (v) => received.push(new TextDecoder().decode(v.data)));
    // Once a storage node holds the listen, a put is pushed to it.
    await eventually(() => listeners() > before);
    await nodes[9]!.put(key, new Value({ data: "pushed" }));
    await eventually(() => received.length > 0);
    expect(received).toEqual(["pushed"]);
    sub.cancel();
  });

  it("a listen starts with the values already there, on every node including storage nodes", async () => {
    const key = InfoHash.get("listen-existing");
    await nodes[2]!.put(key, new Value({ data: "already" }));
    const seen = await Promise.all(
      nodes.map(
        (n) =>
          new Promise<string>((resolve) => {
            const sub = n.listen(key);
            sub.once("value", (v) => {
              sub.cancel();
              resolve(new TextDecoder().decode(v.data));
            });
          }),
      ),
    );
    expect(new Set(seen)).toEqual(new Set(["already"]));
  });

  it("a get can be aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(nodes[0]!.getAll(InfoHash.get("x"), { signal: controller.signal })).rejects.toMatchObject({ code: "ABORTED" });
  });
});

describe("a larger network (30 nodes)", () => {
  it("searches stay cheap and an idle network stays quiet (no ping storms)", async () => {
    const nodes = await loopbackNetwork(30);
    try {
      const keys = Array.from({ length: 20 }, (_, i) => InfoHash.get(`cheap-${i}`));
      for (const [i, k] of keys.entries()) await nodes[i % nodes.length]!.put(k, new Value({ data: "x" }));
      const counts: number[] = [];
      for (const [i, k] of keys.entries()) {
        const n = nodes[(i * 7 + 3) % nodes.length]!;
        const before = n.stats().requestsSent;
        expect(await n.getAll(k)).toHaveLength(1);
        counts.push(n.stats().requestsSent - before);
      }
      const total = (): number => nodes.reduce((n, node) => n + node.stats().requestsSent, 0);
      const before = total();
      // An idle network is quiet: no ping-pong between nodes left out of each other's full buckets. The storm this
      // guards against is driven by messages, not timers (thousands of requests a second even on a slow machine),
      // while a quiet network sends next to nothing: a slower machine only makes the quiet side quieter, so the
      // observation window cannot turn a correct node red.
      await new Promise((r) => setTimeout(r, 2000));
      expect(total() - before).toBeLessThan(nodes.length * 2);
      counts.sort((a, b) => a - b);
      // A search asks about 14–20 nodes; background pings add a few.
      expect(counts[Math.floor(counts.length / 2)]).toBeLessThanOrEqual(30);
      expect(counts[counts.length - 1]).toBeLessThanOrEqual(100);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  });
});
