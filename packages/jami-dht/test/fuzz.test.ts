import { encodeMsgpack } from "jami-core";
import { createSocket } from "node:dgram";
import { DhtNode, UdpTransport, type DatagramTransport, type SocketAddress } from "jami-dht";
import { packetVectors } from "./vectors.js";

/** Bounded by count, not time: `npm test` feeds 20,000 inputs, `npm run fuzz` a million (DHT_FUZZ_INPUTS). */
const INPUTS = Number(process.env.DHT_FUZZ_INPUTS ?? 20_000);
/** Only a guard against a hang: a slow or busy machine takes as long as it takes. */
const HANG_GUARD_MS = 30 * 60_000;

/** mulberry32: a small seeded PRNG so a failing run can be replayed with DHT_FUZZ_SEED. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A real UDP transport whose receive path the test can also feed directly. */
class InjectableTransport implements DatagramTransport {
  private handler: (data: Uint8Array, from: SocketAddress) => void = () => {};
  constructor(private readonly inner: UdpTransport) {
    inner.onDatagram((d, f) => this.handler(d, f));
  }
  get addresses(): SocketAddress[] {
    return this.inner.addresses;
  }
  send(data: Uint8Array, to: SocketAddress): void {
    this.inner.send(data, to);
  }
  onDatagram(handler: (data: Uint8Array, from: SocketAddress) => void): void {
    this.handler = handler;
  }
  inject(data: Uint8Array, from: SocketAddress): void {
    this.handler(data, from);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

function randomMsgpackish(rand: () => number, depth = 0): unknown {
  const r = rand();
  if (depth > 3 || r < 0.3) {
    const pick = Math.floor(rand() * 7);
    return [null, Math.floor(rand() * 2 ** 32), -Math.floor(rand() * 1000), "q", new Uint8Array(Math.floor(rand() * 40)), true, 2n ** 63n][pick];
  }
  if (r < 0.6) return Array.from({ length: Math.floor(rand() * 5) }, () => randomMsgpackish(rand, depth + 1));
  const keys = [
    "a",
    "r",
    "e",
    "p",
    "u",
    "y",
    "q",
    "t",
    "v",
    "n",
    "id",
    "h",
    "values",
    "token",
    "sid",
    "n4",
    "n6",
    "w",
    "q",
    "s",
    "f",
    "o",
    "d",
    "exp",
    "re",
    "vid",
    "c",
    "sa",
    "target",
    "dat",
    "body",
    "data",
    "type",
    "owner",
    "sig",
    "seq",
  ];
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 6); i > 0; i--) o[keys[Math.floor(rand() * keys.length)]!] = randomMsgpackish(rand, depth + 1);
  return o;
}

function mutate(rand: () => number, base: Uint8Array): Uint8Array {
  const b = Uint8Array.from(base);
  switch (Math.floor(rand() * 5)) {
    case 0: // bit flips
      for (let i = 1 + Math.floor(rand() * 8); i > 0; i--) b[Math.floor(rand() * b.length)]! ^= 1 << Math.floor(rand() * 8);
      return b;
    case 1: // truncation
      return b.subarray(0, Math.floor(rand() * b.length));
    case 2: // random bytes overwritten with interesting values
      for (let i = 1 + Math.floor(rand() * 4); i > 0; i--)
        b[Math.floor(rand() * b.length)] = [0x00, 0xff, 0xc0, 0xdc, 0xdd, 0xde, 0xdf, 0xc6, 0xdb, 0x7f][Math.floor(rand() * 10)]!;
      return b;
    case 3: {
      // splice with another chunk of itself
      const at = Math.floor(rand() * b.length);
      return Uint8Array.from([...b.subarray(0, at), ...b.subarray(Math.floor(rand() * b.length))]);
    }
    default: {
      // huge length headers
      const at = Math.floor(rand() * b.length);
      b.set([0xdd, 0xff, 0xff, 0xff, 0xff].slice(0, b.length - at), at);
      return b;
    }
  }
}

describe("fuzzing a live node", () => {
  it(
    `survives ${INPUTS} random and mutated datagrams and still answers a ping`,
    async () => {
      const seed = Number(process.env.DHT_FUZZ_SEED ?? Date.now() % 1_000_000);
      const rand = prng(seed);
      const transport = new InjectableTransport(await UdpTransport.bind({ host4: "127.0.0.1", port: 0 }));
      const node = await DhtNode.create({ transport, rateLimit: false });
      const sink = createSocket("udp4");
      await new Promise<void>((r) => sink.bind(0, "127.0.0.1", r));
      sink.on("message", () => {});
      const from: SocketAddress = { address: "127.0.0.1", port: sink.address().port, family: 4 };
      const corpus = packetVectors().flatMap((v) => [v.bytes, ...(v.fragments ?? []).map((f) => Buffer.from(f.hex, "hex"))]);
      const heapBefore = process.memoryUsage().heapUsed;
      try {
        for (let i = 0; i < INPUTS; i++) {
          const kind = rand();
          let input: Uint8Array;
          if (kind < 0.2) input = Uint8Array.from({ length: Math.floor(rand() * 1500) }, () => Math.floor(rand() * 256));
          else if (kind < 0.4) input = encodeMsgpack(randomMsgpackish(rand));
          else input = mutate(rand, corpus[Math.floor(rand() * corpus.length)]!);
          transport.inject(input, from);
          if (i % 2000 === 0) await new Promise((r) => setImmediate(r));
        }
        await new Promise((r) => setImmediate(r));
        const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
        expect(heapGrowth).toBeLessThan(200 * 1024 * 1024);
        const stats = node.stats();
        expect(stats.storage.bytes).toBeLessThan(64 * 1024 * 1024);
        // Still alive: a real ping over UDP is answered.
        const pinger = await DhtNode.create({ host: "127.0.0.1", port: 0 });
        try {
          expect((await pinger.ping(`127.0.0.1:${node.addresses[0]!.port}`)).equals(node.id)).toBe(true);
        } finally {
          await pinger.close();
        }
        expect(stats.droppedDatagrams).toBeGreaterThan(INPUTS / 4);
      } catch (e) {
        throw new Error(`fuzz failure with DHT_FUZZ_SEED=${seed}: ${(e as Error).message}`);
      } finally {
        sink.close();
        await node.close();
      }
    },
    HANG_GUARD_MS,
  );
});
