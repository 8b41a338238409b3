import { encodeMsgpack } from "jami-core";
import { MultiplexedSocket, secureLink, type Channel } from "jami-dtls";
import { icePair, newDevice } from "./helpers.js";

async function linkedSockets(): Promise<[MultiplexedSocket, MultiplexedSocket]> {
  const [alice, bob] = await Promise.all([newDevice(), newDevice()]);
  const [controlled, controlling] = await icePair();
  const [s, c] = await Promise.all([
    secureLink({ transport: controlled, role: "server", identity: alice.device, verifyPeer: () => undefined }),
    secureLink({ transport: controlling, role: "client", identity: bob.device, verifyPeer: () => undefined }),
  ]);
  return [new MultiplexedSocket(s.socket), new MultiplexedSocket(c.socket)];
}

const read = (c: Channel, bytes: number): Promise<Buffer> =>
  new Promise((resolve) => {
    const parts: Buffer[] = [];
    c.on("data", (d: Buffer) => {
      parts.push(d);
      if (Buffer.concat(parts).length >= bytes) resolve(Buffer.concat(parts));
    });
  });

describe("jamid's multiplexed socket over a TLS link", () => {
  let a: MultiplexedSocket;
  let b: MultiplexedSocket;
  beforeAll(async () => {
    [a, b] = await linkedSockets();
    b.setRequestHandler((name) => name === "sip" || name.startsWith("git://"));
    a.setRequestHandler((name) => name === "sync://x");
  });
  afterAll(() => {
    a?.close();
  });

  it("exchanges versions", async () => {
    await new Promise<void>((r) => (a.peerVersion !== undefined ? r() : a.once("version", () => r())));
    expect(a.peerVersion).toBe(1);
  });

  it("opens accepted channels both ways, many on one link, large writes in ≤ 64 KiB frames", async () => {
    const incoming = new Promise<Channel>((r) => b.once("channel", r));
    const sip = await a.openChannel("sip");
    const theirs = await incoming;
    expect([sip.name, theirs.name, theirs.id]).toEqual(["sip", "sip", sip.id]);
    const big = Buffer.alloc(300_000, 7);
    const got = read(theirs, big.length);
    sip.write(big);
    expect((await got).equals(big)).toBe(true);
    const [git, sync] = await Promise.all([a.openChannel("git://dev/conv"), b.openChannel("sync://x")]);
    expect(git.id).not.toBe(sip.id);
    expect(sync.name).toBe("sync://x");
  });

  it("a declined channel rejects with CHANNEL_DECLINED", async () => {
    await expect(a.openChannel("data-transfer://nope")).rejects.toMatchObject({ code: "CHANNEL_DECLINED" });
  });

  it("ending a channel ends it on the other side (empty frame)", async () => {
    const incoming = new Promise<Channel>((r) => b.once("channel", r));
    const ch = await a.openChannel("sip");
    const theirs = await incoming;
    const ended = new Promise<void>((r) => theirs.once("end", () => r()));
    theirs.resume();
    ch.end();
    await ended;
  });

  it("answers beacons", async () => {
    await expect(a.sendBeacon(3000)).resolves.toBeUndefined();
  });
});

describe("a broken link", () => {
  it("garbage on the stream closes the link with PROTOCOL; its channels end with that error", async () => {
    const [a, b] = await linkedSockets();
    b.setRequestHandler(() => true);
    const ch = await a.openChannel("sip");
    const failed = new Promise<Error>((r) => ch.once("error", r));
    const closed = new Promise<unknown>((r) => a.once("close", r));
    // b writes a frame that is not [channel, bin]
    b.stream.write(encodeMsgpack({ not: "a frame" }));
    expect(await closed).toMatchObject({ code: "PROTOCOL" });
    expect(await failed).toMatchObject({ code: "PROTOCOL" });
  });

  it("frames for unknown channels and malformed requests are dropped, the link stays up", async () => {
    const [a, b] = await linkedSockets();
    b.stream.write(encodeMsgpack([1234, new Uint8Array([1, 2, 3])]));
    b.stream.write(encodeMsgpack([0, encodeMsgpack(["sip", "not-a-number", 0])]));
    b.stream.write(encodeMsgpack([0, new Uint8Array([0xc1])]));
    b.setRequestHandler(() => true);
    await expect(a.openChannel("sip")).resolves.toMatchObject({ name: "sip" });
    a.close();
  });

  it("when the peer drops the link, open channels end and new ones fail with LINK_CLOSED", async () => {
    const [a, b] = await linkedSockets();
    b.setRequestHandler(() => true);
    const ch = await a.openChannel("sip");
    const ended = new Promise<void>((r) => ch.once("close", () => r()));
    b.stream.destroy();
    await ended;
    await expect(a.openChannel("sip")).rejects.toMatchObject({ code: "LINK_CLOSED" });
  });

  it("closing a link tears the connection down even when the peer never ends its side", async () => {
    const [alice, bob] = await Promise.all([newDevice(), newDevice()]);
    const [controlled, controlling] = await icePair();
    const [s, c] = await Promise.all([
      secureLink({ transport: controlled, role: "server", identity: alice.device, verifyPeer: () => undefined }),
      secureLink({ transport: controlling, role: "client", identity: bob.device, verifyPeer: () => undefined }),
    ]);
    const a = new MultiplexedSocket(s.socket);
    new MultiplexedSocket(c.socket);
    // The peer's TCP connection stops reading (as jamid 13.7's while its git clone waits): it never ends its side.
    // Only over the ICE stream, as in real links, does a half-closed TLS socket linger (Node's TLS over a plain
    // TCP socket destroys itself after end()), hence the reach into the peer's ICE connection for its TCP socket.
    (controlling as unknown as { link: { socket: { pause(): void } } }).link.socket.pause();
    // Without the multiplexer's close grace, the ICE layer would end it later (its consent check finds the
    // connection half-closed): the test tells the two apart by who destroyed the TLS stream, not by the time.
    const destroyedBy: string[] = [];
    const destroy = a.stream.destroy.bind(a.stream);
    a.stream.destroy = (error?: Error) => {
      // The grace is a timer in multiplexer.ts; anything else (ICE, TLS internals) comes from another stack.
      const stack = new Error().stack ?? "";
      destroyedBy.push(stack.includes("listOnTimeout") && stack.includes("multiplexer.ts") ? "close grace" : "other");
      return destroy(error);
    };
    const gone = new Promise<void>((r) => a.stream.once("close", () => r()));
    a.close();
    await gone;
    expect(destroyedBy[0]).toBe("close grace");
    controlling.destroy();
  });
});
