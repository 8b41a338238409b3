/**
 * coturn on 127.0.0.1 (Debian's `turnserver`): TCP (RFC 6062) and UDP (RFC 8656) relays allocated with long-term
 * credentials become relayed candidates, and ICE links are made through them.
 */
import { IceTcpAgent, IceUdpAgent, stunMappedAddress, TurnTcpAllocation, TurnUdpAllocation, type TurnServer } from "jami-ice";
import { Coturn } from "../../../test-support/coturn.js";

jest.setTimeout(60_000);

describe("TURN (coturn) for ICE-TCP", () => {
  let coturn: Coturn;
  let turn: TurnServer;
  beforeAll(async () => {
    coturn = await Coturn.start();
    turn = coturn.server;
  });
  afterAll(() => {
    coturn?.stop();
  });

  it("STUN over TCP gives our mapped address", async () => {
    expect(await stunMappedAddress({ host: "127.0.0.1", port: turn.port })).toMatchObject({ family: 4, address: "127.0.0.1" });
  });

  it("allocates a TCP relay with long-term credentials; wrong credentials are refused with TURN_FAILED", async () => {
    const allocation = await TurnTcpAllocation.allocate(turn);
    expect(allocation.relayed).toMatchObject({ family: 4, address: "127.0.0.1" });
    expect(allocation.relayed.port).toBeGreaterThanOrEqual(49400);
    allocation.close();
    await expect(TurnTcpAllocation.allocate({ ...turn, password: "wrong" })).rejects.toMatchObject({ code: "TURN_FAILED" });
  });

  it("a link is made through the relay: one side offers only its relayed candidate", async () => {
    const relayed = await IceTcpAgent.create({ controlling: false, addresses: [], turn });
    // The relay, and the address coturn saw (a reflexive candidate: there is no host candidate to match it).
    expect(relayed.local.candidates.map((c) => `${c.type} ${c.tcpType}`)).toEqual(["relay passive", "relay active", "srflx active"]);
    const direct = await IceTcpAgent.create({ controlling: true, addresses: ["127.0.0.1"] });
    const [a, b] = await Promise.all([relayed.connect(direct.local), direct.connect(relayed.local)]);
    // The direct side's nominated connection goes to the relayed address.
    expect(b.remoteAddress.port).toBe(relayed.local.candidates[0]!.port);
    const got = new Promise<string>((r) => a.once("data", (d: Buffer) => r(d.toString())));
    b.write("through coturn");
    expect(await got).toBe("through coturn");
    const back = new Promise<string>((r) => b.once("data", (d: Buffer) => r(d.toString())));
    a.write("and back");
    expect(await back).toBe("and back");
    a.destroy();
    b.destroy();
    relayed.close();
    direct.close();
  });

  it("two relay-only agents meet: one side connects out through its relay (TURN Connect) to the other's relay", async () => {
    const a = await IceTcpAgent.create({ controlling: false, addresses: [], turn });
    const b = await IceTcpAgent.create({ controlling: true, addresses: [], turn });
    const [x, y] = await Promise.all([a.connect(b.local), b.connect(a.local)]);
    try {
      // One end dialled the other's relayed candidate through its own relay: that end's peer is that candidate.
      const [relayA, relayB] = [a, b].map((agent) => agent.local.candidates[0]!.port);
      expect([x.remoteAddress.port === relayB, y.remoteAddress.port === relayA]).toContain(true);
      const got = new Promise<string>((r) => x.once("data", (d: Buffer) => r(d.toString())));
      y.write("relay to relay");
      expect(await got).toBe("relay to relay");
    } finally {
      x.destroy();
      y.destroy();
      a.close();
      b.close();
    }
  });

  it("allocates a UDP relay; wrong credentials are refused with TURN_FAILED", async () => {
    const allocation = await TurnUdpAllocation.allocate(turn);
    expect(allocation.relayed).toMatchObject({ family: 4, address: "127.0.0.1" });
    expect(allocation.mapped).toMatchObject({ family: 4, address: "127.0.0.1" });
    allocation.close();
    await expect(TurnUdpAllocation.allocate({ ...turn, password: "wrong" })).rejects.toMatchObject({ code: "TURN_FAILED" });
  });

  it("an ICE-UDP link is made through the UDP relay: one side offers only its relayed candidate", async () => {
    const relayed = await IceUdpAgent.create({ controlling: false, addresses: [], turn });
    expect(relayed.local.candidates.map((c) => `${c.type} ${c.transport}`)).toEqual(["relay UDP"]);
    const direct = await IceUdpAgent.create({ controlling: true, addresses: ["127.0.0.1"] });
    const [a, b] = await Promise.all([relayed.connect(direct.local), direct.connect(relayed.local)]);
    try {
      // The direct side's nominated pair goes to the relayed address.
      expect(b.remote.port).toBe(relayed.local.candidates[0]!.port);
      const got = new Promise<string>((r) => a.once("message", (d) => r(Buffer.from(d).toString())));
      b.send(Buffer.from("through coturn over UDP"));
      expect(await got).toBe("through coturn over UDP");
      const back = new Promise<string>((r) => b.once("message", (d) => r(Buffer.from(d).toString())));
      a.send(Buffer.from("and back"));
      expect(await back).toBe("and back");
    } finally {
      a.close();
      b.close();
    }
  });
});

describe("closing a TURN UDP allocation", () => {
  const udpSockets = (): number => process.getActiveResourcesInfo().filter((r) => r === "UDPWrap").length;

  it("lets go of its socket within 1.5 s when the server is gone (the release is tried twice, not seven times over 31.5 s)", async () => {
    const coturn = await Coturn.start();
    const before = udpSockets();
    const allocation = await TurnUdpAllocation.allocate(coturn.server);
    expect(udpSockets()).toBe(before + 1);
    coturn.stop();
    const closing = Date.now();
    allocation.close();
    while (udpSockets() > before && Date.now() - closing < 5000) await new Promise((r) => setTimeout(r, 50));
    expect(udpSockets()).toBe(before);
  });
});
