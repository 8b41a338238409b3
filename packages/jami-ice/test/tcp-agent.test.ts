import { createConnection, createServer, type AddressInfo, type Socket } from "node:net";
import { waitFor } from "../../../test-support/events.js";
import { IceTcpAgent, frame, StunMessage, StunMethod, StunAttr, StunClass, decodeStun, FrameReader, MAX_SPARE_CONNECTIONS, type IceConnection } from "jami-ice";

const LOOPBACK = { addresses: ["127.0.0.1"] };

async function pair(): Promise<[IceConnection, IceConnection, IceTcpAgent, IceTcpAgent]> {
  const [controlled, controlling] = await Promise.all([
    IceTcpAgent.create({ ...LOOPBACK, controlling: false }),
    IceTcpAgent.create({ ...LOOPBACK, controlling: true }),
  ]);
  const [a, b] = await Promise.all([controlled.connect(controlling.local), controlling.connect(controlled.local)]);
  return [a, b, controlled, controlling];
}

describe("ICE-TCP between two of our agents on 127.0.0.1", () => {
  it("gathers a passive and an active host candidate per address", async () => {
    const agent = await IceTcpAgent.create({ ...LOOPBACK, controlling: false });
    expect(agent.local.candidates.map((c) => `${c.tcpType} ${c.port === 9 ? "9" : "port"}`)).toEqual(["passive port", "active 9"]);
    expect(agent.local.ufrag.length).toBeGreaterThanOrEqual(4);
    expect(agent.local.pwd.length).toBeGreaterThanOrEqual(22);
    agent.close();
  });

  it("offers a simultaneous-open candidate (its own free port) when asked; an so-only agent against a passive peer still links", async () => {
    const agent = await IceTcpAgent.create({ ...LOOPBACK, controlling: false, tcpTypes: ["passive", "active", "so"] });
    const so = agent.local.candidates.find((c) => c.tcpType === "so")!;
    expect(so).toMatchObject({ type: "host", transport: "TCP", address: "127.0.0.1" });
    expect(so.port).not.toBe(9);
    expect(so.port).not.toBe(agent.local.candidates.find((c) => c.tcpType === "passive")!.port);
    agent.close();
    // so pairs only with so (RFC 6544 §6.2): with none on the other side, the passive/active pairs carry the link.
    const [soOnly, plain] = await Promise.all([
      IceTcpAgent.create({ ...LOOPBACK, controlling: false, tcpTypes: ["so", "passive"] }),
      IceTcpAgent.create({ ...LOOPBACK, controlling: true }),
    ]);
    const [x, y] = await Promise.all([soOnly.connect(plain.local), plain.connect(soOnly.local)]);
    expect(y.remoteAddress.port).toBe(soOnly.local.candidates.find((c) => c.tcpType === "passive")!.port);
    x.destroy();
    y.destroy();
    soOnly.close();
    plain.close();
  });

  it("checks, nominates one connection and carries data both ways, large writes split in frames", async () => {
    const [a, b] = await pair();
    const big = Buffer.alloc(200_000, 0xab);
    const received: Buffer[] = [];
    const got = new Promise<void>((resolve) =>
      b.on("data", (d: Buffer) => {
        received.push(d);
        if (Buffer.concat(received).length >= big.length + 5) resolve();
      }),
    );
    a.write("hello");
    a.write(big);
    await got;
    expect(Buffer.concat(received).subarray(0, 5).toString()).toBe("hello");
    expect(Buffer.concat(received).length).toBe(big.length + 5);
    const back = new Promise<string>((resolve) => a.once("data", (d: Buffer) => resolve(d.toString())));
    b.write("world");
    expect(await back).toBe("world");
    const ended = new Promise<void>((resolve) => a.once("close", () => resolve()));
    b.destroy();
    await ended;
  });

  it("keeps the negotiation's other TCP connections open as long as the chosen one (jamid's pjnath polls a closed one every 500 ms)", async () => {
    // both agents dial each other's passive candidate: two connections form, one is chosen
    const [a, b] = await pair();
    await waitFor(() => a.idleConnections + b.idleConnections >= 1, { what: "the other connection kept" });
    const kept = a.idleConnections + b.idleConnections;
    // traffic on the chosen one does not end them
    const back = new Promise<string>((resolve) => b.once("data", (d: Buffer) => resolve(d.toString())));
    a.write("ping");
    expect(await back).toBe("ping");
    expect(a.idleConnections + b.idleConnections).toBe(kept);
    // they end with it
    a.destroy();
    await waitFor(() => a.idleConnections === 0 && b.idleConnections === 0, { what: "spares closed with the connection" });
  });

  it("a TCP connection still opening when the agent closes after choosing a pair is kept as a spare, not reset (the peer may hold it already)", async () => {
    const accepted: Socket[] = [];
    const server = createServer((s) => accepted.push(s));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const [a, b, controlled, controlling] = await pair();
    try {
      const before = a.idleConnections;
      const port = (server.address() as AddressInfo).port;
      // what a dial still in flight does: the socket is opening when the agent is closed (as the connection manager
      // closes it right after connect), and connects after
      const internals = controlled as unknown as { open(c: object): Promise<unknown>; adopt(link: unknown): void };
      const opening = internals.open({ address: "127.0.0.1", port, transport: "TCP", tcpType: "passive", component: 1 });
      controlled.close();
      const link = await opening;
      expect(link).toBeDefined();
      internals.adopt(link);
      expect(a.idleConnections).toBe(before + 1);
      await waitFor(() => accepted.length === 1, { what: "the peer's side of it" });
      let ended = false;
      accepted[0]!.on("end", () => (ended = true)).resume();
      await new Promise((r) => setTimeout(r, 100));
      expect(ended).toBe(false);
      // it ends with the connection
      a.destroy();
      await waitFor(() => ended, { what: "the spare ended with the connection" });
    } finally {
      a.destroy();
      b.destroy();
      controlling.close();
      server.close();
    }
  });

  it("our passive candidates listen as long as the connection lives: a late connection of the peer becomes a spare, its checks answered; all close with it", async () => {
    const [a, b, controlled, controlling] = await pair();
    // as the connection manager does right after connect
    controlled.close();
    controlling.close();
    try {
      const before = a.idleConnections;
      const passive = controlled.local.candidates.find((c) => c.tcpType === "passive")!;
      // jamid 13.7 still connecting one of its active candidates to it: refused, that socket would stay hung up in
      // its pjnath event loop and its ICE thread sleep 500 ms per poll
      const late = createConnection({ host: passive.address, port: passive.port });
      await new Promise((resolve, reject) => late.once("connect", resolve).once("error", reject));
      await waitFor(() => a.idleConnections === before + 1, { what: "the late connection kept" });
      const reader = new FrameReader();
      const answer = new Promise<StunMessage>((resolve) => late.on("data", (d: Buffer) => reader.push(d).forEach((p) => resolve(decodeStun(p)))));
      const check = StunMessage.request(StunMethod.Binding).addString(StunAttr.Username, `${controlled.local.ufrag}:${controlling.local.ufrag}`);
      late.write(frame(check.encode({ integrityKey: new TextEncoder().encode(controlled.local.pwd), fingerprint: true })));
      expect((await answer).cls).toBe(StunClass.Success);
      // bounded: past MAX_SPARE_CONNECTIONS a late connection is closed at once
      const more: Socket[] = [];
      for (let i = a.idleConnections; i <= MAX_SPARE_CONNECTIONS; i++) {
        const extra = createConnection({ host: passive.address, port: passive.port });
        extra.on("error", () => undefined);
        more.push(extra);
      }
      await Promise.race(more.map((extra) => new Promise((r) => extra.once("close", r))));
      expect(a.idleConnections).toBe(MAX_SPARE_CONNECTIONS);
      for (const extra of more) extra.destroy();
      const ended = new Promise<void>((r) => late.once("close", () => r()));
      a.destroy();
      await ended;
      // the listener is gone with the connection
      const again = createConnection({ host: passive.address, port: passive.port });
      await expect(new Promise((resolve, reject) => again.once("connect", resolve).once("error", reject))).rejects.toMatchObject({ code: "ECONNREFUSED" });
    } finally {
      a.destroy();
      b.destroy();
    }
  });

  it("a reader that does not read holds back the peer (TCP back-pressure), not a growing buffer here; everything arrives once it reads", async () => {
    const [a, b] = await pair();
    const total = 32 << 20;
    const chunk = Buffer.alloc(1 << 20, 0x5a);
    for (let sent = 0; sent < total; sent += chunk.length) a.write(chunk);
    // either b stops reading its TCP socket once its stream holds enough, or, without back-pressure, its stream takes
    // everything in
    const socketOf = (c: IceConnection): { isPaused(): boolean } => (c as unknown as { link: { socket: { isPaused(): boolean } } }).link.socket;
    await waitFor(() => socketOf(b).isPaused() || b.readableLength >= total, { what: "b pausing its socket" });
    expect(b.readableLength).toBeLessThan(1 << 20);
    let received = 0;
    const all = new Promise<void>((resolve) =>
      b.on("data", (d: Buffer) => {
        received += d.length;
        if (received >= total) resolve();
      }),
    );
    await all;
    expect(received).toBe(total);
    a.destroy();
    b.destroy();
  });

  it("works over IPv6 (::1)", async () => {
    const [x, y] = await Promise.all([
      IceTcpAgent.create({ addresses: ["::1"], controlling: false }),
      IceTcpAgent.create({ addresses: ["::1"], controlling: true }),
    ]);
    expect(x.local.candidates[0]).toMatchObject({ address: "::1", tcpType: "passive" });
    const [a, b] = await Promise.all([x.connect(y.local), y.connect(x.local)]);
    expect(a.remoteAddress.family).toBe(6);
    const got = new Promise<string>((r) => b.once("data", (d: Buffer) => r(d.toString())));
    a.write("v6");
    expect(await got).toBe("v6");
    a.destroy();
    b.destroy();
  });

  it("both sides controlling resolve the role conflict and still connect", async () => {
    const [x, y] = await Promise.all([IceTcpAgent.create({ ...LOOPBACK, controlling: true }), IceTcpAgent.create({ ...LOOPBACK, controlling: true })]);
    const [a, b] = await Promise.all([x.connect(y.local), y.connect(x.local)]);
    expect([x.isControlling, y.isControlling].sort()).toEqual([false, true]);
    a.destroy();
    b.destroy();
  });

  it("refuses checks with wrong credentials (401) and fails with ICE_TIMEOUT when the peer never answers", async () => {
    const agent = await IceTcpAgent.create({ ...LOOPBACK, controlling: false, timeoutMs: 1500 });
    const passive = agent.local.candidates.find((c) => c.tcpType === "passive")!;
    const socket = createConnection({ host: passive.address, port: passive.port });
    await new Promise((r) => socket.once("connect", r));
    const reader = new FrameReader();
    const answer = new Promise<StunMessage>((resolve) => socket.on("data", (d: Buffer) => reader.push(d).forEach((p) => resolve(decodeStun(p)))));
    const forged = StunMessage.request(StunMethod.Binding).addString(StunAttr.Username, `${agent.local.ufrag}:x`);
    socket.write(frame(forged.encode({ integrityKey: new TextEncoder().encode("not-the-password"), fingerprint: true })));
    expect((await answer).errorCode()?.code).toBe(401);
    await expect(agent.connect({ ufrag: "abcd", pwd: "a".repeat(22), candidates: [] })).rejects.toMatchObject({
      code: expect.stringMatching(/ICE_FAILED|ICE_TIMEOUT/),
    });
    socket.destroy();
    agent.close();
  });

  it("keeps the application bytes a controlling peer sends right after nominating, before our own check succeeded", async () => {
    const agent = await IceTcpAgent.create({ ...LOOPBACK, controlling: false });
    const passive = agent.local.candidates.find((c) => c.tcpType === "passive")!;
    const peer = { ufrag: "peer", pwd: "p".repeat(22) };
    const connecting = agent.connect({
      ...peer,
      candidates: [{ foundation: "1", component: 1, transport: "TCP", priority: 1, address: "127.0.0.1", port: 9, type: "host", tcpType: "active" }],
    });
    const socket = createConnection({ host: passive.address, port: passive.port });
    await new Promise((r) => socket.once("connect", r));
    const text = new TextEncoder();
    // Our triggered check is answered only after the nomination and the first application packet are on the wire
    // (jamid starts TLS as soon as it has nominated).
    const reader = new FrameReader();
    socket.on("data", (d: Buffer) => {
      for (const packet of reader.push(d)) {
        const m = decodeStun(packet);
        if (m.cls !== StunClass.Request) continue;
        const ok = new StunMessage(StunMethod.Binding, StunClass.Success, m.transactionId).addXorAddress(StunAttr.XorMappedAddress, {
          family: 4,
          address: "127.0.0.1",
          port: passive.port,
        });
        setTimeout(() => socket.write(frame(ok.encode({ integrityKey: text.encode(peer.pwd), fingerprint: true }))), 50);
      }
    });
    const nomination = StunMessage.request(StunMethod.Binding)
      .addString(StunAttr.Username, `${agent.local.ufrag}:${peer.ufrag}`)
      .addU32(StunAttr.Priority, 1)
      .addU64(StunAttr.IceControlling, 1n)
      .add(StunAttr.UseCandidate, new Uint8Array());
    socket.write(
      Buffer.concat([frame(nomination.encode({ integrityKey: text.encode(agent.local.pwd), fingerprint: true })), frame(text.encode("first TLS record"))]),
    );
    const connection = await connecting;
    const first = await Promise.race([
      new Promise<string>((r) => connection.once("data", (d: Buffer) => r(d.toString()))),
      new Promise<string>((r) => setTimeout(() => r("(lost)"), 5000).unref()),
    ]);
    expect(first).toBe("first TLS record");
    connection.destroy();
    socket.destroy();
    agent.close();
  });

  it("an aborted connect rejects with ABORTED", async () => {
    const agent = await IceTcpAgent.create({ ...LOOPBACK, controlling: true });
    const controller = new AbortController();
    const p = agent.connect({ ufrag: "abcd", pwd: "a".repeat(22), candidates: [] }, { signal: controller.signal });
    controller.abort();
    await expect(p).rejects.toMatchObject({ code: "ABORTED" });
    agent.close();
  });
});
