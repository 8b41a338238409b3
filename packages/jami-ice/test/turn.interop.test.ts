/**
 * coturn on 127.0.0.1 (Debian's `turnserver`): a TCP relay (RFC 6062) allocated with long-term credentials
 * becomes a relayed candidate, and an ICE-TCP link is made through it.
 */
import { IceTcpAgent, stunMappedAddress, TurnTcpAllocation, type TurnServer } from "jami-ice";
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
    expect(relayed.local.candidates.map((c) => `${c.type} ${c.tcpType}`)).toEqual(["relay passive", "srflx active"]);
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
});
