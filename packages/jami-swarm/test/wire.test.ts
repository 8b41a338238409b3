import { spawn, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { Duplex } from "node:stream";
import { join, resolve } from "node:path";
import { deflateSync } from "node:zlib";
import { createHash } from "node:crypto";
import { SwarmRepository, fetchPack, parsePack, writePack, verifyConversation, PktReader, ByteReader, pkt, serveUploadPack } from "../src/index.js";
import { itWith } from "../../../test-support/tools.js";
import { GROUP, fetchOver, gitCli, newAccount, nodeFs, tempDir, unpackVector } from "./helpers.js";
import { duplexPair } from "./streams.js";

const ROOT = resolve(__dirname, "../../..");

describe("git's wire: our upload-pack server and client against the system git", () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir()));
  afterEach(() => tmp.cleanup());

  itWith("git")("our client clones jamid's repository from `git daemon --inetd` (git:// request line, side-band-64k)", async () => {
    mkdirSync(join(tmp.dir, "served"));
    const source = unpackVector(GROUP, join(tmp.dir, "served"));
    const daemon = spawn("git", ["daemon", "--inetd", "--export-all", `--base-path=${join(tmp.dir, "served")}`, join(tmp.dir, "served")], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    const stream = Duplex.from({ readable: daemon.stdout, writable: daemon.stdin });
    const closed = new Promise((r) => daemon.on("close", r));
    const fetched = await fetchPack(stream, { conversationId: GROUP, host: "5711c5425d683401691410ed6b8ffb4e0daac29a0d139728beda2fabda9050e6" });
    await closed;
    expect(fetched.head).toBe(gitCli(source, "rev-parse", "main").trim());
    const repo = await SwarmRepository.clone(
      join(tmp.dir, "ours"),
      { conversationId: GROUP, remoteDevice: "5711c5425d683401691410ed6b8ffb4e0daac29a0d139728beda2fabda9050e6", head: fetched.head, pack: fetched.pack! },
      { fs: nodeFs },
    );
    expect((await repo.load()).length).toBe(4);
    gitCli(repo.dir, "fsck", "--strict");
    expect(gitCli(repo.dir, "remote", "-v")).toContain(`git://5711c5425d683401691410ed6b8ffb4e0daac29a0d139728beda2fabda9050e6/${GROUP}`);
  });

  itWith("git")("the system git clones and then fetches incrementally from our server", async () => {
    const { devices } = await newAccount();
    const ours = await SwarmRepository.create(join(tmp.dir, "ours"), { mode: 2 }, { fs: nodeFs, author: { device: devices[0]! } });
    for (let i = 0; i < 20; i++) await ours.sendText(`message ${i}`);
    const bridge = `ext::node --import ${join(ROOT, "node_modules/tsx/dist/loader.mjs")} ${join(__dirname, "git-bridge.ts")} ${ours.dir} %G/${ours.conversationId}`;
    const env = { ...process.env, GIT_TERMINAL_PROMPT: "0", TSX_TSCONFIG_PATH: join(ROOT, "tsconfig.json") };
    const clone = spawnSync("git", ["-c", "protocol.ext.allow=always", "-c", "protocol.version=0", "clone", "-q", bridge, join(tmp.dir, "theirs")], {
      cwd: ROOT,
      env,
      encoding: "utf8",
    });
    expect(clone.stderr).toBe("");
    expect(clone.status).toBe(0);
    const theirs = join(tmp.dir, "theirs");
    expect(gitCli(theirs, "rev-parse", "HEAD").trim()).toBe(await ours.head());
    gitCli(theirs, "fsck", "--strict");
    await ours.sendText("one more");
    const fetch = spawnSync("git", ["-c", "protocol.ext.allow=always", "-c", "protocol.version=0", "-C", theirs, "fetch", "-q", "origin"], {
      cwd: ROOT,
      env,
      encoding: "utf8",
    });
    expect(fetch.stderr).toBe("");
    expect(fetch.status).toBe(0);
    expect(gitCli(theirs, "rev-parse", "origin/main").trim()).toBe(await ours.head());
    gitCli(theirs, "merge", "-q", "--ff-only", "origin/main");
    gitCli(theirs, "fsck", "--strict");
    const verified = await verifyConversation(theirs, { fs: nodeFs });
    expect(verified.commits).toBe(22);
  });

  it("one channel, several fetches: the server waits for the next request after each pack, as jamid's does", async () => {
    const { devices } = await newAccount();
    const ours = await SwarmRepository.create(join(tmp.dir, "ours"), { mode: 2 }, { fs: nodeFs, author: { device: devices[0]! } });
    const [serverSide, clientSide] = duplexPair();
    const serving = serveUploadPack(serverSide, async () => ours);
    const reader = new ByteReader(clientSide);
    const first = await fetchPack(clientSide, { conversationId: ours.conversationId, host: "h" }, { keepOpen: true, reader });
    const next = await ours.sendText("after the first fetch");
    const second = await fetchPack(clientSide, { conversationId: ours.conversationId, host: "h", haves: [first.head] }, { keepOpen: true, reader });
    expect(second.head).toBe(next);
    expect(parsePack(second.pack!).objects.has(next)).toBe(true);
    expect(parsePack(second.pack!).objects.has(first.head)).toBe(false);
    clientSide.end();
    await serving;
  });

  it("onAnswered fires when the server has answered `done`, before its pack (jami-sdk acknowledges there)", async () => {
    // a server that, like jamid's, writes its NAK and then the pack separately; here the pack waits for the hook
    const [server, client] = duplexPair();
    let answered!: () => void;
    const hookCalled = new Promise<void>((r) => (answered = r));
    const seen: string[] = [];
    void (async () => {
      const lines = new PktReader(new ByteReader(server));
      await lines.next(); // git-upload-pack request
      server.write(Buffer.concat([pkt(`${"a".repeat(40)} HEAD\0side-band-64k\n`), Buffer.from("0000")]));
      for (let line = await lines.line(); line !== "done" && line !== undefined; line = await lines.line());
      server.write(pkt("NAK\n"));
      await hookCalled;
      seen.push("pack sent");
      server.write(Buffer.concat([pkt(Buffer.concat([Buffer.from([1]), Buffer.from("PACK bytes")])), Buffer.from("0000")]));
    })();
    const fetched = await fetchPack(
      client,
      { conversationId: "b".repeat(40), host: "c".repeat(64), haves: ["d".repeat(40)] },
      {
        keepOpen: true,
        onAnswered: () => {
          seen.push("answered");
          answered();
        },
      },
    );
    expect(new TextDecoder().decode(fetched.pack)).toBe("PACK bytes");
    expect(seen).toEqual(["answered", "pack sent"]);
  });

  it("a want that is not the advertised head (another commit, a blob) is a protocol error, not a pack", async () => {
    const { devices } = await newAccount();
    const ours = await SwarmRepository.create(join(tmp.dir, "ours"), { mode: 2 }, { fs: nodeFs, author: { device: devices[0]! } });
    const older = await ours.head();
    await ours.sendText("newer");
    const [serverSide, clientSide] = duplexPair();
    const serving = serveUploadPack(serverSide, async () => ours);
    const received: Buffer[] = [];
    clientSide.on("data", (d: Buffer) => received.push(d));
    clientSide.write(pkt(`git-upload-pack /${ours.conversationId}\0host=x\0`));
    clientSide.write(pkt(`want ${older} side-band-64k\n`));
    clientSide.write("0000");
    clientSide.write(pkt("done\n"));
    await expect(serving).rejects.toMatchObject({ code: "PROTOCOL" });
    expect(Buffer.concat(received).includes(Buffer.from("PACK"))).toBe(false);
    clientSide.end();
  });

  it("a peer asking for a conversation we do not serve gets ERR, and our client a typed error", async () => {
    const { devices } = await newAccount();
    const ours = await SwarmRepository.create(join(tmp.dir, "ours"), { mode: 2 }, { fs: nodeFs, author: { device: devices[0]! } });
    await expect(fetchOver(ours, undefined, "3".repeat(40))).rejects.toMatchObject({ code: "PROTOCOL", message: expect.stringContaining("refused") });
  });
});

