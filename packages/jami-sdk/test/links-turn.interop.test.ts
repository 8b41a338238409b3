/** Two accounts whose link can only go through coturn: one offers no host candidate, only its TURN relay. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DhtNode } from "jami-dht";
import { Account, type Channel } from "jami-sdk";
import { Coturn } from "../../../test-support/coturn.js";

jest.setTimeout(60_000);

describe("a device link through a TURN relay (coturn on 127.0.0.1)", () => {
  it("connects, and the channel carries data both ways", async () => {
    const coturn = await Coturn.start();
    const seed = await DhtNode.create({ host: "127.0.0.1", port: 0 });
    const network = { bootstrap: [`127.0.0.1:${seed.addresses[0]!.port}`], host: "127.0.0.1" };
    const tmp = mkdtempSync(join(tmpdir(), "jami-turn-"));
    const [relayed, direct] = await Promise.all([
      Account.create({ dir: join(tmp, "r"), bits: 2048, ...network, iceAddresses: [], turn: coturn.server }),
      Account.create({ dir: join(tmp, "d"), bits: 2048, ...network, iceAddresses: ["127.0.0.1"] }),
    ]);
    try {
      await Promise.all([relayed.start(), direct.start()]);
      direct.links.handle("sip");
      const incoming = new Promise<Channel>((r) => direct.links.once("channel", ({ channel }) => r(channel)));
      const ours = await relayed.links.connect(direct.jamiId, "sip");
      const theirs = await incoming;
      const got = new Promise<string>((r) => theirs.once("data", (d: Buffer) => r(d.toString())));
      ours.write("relayed");
      expect(await got).toBe("relayed");
      const back = new Promise<string>((r) => ours.once("data", (d: Buffer) => r(d.toString())));
      theirs.write("and back");
      expect(await back).toBe("and back");
      // Through the relay, not a direct candidate: the direct side's TCP peer is the relayed side's TURN
      // allocation (its relayed candidate), and the relayed side offered no host candidate at all.
      const relayedPath = relayed.links.path(direct.deviceId)!;
      const allocations = relayedPath.localCandidates.filter((c) => c.type === "relay" && c.port !== 9).map((c) => `${c.address}:${c.port}`);
      expect(relayedPath.localCandidates.some((c) => c.type === "host")).toBe(false);
      expect(allocations.length).toBeGreaterThan(0);
      const seenByDirect = direct.links.path(relayed.deviceId)!.remoteAddress;
      expect(allocations).toContain(`${seenByDirect.address}:${seenByDirect.port}`);
    } finally {
      await Promise.all([relayed.stop(), direct.stop()]);
      await seed.close();
      coturn.stop();
    }
  });
});
