/** DTLS between two devices over an ICE-UDP pair whose only path is coturn's UDP relay (on 127.0.0.1). */
import { dtlsLink } from "jami-dtls";
import { IceUdpAgent } from "jami-ice";
import { Coturn } from "../../../test-support/coturn.js";
import { newDevice } from "./helpers.js";

jest.setTimeout(60_000);

describe("DTLS through a TURN UDP relay", () => {
  let coturn: Coturn;
  beforeAll(async () => {
    coturn = await Coturn.start();
  });
  afterAll(() => coturn?.stop());

  it("the handshake and data pass through the relay (handshake flights fragmented to the MTU)", async () => {
    const [alice, bob] = await Promise.all([newDevice(), newDevice()]);
    const relayed = await IceUdpAgent.create({ controlling: false, addresses: [], turn: coturn.server });
    const direct = await IceUdpAgent.create({ controlling: true, addresses: ["127.0.0.1"] });
    const [a, b] = await Promise.all([relayed.connect(direct.local), direct.connect(relayed.local)]);
    expect(b.remote.port).toBe(relayed.local.candidates[0]!.port);
    const [server, client] = await Promise.all([
      dtlsLink({ transport: a, role: "server", identity: alice.device, verifyPeer: () => undefined }),
      dtlsLink({ transport: b, role: "client", identity: bob.device, verifyPeer: () => undefined }),
    ]);
    try {
      expect(server.peer.deviceId.toString()).toBe(bob.device.certificate.deviceId.toString());
      const got = new Promise<string>((r) => server.once("message", (m) => r(Buffer.from(m).toString())));
      client.send(Buffer.from("secure, through coturn"));
      expect(await got).toBe("secure, through coturn");
    } finally {
      client.close();
      server.close();
    }
  });
});
