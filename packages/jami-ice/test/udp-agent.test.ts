import { createSocket } from "node:dgram";
import { decodeStun, IceUdpAgent, StunAttr, StunClass, StunMessage, StunMethod, type IceUdpConnection } from "jami-ice";

const next = (c: IceUdpConnection): Promise<Buffer> => new Promise((r) => c.once("message", (m) => r(Buffer.from(m))));

describe("ICE over UDP between two of our agents", () => {
  it.each([["127.0.0.1"], ["::1"]])("checks, nominates and carries datagrams both ways (%s)", async (address) => {
    const [x, y] = await Promise.all([
      IceUdpAgent.create({ addresses: [address], controlling: false }),
      IceUdpAgent.create({ addresses: [address], controlling: true }),
    ]);
    expect(x.local.candidates).toEqual([expect.objectContaining({ transport: "UDP", type: "host", address, priority: expect.any(Number) })]);
    const [a, b] = await Promise.all([x.connect(y.local), y.connect(x.local)]);
    try {
      expect(b.remote.port).toBe(x.local.candidates[0]!.port);
      const got = next(b);
      a.send(new Uint8Array([0x16, 0xfe, 0xfd, 1, 2, 3])); // a DTLS-looking datagram
      expect(await got).toEqual(Buffer.from([0x16, 0xfe, 0xfd, 1, 2, 3]));
      const back = next(a);
      b.send(new TextEncoder().encode("\x17back"));
      expect((await back).toString()).toBe("\x17back");
    } finally {
      a.close();
      b.close();
    }
  });

  it("keeps datagrams a controlling peer sends right after nominating, until the connection is read", async () => {
    const agent = await IceUdpAgent.create({ addresses: ["127.0.0.1"], controlling: false });
    const host = agent.local.candidates[0]!;
    const socket = createSocket("udp4");
    await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
    const peer = { ufrag: "peer", pwd: "p".repeat(22) };
    const text = new TextEncoder();
    const connecting = agent.connect({
      ...peer,
      candidates: [{ foundation: "1", component: 1, transport: "UDP", priority: 1, address: "127.0.0.1", port: socket.address().port, type: "host" }],
    });
    // Our checks are answered late: the nomination and a first DTLS datagram arrive before the pair is valid.
    socket.on("message", (m) => {
      const request = decodeStun(new Uint8Array(m));
      if (request.cls !== StunClass.Request) return;
      const ok = new StunMessage(StunMethod.Binding, StunClass.Success, request.transactionId).addXorAddress(StunAttr.XorMappedAddress, {
        family: 4,
        address: "127.0.0.1",
        port: host.port,
      });
      setTimeout(() => socket.send(ok.encode({ integrityKey: text.encode(peer.pwd), fingerprint: true }), host.port, host.address), 50);
    });
    const nomination = StunMessage.request(StunMethod.Binding)
      .addString(StunAttr.Username, `${agent.local.ufrag}:${peer.ufrag}`)
      .addU32(StunAttr.Priority, 1)
      .addU64(StunAttr.IceControlling, 1n)
      .add(StunAttr.UseCandidate, new Uint8Array());
    socket.send(nomination.encode({ integrityKey: text.encode(agent.local.pwd), fingerprint: true }), host.port, host.address);
    socket.send(Uint8Array.of(0x16, 0xfe, 0xfd, 9, 9), host.port, host.address);
    const connection = await connecting;
    // Read later still: the datagram waits for the first listener.
    await new Promise((r) => setTimeout(r, 20));
    expect(await next(connection)).toEqual(Buffer.from([0x16, 0xfe, 0xfd, 9, 9]));
    connection.close();
    socket.close();
  });

  it("an aborted gathering (waiting on a TURN server that never answers) rejects with ABORTED", async () => {
    const silent = createSocket("udp4");
    await new Promise<void>((r) => silent.bind(0, "127.0.0.1", () => r()));
    const controller = new AbortController();
    const turn = { host: "127.0.0.1", port: silent.address().port, username: "u", password: "p" };
    const pending = IceUdpAgent.create({ addresses: ["127.0.0.1"], controlling: false, turn, signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await expect(pending).rejects.toMatchObject({ code: "ABORTED" });
    silent.close();
  });

  it("both controlling: the role conflict is resolved", async () => {
    const [x, y] = await Promise.all([
      IceUdpAgent.create({ addresses: ["127.0.0.1"], controlling: true }),
      IceUdpAgent.create({ addresses: ["127.0.0.1"], controlling: true }),
    ]);
    const [a, b] = await Promise.all([x.connect(y.local), y.connect(x.local)]);
    try {
      expect([x.isControlling, y.isControlling].sort()).toEqual([false, true]);
    } finally {
      a.close();
      b.close();
    }
  });

  it("a check with wrong credentials gets 401; no candidate pair fails at once with ICE_FAILED", async () => {
    const agent = await IceUdpAgent.create({ addresses: ["127.0.0.1"], controlling: false });
    const host = agent.local.candidates[0]!;
    const socket = createSocket("udp4");
    const answer = new Promise<StunMessage>((r) => socket.once("message", (m) => r(decodeStun(new Uint8Array(m)))));
    const forged = StunMessage.request(StunMethod.Binding).addString(StunAttr.Username, `${agent.local.ufrag}:x`);
    socket.send(forged.encode({ integrityKey: new TextEncoder().encode("wrong"), fingerprint: true }), host.port, host.address);
    expect((await answer).errorCode()?.code).toBe(401);
    socket.close();
    await expect(agent.connect({ ufrag: "abcd", pwd: "a".repeat(22), candidates: [] })).rejects.toMatchObject({ code: "ICE_FAILED" });
    agent.close();
  });
});
