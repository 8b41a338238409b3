import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { ByteReader, PktReader, SwarmRepository, isSwarmError, parsePack, serveUploadPack, writePack } from "../src/index.js";
import { objectsToSend } from "../src/pack-objects.js";
import { GROUP, nodeFs, tempDir, unpackVector } from "./helpers.js";
import { duplexPair } from "./streams.js";

/**
 * Random inputs for everything that reads bytes from a peer: packs (ours and the system git's, with deltas),
 * pkt-line streams, and whole upload-pack requests to our server. Every input must end in a SwarmError or a
 * result — no other exception, no hang. Memory per input is bounded by the small limits (the zlib-bomb test in
 * wire.test.ts measures it). Deterministic (seeded); SWARM_FUZZ_INPUTS sets the count.
 */
const INPUTS = Number(process.env.SWARM_FUZZ_INPUTS ?? 100_000);
const LIMITS = { maxPackBytes: 1 << 20, maxObjects: 10_000, maxObjectBytes: 1 << 20, maxTotalBytes: 4 << 20 };

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(input: Uint8Array, random: () => number): Uint8Array {
  let out = Uint8Array.from(input);
  const edits = 1 + Math.floor(random() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(random() * Math.max(out.length, 1));
    switch (Math.floor(random() * 5)) {
      case 0:
        out[at] = Math.floor(random() * 256);
        break;
      case 1:
        out = out.subarray(0, at);
        break;
      case 2:
        out = Buffer.concat([
          out.subarray(0, at),
          Uint8Array.from({ length: 1 + Math.floor(random() * 8) }, () => Math.floor(random() * 256)),
          out.subarray(at),
        ]);
        break;
      case 3:
        out = Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + Math.floor(random() * 16)))]);
        break;
      default:
        out[at] = out[at]! ^ (1 << Math.floor(random() * 8));
    }
  }
  return out;
}

const reseal = (pack: Uint8Array): Uint8Array => {
  if (pack.length < 20) return pack;
  const body = pack.subarray(0, pack.length - 20);
  return Buffer.concat([body, createHash("sha1").update(body).digest()]);
};

function expectOurs(error: unknown): void {
  if (!isSwarmError(error)) throw new Error(`not a SwarmError: ${(error as Error)?.stack ?? String(error)}`);
}

describe("fuzz: packs, pkt-lines and upload-pack requests", () => {
  let tmp: ReturnType<typeof tempDir>;
  let repo: SwarmRepository;
  const seeds: Uint8Array[] = [];
  beforeAll(async () => {
    tmp = tempDir();
    repo = await SwarmRepository.open(unpackVector(GROUP, tmp.dir), { fs: nodeFs });
    const oids = [...(await objectsToSend(repo.store, await repo.head(), [])).keys()];
    seeds.push(writePack(await Promise.all(oids.map((oid) => repo.store.read(oid)))));
    // the system git's packs carry deltas (ofs-delta), which our own writer never makes
    const git = spawnSync("git", ["-C", repo.dir, "pack-objects", "--stdout", "--revs", "--window=50", "--depth=10"], { input: "main\n" });
    if (git.status === 0) seeds.push(Uint8Array.from(git.stdout));
  });
  afterAll(() => tmp.cleanup());

  it(`${INPUTS} inputs end in a result or a SwarmError`, async () => {
    const random = rng(0x5eed);
    for (const seed of seeds) expect(parsePack(seed, { limits: LIMITS }).objects.size).toBeGreaterThan(0);
    const packInputs = Math.floor(INPUTS * 0.7);
    let parsed = 0;
    for (let i = 0; i < packInputs; i++) {
      const seed = seeds[i % seeds.length]!;
      const input = i % 2 === 0 ? reseal(mutate(seed, random)) : mutate(seed, random);
      try {
        parsePack(input, { limits: LIMITS });
        parsed++;
      } catch (error) {
        expectOurs(error);
      }
    }
    const requests = ["0032git-upload-pack /" + repo.conversationId + "\0host=x\0" + "0032want " + (await repo.head()) + " side-band-64k\n00000009done\n"];
    const pktInputs = INPUTS - packInputs - 2000;
    for (let i = 0; i < pktInputs; i++) {
      const input = mutate(new TextEncoder().encode(requests[0]!), random);
      const reader = new PktReader(
        new ByteReader(
          (async function* () {
            yield input;
          })(),
        ),
      );
      try {
        for (let n = 0; n < 64 && (await reader.next()) !== undefined; n++);
      } catch (error) {
        expectOurs(error);
      }
    }
    for (let i = 0; i < 2000; i++) {
      const input = mutate(new TextEncoder().encode(requests[0]!), random);
      const [serverSide, clientSide] = duplexPair();
      const serving = serveUploadPack(serverSide, async (id) => (id === repo.conversationId ? repo : undefined)).catch(expectOurs);
      clientSide.on("data", () => undefined);
      clientSide.end(input);
      await serving;
      clientSide.destroy();
    }
    expect(parsed).toBeGreaterThan(0); // some mutations are harmless (e.g. in zlib padding): the parser still works
  }, 900_000); // a fixed number of inputs, however long this machine takes
});