describe("hostile streams and packs", () => {
  const read = async (bytes: Uint8Array | string) =>
    new PktReader(
      new ByteReader(
        (async function* () {
          yield typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
        })(),
      ),
    ).next();

  it("pkt-lines: non-hex, out-of-range and truncated lengths are PROTOCOL errors", async () => {
    await expect(read("zzzz")).rejects.toMatchObject({ code: "PROTOCOL" });
    await expect(read("ffff" + "x".repeat(100))).rejects.toMatchObject({ code: "PROTOCOL" });
    await expect(read("0002")).rejects.toMatchObject({ code: "PROTOCOL" });
    await expect(read("0010abc")).rejects.toMatchObject({ code: "PROTOCOL" });
    expect(await read("0000")).toBe("flush");
    expect(() => pkt(new Uint8Array(65520))).toThrow(expect.objectContaining({ code: "PROTOCOL" }));
  });

  it("a server that sends a pack larger than allowed is cut off with PACK_TOO_LARGE", async () => {
    const [server, client] = duplexPair();
    void (async () => {
      server.write(pkt(`${"a".repeat(40)} HEAD\0side-band-64k\n`));
      server.write("0000");
      server.write(pkt("NAK\n"));
      for (let i = 0; i < 10; i++) server.write(pkt(Buffer.concat([Buffer.from([1]), Buffer.alloc(60000)])));
      server.end();
    })();
    await expect(fetchPack(client, { conversationId: "b".repeat(40), host: "c".repeat(64) }, { maxPackBytes: 100_000 })).rejects.toMatchObject({
      code: "PACK_TOO_LARGE",
    });
  });

  const object = { type: "blob" as const, content: new TextEncoder().encode("hello") };
  const reseal = (pack: Uint8Array): Uint8Array => {
    const body = pack.subarray(0, pack.length - 20);
    return Buffer.concat([body, createHash("sha1").update(body).digest()]);
  };

  it("packs that lie: checksum, object count, sizes, deltas, trailing bytes", () => {
    const good = writePack([object]);
    expect(parsePack(good).objects.size).toBe(1);
    const flipped = Uint8Array.from(good);
    flipped[20] = flipped[20]! ^ 1;
    expect(() => parsePack(flipped)).toThrow(expect.objectContaining({ code: "PACK_INVALID" }));
    const moreObjects = Uint8Array.from(good);
    moreObjects[11] = 2;
    expect(() => parsePack(reseal(moreObjects))).toThrow(expect.objectContaining({ code: "PACK_INVALID" }));
    const wrongSize = Uint8Array.from(good);
    wrongSize[12] = (wrongSize[12]! & 0xf0) | 4; // says 4 bytes, inflates to 5
    expect(() => parsePack(reseal(wrongSize))).toThrow(expect.objectContaining({ code: "PACK_INVALID" }));
    const trailing = Buffer.concat([good.subarray(0, good.length - 20), Buffer.from("junk")]);
    expect(() => parsePack(reseal(Buffer.concat([trailing, Buffer.alloc(20)])))).toThrow(expect.objectContaining({ code: "PACK_INVALID" }));
    // a ref-delta on an object the pack does not carry
    const header = Buffer.alloc(12);
    header.write("PACK", 0);
    header.writeUInt32BE(2, 4);
    header.writeUInt32BE(1, 8);
    const delta = Buffer.concat([Buffer.from([0x75]), Buffer.alloc(20, 7), deflateSync(Buffer.from([5, 5, 0x90, 5]))]);
    expect(() => parsePack(reseal(Buffer.concat([header, delta, Buffer.alloc(20)])))).toThrow(expect.objectContaining({ code: "PACK_INVALID" }));
  });

  it("zlib bombs: an object inflating past its size, or objects past the total, are refused without inflating them whole", () => {
    const header = Buffer.alloc(12);
    header.write("PACK", 0);
    header.writeUInt32BE(2, 4);
    header.writeUInt32BE(1, 8);
    const bomb = deflateSync(Buffer.alloc(50 * 1024 * 1024)); // 50 MiB of zeros in ~50 KB
    const entry = Buffer.concat([Buffer.from([0x3a]), bomb]); // a blob that claims 10 bytes
    const before = process.memoryUsage().arrayBuffers;
    expect(() => parsePack(reseal(Buffer.concat([header, entry, Buffer.alloc(20)])))).toThrow(expect.objectContaining({ code: "PACK_INVALID" }));
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(10 * 1024 * 1024);
    const many = writePack(Array.from({ length: 20 }, (_, i) => ({ type: "blob" as const, content: new Uint8Array(1000).fill(i) })));
    expect(() => parsePack(many, { limits: { maxTotalBytes: 10_000 } })).toThrow(expect.objectContaining({ code: "PACK_TOO_LARGE" }));
    expect(() => parsePack(many, { limits: { maxObjectBytes: 999 } })).toThrow(expect.objectContaining({ code: "PACK_TOO_LARGE" }));
    expect(() => parsePack(many, { limits: { maxObjects: 19 } })).toThrow(expect.objectContaining({ code: "PACK_TOO_LARGE" }));
  });

  it("a fetch whose pack does not carry the advertised head changes nothing", async () => {
    const tmp = tempDir();
    try {
      const { devices } = await newAccount();
      const ours = await SwarmRepository.create(join(tmp.dir, "ours"), { mode: 2 }, { fs: nodeFs, author: { device: devices[0]! } });
      const head = await ours.head();
      await expect(ours.applyFetch("d".repeat(64), "e".repeat(40), writePack([object]))).rejects.toMatchObject({ code: "PACK_INVALID" });
      expect(await ours.head()).toBe(head);
    } finally {
      tmp.cleanup();
    }
  });
});
