import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DhtNode, SecureDht } from "jami-dht";
import { certifyDevice, DeviceId, DeviceShortId, openAccountArchive, PrivateKey } from "jami-identity";
import { Account, type LinkEvents, type Channel } from "jami-sdk";
import { ConnectionManager, peerRequestValue, readPeerRequest, JamiDhtKeys, findDeviceChainById } from "jami-sdk/internal";
import { deviceOf } from "../../../test-support/accounts.js";
import { encodeIceMessage, IceTcpAgent } from "jami-ice";

const BITS = 2048;
const tmp = () => mkdtempSync(join(tmpdir(), "jami-links-"));
// Our tests may use loopback host candidates (jamid never offers them; its interop runs in a namespace).
const ICE = { iceAddresses: ["127.0.0.1"] };

const readAll = (c: Channel, bytes: number): Promise<Buffer> =>
  new Promise((resolve) => {
    const parts: Buffer[] = [];
    c.on("data", (d: Buffer) => {
      parts.push(d);
      if (Buffer.concat(parts).length >= bytes) resolve(Buffer.concat(parts));
    });
  });

function nextChannel(account: Account): Promise<LinkEvents["channel"][0]> {
  return new Promise((resolve) => account.links.once("channel", resolve));
}

describe("device links between two accounts (ICE-TCP, TLS, multiplexed channels)", () => {
  let seed: DhtNode;
  let alice: Account;
  let bob: Account;
  let network: { bootstrap: string[]; host: string; iceAddresses: string[] };
  beforeAll(async () => {
    seed = await DhtNode.create({ host: "127.0.0.1", port: 0 });
    network = { bootstrap: [`127.0.0.1:${seed.addresses[0]!.port}`], host: "127.0.0.1", ...ICE };
    [alice, bob] = await Promise.all([
      Account.create({ dir: join(tmp(), "a"), bits: BITS, ...network }),
      Account.create({ dir: join(tmp(), "b"), bits: BITS, ...network }),
    ]);
    await Promise.all([alice.start(), bob.start()]);
    alice.links.handle("sip");
    alice.links.handle(/^git:\/\//, ({ peer }) => peer.jamiId === bob.jamiId);
  });
  afterAll(async () => {
    await Promise.all([alice?.stop(), bob?.stop()]);
    await seed.close();
  });

  it("bob opens a channel to alice's Jami ID; data flows both ways; a second channel reuses the link", async () => {
    const incoming = nextChannel(alice);
    const sip = await bob.links.connect(alice.jamiId, "sip");
    const { channel: theirs, peer } = await incoming;
    expect(peer).toEqual({ jamiId: bob.jamiId, deviceId: bob.deviceId });
    const got = readAll(theirs, 5);
    sip.write("hello");
    expect((await got).toString()).toBe("hello");
    const back = readAll(sip, 2);
    theirs.write("hi");
    expect((await back).toString()).toBe("hi");
    expect(bob.links.connected()).toEqual([alice.deviceId]);
    const git = await bob.links.connect(alice.deviceId, "git://x/y");
    expect(git.name).toBe("git://x/y");
    expect(bob.links.connected()).toEqual([alice.deviceId]);
    expect(alice.links.connected()).toEqual([bob.deviceId]);
    expect(await bob.links.ping(alice.deviceId)).toBeGreaterThanOrEqual(0);
    await expect(bob.links.ping("00".repeat(32))).rejects.toMatchObject({ code: "NOT_CONNECTED" });
  });

  it("a channel nobody handles is declined", async () => {
    await expect(bob.links.connect(alice.jamiId, "data-transfer://nope")).rejects.toMatchObject({ code: "CHANNEL_DECLINED" });
  });

  it("both sides connecting at once end with one link", async () => {
    const [carol, dave] = await Promise.all([
      Account.create({ dir: join(tmp(), "c"), bits: BITS, ...network }),
      Account.create({ dir: join(tmp(), "d"), bits: BITS, ...network }),
    ]);
    await Promise.all([carol.start(), dave.start()]);
    carol.links.handle("sip");
    dave.links.handle("sip");
    try {
      const [x, y] = await Promise.all([carol.links.connect(dave.jamiId, "sip"), dave.links.connect(carol.jamiId, "sip")]);
      expect([x.name, y.name]).toEqual(["sip", "sip"]);
      expect(carol.links.connected()).toEqual([dave.deviceId]);
      expect(dave.links.connected()).toEqual([carol.deviceId]);
    } finally {
      await Promise.all([carol.stop(), dave.stop()]);
    }
  });

  it("further links from a device that has one (jamid dials while our dial to it comes up) leave the first link's channels open; past two, the oldest further link closes", async () => {
    const incoming = nextChannel(alice);
    const first = await bob.links.connect(alice.jamiId, "sip");
    const { channel: atAlice } = await incoming;
    let closedAtAlice = false;
    atAlice.once("close", () => (closedAtAlice = true));
    // bob's genuine device dials alice again through further connection managers, as jamid does when its own dial
    // was under way while ours came up
    const device = (await deviceOf(bob))!;
    const extra: Array<{ node: DhtNode; manager: ConnectionManager }> = [];
    const dialAgain = async (): Promise<{ mine: Channel; theirs: Channel }> => {
      const node = await DhtNode.create({ host: "127.0.0.1", port: 0, bootstrap: network.bootstrap });
      const manager = new ConnectionManager({
        dht: node,
        secure: new SecureDht(node, { key: device.key }),
        identity: device,
        authorize: async () => undefined,
        onChannelRequest: () => true,
        onChannel: () => undefined,
        ice: { addresses: ["127.0.0.1"] },
      });
      extra.push({ node, manager });
      await node.bootstrap();
      manager.start();
      const arriving = nextChannel(alice);
      const mine = await manager.openChannel(await findDeviceChainById(node, DeviceId.fromHex(alice.deviceId)), "sip");
      return { mine, theirs: (await arriving).channel };
    };
    const closedOrData = (reader: Channel, writer: Channel, text: string): Promise<string> =>
      Promise.race([readAll(reader, text.length).then((b) => b.toString()), new Promise<string>((resolve) => writer.once("close", () => resolve("closed")))]);
    try {
      const second = await dialAgain();
      const overSecond = closedOrData(second.theirs, second.mine, "second");
      second.mine.write("second");
      expect(await overSecond).toBe("second");
      expect(closedAtAlice).toBe(false);
      const overFirst = closedOrData(atAlice, first, "first");
      first.write("first");
      expect(await overFirst).toBe("first");
      expect(alice.links.connected()).toEqual([bob.deviceId]);

      // two more: alice keeps two besides the first, so the second link (the oldest further one) is closed
      const secondClosed = new Promise<void>((resolve) => second.theirs.once("close", () => resolve()));
      await dialAgain();
      await dialAgain();
      await secondClosed;
      expect(closedAtAlice).toBe(false);
    } finally {
      for (const { node, manager } of extra) {
        manager.stop();
        await node.close();
      }
    }
  });

  it("a banned account cannot link; a forged request changes nothing", async () => {
    const eve = await Account.create({ dir: join(tmp(), "e"), bits: BITS, ...network });
    await eve.start();
    try {
      await alice.contacts.block(eve.jamiId);
      await expect(eve.links.connect(alice.jamiId, "sip", { signal: AbortSignal.timeout(5000) })).rejects.toMatchObject({
        code: expect.stringMatching(/ABORTED|TIMEOUT/),
      });
      expect(alice.links.connected()).not.toContain(eve.deviceId);
      // A request signed by a key with no certificate chain on the DHT.
      const strangerKey = await PrivateKey.generate(BITS);
      const stranger = new SecureDht(seed, { key: strangerKey });
      const agent = await IceTcpAgent.create({ addresses: ["127.0.0.1"], controlling: false });
      const answered: bigint[] = [];
      const toStranger = stranger.listen(JamiDhtKeys.peer(DeviceShortId.fromHex(stranger.keyId!.toString())), { requireEncrypted: true });
      toStranger.on("value", (v) => void (readPeerRequest(v)?.isAnswer && answered.push(readPeerRequest(v)!.id)));
      // Positive control: bob's genuine request, sent the same way after the forged one, is answered.
      const asBob = new SecureDht(seed, { key: (await deviceOf(bob))!.key });
      const toBob = asBob.listen(JamiDhtKeys.peer(bob.identity.deviceShortId));
      const control = new Promise<void>((resolve) => toBob.on("value", (v) => readPeerRequest(v)?.id === 78n && readPeerRequest(v)?.isAnswer && resolve()));
      try {
        const forged = peerRequestValue({ id: 77n, iceMessage: encodeIceMessage(agent.local), isAnswer: false, connType: "" });
        await stranger.putEncrypted(JamiDhtKeys.peer(alice.identity.deviceShortId), forged, alice.identity.devicePublicKey);
        const genuine = peerRequestValue({ id: 78n, iceMessage: encodeIceMessage(agent.local), isAnswer: false, connType: "" });
        await asBob.putEncrypted(JamiDhtKeys.peer(alice.identity.deviceShortId), genuine, alice.identity.devicePublicKey);
        await control;
        expect(answered).toEqual([]);
        expect(alice.links.connected()).not.toContain(eve.deviceId);
      } finally {
        toStranger.cancel();
        toBob.cancel();
        agent.close();
      }
    } finally {
      await eve.stop();
    }
  });

  it("a connection request replayed (its id again, in another value the same device signed) is answered once", async () => {
    // Bob's own device key signs both values, so both pass every check but the replay one.
    const asBob = new SecureDht(seed, { key: (await deviceOf(bob))!.key });
    const agent = await IceTcpAgent.create({ addresses: ["127.0.0.1"], controlling: false });
    const request = { id: 4242n, iceMessage: encodeIceMessage(agent.local), isAnswer: false, connType: "" };
    const answers: bigint[] = [];
    const sub = asBob.listen(JamiDhtKeys.peer(bob.identity.deviceShortId));
    sub.on("value", (v) => {
      const r = readPeerRequest(v);
      if (r?.isAnswer && r.id === request.id) answers.push(r.id);
    });
    try {
      for (let i = 0; i < 2; i++) {
        await asBob.putEncrypted(JamiDhtKeys.peer(alice.identity.deviceShortId), peerRequestValue(request), alice.identity.devicePublicKey);
      }
      // Positive control, sent the same way after the replay by another device (bob's own requests in flight are
      // capped): a fresh request is answered.
      const henry = await Account.create({ dir: join(tmp(), "h"), bits: BITS, ...network });
      await henry.start();
      const asHenry = new SecureDht(seed, { key: (await deviceOf(henry))!.key });
      const toHenry = asHenry.listen(JamiDhtKeys.peer(henry.identity.deviceShortId));
      const control = new Promise<void>((resolve) => toHenry.on("value", (v) => readPeerRequest(v)?.id === 4243n && readPeerRequest(v)?.isAnswer && resolve()));
      try {
        await asHenry.putEncrypted(JamiDhtKeys.peer(alice.identity.deviceShortId), peerRequestValue({ ...request, id: 4243n }), alice.identity.devicePublicKey);
        await control;
      } finally {
        toHenry.cancel();
        await henry.stop();
      }
      expect(answers).toEqual([request.id]);
    } finally {
      sub.cancel();
      agent.close();
    }
  });

  it("a device presenting another chain in TLS than the one it published is refused (13.7's rule)", async () => {
    const gina = await Account.create({ dir: join(tmp(), "g"), bits: BITS, ...network });
    await gina.start(); // publishes its genuine chain
    await gina.stop();
    // Gina's device key, re-certified by its account: a valid chain, but not the certificate on the DHT.
    const device = await deviceOf(gina);
    const { accountKeys } = await openAccountArchive({ dir: gina.identity.dir });
    const other = certifyDevice(accountKeys, device.key, new Date(Date.now() - 86400_000));
    const node = await DhtNode.create({ host: "127.0.0.1", port: 0, bootstrap: network.bootstrap });
    await node.bootstrap();
    const impostor = new ConnectionManager({
      dht: node,
      secure: new SecureDht(node, { key: device.key }),
      identity: { ...device, certificate: other.certificate },
      authorize: async () => undefined,
      onChannelRequest: () => true,
      onChannel: () => undefined,
      ice: { addresses: ["127.0.0.1"] },
    });
    impostor.start();
    try {
      await expect(bob.links.connect(gina.jamiId, "sip", { signal: AbortSignal.timeout(20_000) })).rejects.toMatchObject({ code: "PEER_REFUSED" });
      expect(bob.links.connected()).not.toContain(gina.deviceId);
    } finally {
      impostor.stop();
      await node.close();
    }
  });

  it("when a device goes away its channels end; when it is back, a channel sets up a new link", async () => {
    const frank = await Account.create({ dir: join(tmp(), "f"), bits: BITS, ...network });
    await frank.start();
    frank.links.handle("sip");
    const ch = await bob.links.connect(frank.jamiId, "sip");
    const closed = new Promise<void>((r) => ch.once("close", () => r()));
    ch.resume();
    await frank.stop();
    await closed;
    expect(bob.links.connected()).not.toContain(frank.deviceId);
    // Back online: the next channel sets up a new link.
    await frank.start();
    try {
      const again = await bob.links.connect(frank.jamiId, "sip");
      expect(again.name).toBe("sip");
      expect(bob.links.connected()).toContain(frank.deviceId);
    } finally {
      await frank.stop();
    }
  });
});
