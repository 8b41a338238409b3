import { encodeMsgpack } from "jami-core";
import { DhtNode, InfoHash, Value } from "jami-dht";
import { buildFind, buildListen, buildPing, buildPut, buildRefresh } from "../src/messages.js";
import { RateLimiter } from "../src/rate-limiter.js";
import { TokenIssuer } from "../src/tokens.js";
import { LOOPBACK, addressOf, loopbackNetwork, RawPeer } from "./helpers.js";

const env = (tid: number, network = 0) => ({ tid, network });

describe("answers on the wire", () => {
  let node: DhtNode;
  let peer: RawPeer;
  beforeAll(async () => {
    node = await DhtNode.create(LOOPBACK);
    peer = await RawPeer.open();
  });
  afterAll(async () => {
    await peer.close();
    await node.close();
  });

  it("ping → pong with our address as seen (sa) and user agent RNG1", async () => {
    peer.send(buildPing(env(1), peer.id), node);
    const pong = await peer.reply(1);
    expect(pong).toMatchObject({ kind: "reply", requesterIp: "127.0.0.1", userAgent: "RNG1" });
    expect(pong.id!.equals(node.id)).toBe(true);
  });

  it("errors 203 (no hash), 401 (bad token), 404 (refresh of unknown value)", async () => {
    const key = InfoHash.get("wire");
    const find = buildFind(env(3), peer.id, key);
    peer.send(find, node);
    const { token } = await peer.reply(3);
    expect(token).toHaveLength(32);
    // get without h: hand-made, since our builder always writes h.
    peer.send(encodeMsgpack({ a: { id: peer.id.bytes }, q: "get", t: 4, y: "q", v: "RNG1" }), node);
    expect((await peer.reply(4)).error!.code).toBe(203);
    const value = new Value({ data: "x" });
    peer.send(buildPut(env(5), peer.id, key, [value.toMsg()], new Uint8Array(32)), node);
    expect((await peer.reply(5)).error!.code).toBe(401);
    peer.send(buildListen(env(6), peer.id, key, new Uint8Array(32), 9), node);
    expect((await peer.reply(6)).error!.code).toBe(401);
    peer.send(buildRefresh(env(7), peer.id, key, 12345n, token!), node);
    expect((await peer.reply(7)).error!.code).toBe(404);
    peer.send(buildPut(env(8), peer.id, key, [value.toMsg()], token!), node);
    expect((await peer.reply(8)).vid).toBe(value.id);
    peer.send(buildRefresh(env(9), peer.id, key, value.id, token!), node);
    expect((await peer.reply(9)).vid).toBe(value.id);
  });

  it("drops messages of another network and unknown queries silently", async () => {
    peer.send(buildPing(env(20, 5), peer.id), node);
    peer.send(encodeMsgpack({ a: { id: peer.id.bytes }, q: "bogus", t: 21, y: "q", v: "RNG1" }), node);
    await expect(peer.reply(20, 500)).rejects.toThrow();
    await expect(peer.reply(21, 200)).rejects.toThrow();
  });
});

describe("network ids, fragmentation and IPv6", () => {
  it("nodes of different network ids do not talk", async () => {
    const a = await DhtNode.create({ ...LOOPBACK, network: 7 });
    const b = await DhtNode.create({ ...LOOPBACK, network: 0 });
    const c = await DhtNode.create({ ...LOOPBACK, network: 7 });
    try {
      await expect(b.ping(addressOf(a))).rejects.toMatchObject({ code: "TIMEOUT" });
      expect((await c.ping(addressOf(a))).equals(a.id)).toBe(true);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it("large values travel as fragments both ways", async () => {
    const nodes = await loopbackNetwork(5);
    try {
      const key = InfoHash.get("big");
      const data = new Uint8Array(40_000).map((_, i) => i % 251);
      await nodes[1]!.put(key, new Value({ data }));
      const got = await nodes[4]!.getAll(key);
      expect(Buffer.from(got[0]!.data).equals(Buffer.from(data))).toBe(true);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  });

  it("runs on IPv6 (::1)", async () => {
    const a = await DhtNode.create({ host: false, host6: "::1", port: 0, rateLimit: false });
    const b = await DhtNode.create({ host: false, host6: "::1", port: 0, rateLimit: false, bootstrap: [`[::1]:${a.addresses[0]!.port}`] });
    try {
      await b.bootstrap();
      await a.put(InfoHash.get("v6"), new Value({ data: "over ipv6" }));
      expect((await b.getAll(InfoHash.get("v6"))).map((v) => new TextDecoder().decode(v.data))).toEqual(["over ipv6"]);
      expect(b.stats().ipv6.good).toBe(1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe("tokens and rate limits", () => {
  const addr = { address: "127.0.0.1", port: 4000, family: 4 } as const;
  it("a token is bound to the requester's address and survives one rotation, not two", () => {
    const t = new TokenIssuer(0);
    const token = t.issue(addr, 0);
    expect(t.check(token, addr, 1)).toBe(true);
    expect(t.check(token, { ...addr, port: 4001 }, 1)).toBe(false);
    t.rotate(2);
    expect(t.check(token, addr, 3)).toBe(true);
    t.rotate(4);
    expect(t.check(token, addr, 5)).toBe(false);
  });

  it("limits each IP to its share of a one-second window", () => {
    const r = new RateLimiter(100, 10);
    const allowed = Array.from({ length: 20 }, () => r.allow("10.0.0.1", 1000)).filter(Boolean).length;
    expect(allowed).toBe(10);
    expect(r.allow("10.0.0.2", 1000)).toBe(true);
    expect(r.allow("10.0.0.1", 2001)).toBe(true);
  });
});
