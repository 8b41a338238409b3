/**
 * Interop with real OpenDHT 2.4.12 nodes on 127.0.0.1: dhtnode binaries from the shared harness, the shared
 * scriptable peer, and python3-opendht runners driven by test-support/opendht-driver.py.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PrivateKey } from "jami-identity";
import { DhtNode, DhtProxyServer, InfoHash, SecureDht, Value, ValueType, encodeServiceAddress } from "jami-dht";
import { DhtnodeConsole, HarnessNodes, OpenDhtDriver, runPeer, spawnPeer, type PeerEvent, type DriverNode } from "../../../test-support/opendht.js";
import { eventually } from "./helpers.js";
import { identityPem } from "./vectors.js";

jest.setTimeout(180_000);

const text = (v: Value): string => new TextDecoder().decode(v.data);
const unique = (name: string): string => `${name}-${process.pid}-${Date.now()}`;

describe("jami-dht with real OpenDHT nodes", () => {
  let harness: HarnessNodes;
  let ours: DhtNode;
  let secure: SecureDht;
  const idA = { key: PrivateKey.fromPem(identityPem("idA.pem")), certificateChainPem: identityPem("idA.crt") };
  // A fresh identity each time: dhtnode loaded with existing files (-c/-k) never prints the
  // "Public key ID" line opendht-peer.py waits for, which costs it a 60 s timeout.
  const peerIdentity = (): string => join(mkdtempSync(join(tmpdir(), "peer-id-")), "id");

  beforeAll(async () => {
    harness = await HarnessNodes.start({ count: 3, basePort: 4510, impl: "dhtnode" });
    ours = await DhtNode.create({ host: "127.0.0.1", port: 0, bootstrap: [harness.bootstrap] });
    await ours.bootstrap();
    secure = new SecureDht(ours, idA);
    await secure.announceCertificate();
  });

  afterAll(async () => {
    await ours?.close();
    await harness?.stop();
  });

  const peer = (...args: string[]): Promise<PeerEvent[]> => runPeer(["-b", harness.bootstrap, ...args]);

  it("bootstraps from dhtnode and learns the whole network", async () => {
    expect(ours.isConnected).toBe(true);
    await eventually(() => ours.stats().ipv4.good >= 3, 60_000);
  });

  it("a real peer reads what we put, plain and signed", async () => {
    const plainKey = unique("ours-plain");
    const signedKey = unique("ours-signed");
    await ours.put(InfoHash.get(plainKey), new Value({ data: "plain from ts", userType: "text/plain" }));
    const v = new Value({ data: "signed-from-ts" });
    await secure.putSigned(InfoHash.get(signedKey), v);
    await secure.putSigned(InfoHash.get(signedKey), new Value({ id: v.id, data: "signed-from-ts-v2" }));

    const plain = (await peer("get", plainKey)).filter((e: PeerEvent) => e.event === "value");
    expect(plain.map((e) => e.data_utf8)).toEqual(["plain from ts"]);
    expect(plain[0]!.user_type).toBe("text/plain");

    const signed = (await peer("get", signedKey)).filter((e: PeerEvent) => e.event === "value");
    expect(signed).toHaveLength(1);
    expect(signed[0]).toMatchObject({ data_utf8: "signed-from-ts-v2", signed: true, seq: 1, owner: secure.keyId!.toString() });
  });

  it("we read what a real peer puts, plain and signed (signature verified)", async () => {
    const plainKey = unique("theirs-plain");
    const signedKey = unique("theirs-signed");
    const put = await peer("put", plainKey, "plain-from-opendht", "--user-type", "text/plain");
    expect(put.find((e: PeerEvent) => e.event === "put")?.ok).toBe(true);
    const signedPut = await peer("put", signedKey, "signed-from-opendht", "--signed", "--identity", peerIdentity());
    const theirPkid = signedPut.find((e: PeerEvent) => e.event === "ready")?.pkid as string;
    expect(theirPkid).toMatch(/^[0-9a-f]{40}$/);

    const plain = await secure.getAll(InfoHash.get(plainKey));
    expect(plain.map(text)).toEqual(["plain-from-opendht"]);
    expect(plain[0]!.userType).toBe("text/plain");

    const signed = await secure.getAll(InfoHash.get(signedKey));
    expect(signed.map(text)).toEqual(["signed-from-opendht"]);
    expect(signed[0]!.verifySignature()).toBe(true);
    expect(signed[0]!.ownerId!.toString()).toBe(theirPkid);
  });

  it("over IPv6 (::1): our v6-only node joins dhtnode's IPv6 DHT and exchanges values with a real v6 peer", async () => {
    const port = Number(harness.bootstrap.split(":")[1]);
    const v6 = await DhtNode.create({ host: false, host6: "::1", port: 0, bootstrap: [`[::1]:${port}`] });
    try {
      await v6.bootstrap();
      const ourKey = unique("v6-ours");
      const theirKey = unique("v6-theirs");
      await v6.put(InfoHash.get(ourKey), new Value({ data: "over-ipv6-from-ts" }));
      const got = (await runPeer(["--bind", "::1", "-b", `[::1]:${port}`, "get", ourKey])).filter((e: PeerEvent) => e.event === "value");
      expect(got.map((e: PeerEvent) => e.data_utf8)).toEqual(["over-ipv6-from-ts"]);
      const put = await runPeer(["--bind", "::1", "-b", `[::1]:${port}`, "put", theirKey, "over-ipv6-from-opendht"]);
      expect(put.find((e: PeerEvent) => e.event === "put")?.ok).toBe(true);
      expect((await v6.getAll(InfoHash.get(theirKey))).map(text)).toEqual(["over-ipv6-from-opendht"]);
      expect(v6.stats().ipv6.good).toBeGreaterThanOrEqual(1);
    } finally {
      await v6.close();
    }
  });

  it("an IP service announcement in our encoding is read by OpenDHT, which rewrites the address as we do", async () => {
    const key = unique("service");
    await ours.put(InfoHash.get(key), new Value({ type: ValueType.IpServiceAnnouncement, data: encodeServiceAddress("10.9.8.7", 5060) }));
    const got = (await peer("get", key)).filter((e: PeerEvent) => e.event === "value");
    expect(got.map((e: PeerEvent) => e.str)).toContainEqual(expect.stringContaining("Peer: port 5060 addr 127.0.0.1"));
  });

  it("a value we encrypt for a real peer's identity is decrypted by it (its certificate found on the DHT)", async () => {
    const driver = await OpenDhtDriver.start({ nodes: 1, identityNodes: 1, bootstrap: [harness.bootstrap] });
    try {
      const theirs = InfoHash.fromHex(driver.nodes[0]!.pkid);
      const key = unique("encrypted-to-them");
      let recipient: Awaited<ReturnType<SecureDht["findPublicKey"]>> | undefined;
      for (let i = 0; i < 20 && !recipient; i++) {
        recipient = await secure.findPublicKey(theirs).catch(() => undefined);
        if (!recipient) await new Promise((r) => setTimeout(r, 500));
      }
      expect(recipient).toBeDefined();
      await secure.putEncrypted(InfoHash.get(key), new Value({ data: "secret-for-opendht" }), recipient!);
      const got = await driver.command({ cmd: "get", node: 0, key });
      const values = got.values as PeerEvent[];
      expect(values.map((v) => v.data_utf8)).toEqual(["secret-for-opendht"]);
      expect(values[0]).toMatchObject({ signed: true, owner: secure.keyId!.toString() });
    } finally {
      await driver.stop();
    }
  });

  it("a value a real peer encrypts for us (finding our announced certificate) is decrypted by us", async () => {
    const key = unique("encrypted-to-us");
    const put = await peer("put", key, "secret-from-opendht", "--encrypt-to", secure.keyId!.toString(), "--identity", peerIdentity());
    expect(put.find((e: PeerEvent) => e.event === "put")?.ok).toBe(true);
    const got = await secure.getAll(InfoHash.get(key));
    expect(got.map(text)).toEqual(["secret-from-opendht"]);
    expect(got[0]!.recipient!.equals(secure.keyId!)).toBe(true);
    // Someone else sees only an opaque value.
    const anonymous = await ours.getAll(InfoHash.get(key));
    expect(anonymous.every((v) => v.isEncrypted)).toBe(true);
  });

  it("listen both ways, including a real value's expiry", async () => {
    const theirKey = unique("listen-theirs");
    const ourKey = unique("listen-ours");
    const sub = ours.listen(InfoHash.get(theirKey));
    const values: Value[] = [];
    const expired: bigint[] = [];
    sub.on("value", (v) => values.push(v));
    sub.on("expired", (ids) => expired.push(...ids));
    const theirListener = spawnPeer(["-b", harness.bootstrap, "listen", ourKey]);
    try {
      await theirListener.waitFor((e) => e.event === "listening");
      // Meanwhile a permanent put of ours with the same one-minute type must outlive its type's lifetime.
      const permanentKey = InfoHash.get(unique("permanent"));
      const permanent = new Value({ type: ValueType.IceCandidates, data: "kept-alive" });
      await ours.put(permanentKey, permanent, { permanent: true });
      const permanentPutAt = Date.now();
      const put = await peer("put", theirKey, "short-lived", "--type", String(ValueType.IceCandidates));
      const id = BigInt(put.find((e: PeerEvent) => e.event === "put")!.id as string);
      await eventually(() => values.length > 0, 20_000);
      expect(values.map(text)).toEqual(["short-lived"]);
      // Their listen may still be on its way to the storage nodes: the same value (one id) is put again until it
      // arrives, instead of guessing how long the listen takes to settle.
      const pushed = new Value({ data: "pushed-from-ts" });
      const arrived = theirListener.waitFor((e) => e.event === "value" && e.data_utf8 === "pushed-from-ts", 20_000);
      let delivered = false;
      void arrived.then(() => (delivered = true)).catch(() => undefined);
      for (let tries = 0; !delivered && tries < 10; tries++) {
        await ours.put(InfoHash.get(ourKey), pushed);
        await Promise.race([arrived, new Promise((r) => setTimeout(r, 2000))]);
      }
      const seen = await arrived;
      expect(seen.expired).toBe(false);
      // ICE candidate values live one minute.
      await eventually(() => expired.includes(id), 100_000);
      // The permanent value's own one-minute life has ended for sure (plus storage nodes' expiry rounds, 5 s).
      const lifeEnded = permanentPutAt + 60_000 + 5_000;
      if (Date.now() < lifeEnded) await new Promise((r) => setTimeout(r, lifeEnded - Date.now()));
      const kept = (await peer("get", permanentKey.toString())).filter((e: PeerEvent) => e.event === "value");
      expect(kept.map((e: PeerEvent) => e.data_utf8)).toEqual(["kept-alive"]);
      ours.cancelPut(permanentKey, permanent.id);
    } finally {
      sub.cancel();
      await theirListener.stop();
    }
  });

  it("a mixed network of 10 real and 10 of our nodes: every put is found by every node", async () => {
    const driver = await OpenDhtDriver.start({ nodes: 10, bootstrap: [harness.bootstrap] });
    const mine = await Promise.all(Array.from({ length: 10 }, () => DhtNode.create({ host: "127.0.0.1", port: 0, bootstrap: [harness.bootstrap] })));
    try {
      await Promise.all(mine.map((n) => n.bootstrap()));
      // Each of our nodes knows a good part of the 21-node network before the puts start.
      await eventually(() => mine.every((n) => n.stats().ipv4.good >= 8), 30_000);
      const keys: string[] = [];
      for (let i = 0; i < 10; i++) {
        const ourKey = unique(`mixed-ours-${i}`);
        const theirKey = unique(`mixed-theirs-${i}`);
        keys.push(ourKey, theirKey);
        const [mineResult, theirResult] = await Promise.all([
          mine[i]!.put(InfoHash.get(ourKey), new Value({ data: ourKey })),
          driver.command({ cmd: "put", node: i, key: theirKey, data_hex: Buffer.from(theirKey).toString("hex") }),
        ]);
        expect(mineResult.nodes).toBeGreaterThan(0);
        expect(theirResult.ok).toBe(true);
      }
      const misses: string[] = [];
      await Promise.all(
        keys.flatMap((key) => [
          ...mine.map(async (n, i) => {
            const got = await n.getAll(InfoHash.get(key));
            if (!got.some((v) => text(v) === key)) misses.push(`ours#${i} ${key}`);
          }),
          ...driver.nodes.map(async (n: DriverNode) => {
            const got = await driver.command({ cmd: "get", node: n.index, key }, 60_000);
            if (!(got.values as PeerEvent[]).some((v) => v.data_utf8 === key)) misses.push(`opendht#${n.index} ${key}`);
          }),
        ]),
      );
      expect(misses).toEqual([]);
    } finally {
      await Promise.all(mine.map((n) => n.close()));
      await driver.stop();
    }
  });

  it("OpenDHT's own proxy client (dhtnode --proxyclient) gets, puts and listens through our proxy server", async () => {
    const proxy = await DhtProxyServer.start({ node: ours, port: 0 });
    const key = unique("via-our-proxy");
    const fromUdp = unique("udp-side");
    await ours.put(InfoHash.get(fromUdp), new Value({ data: "value-on-udp", userType: "text/plain" }));
    const client = DhtnodeConsole.start(["-p", "0", "--proxyclient", `127.0.0.1:${proxy.port}`]);
    try {
      await client.waitForLine(/OpenDHT node/);
      client.command(`g ${fromUdp}`);
      await client.waitForLine(/"value-on-udp"/);
      client.command(`p ${key} value-from-dhtnode`);
      await client.waitForLine(/Put: success/);
      const got = await harnessPeerGet(key);
      expect(got).toContain("value-from-dhtnode");
      client.command(`l ${fromUdp}`);
      await client.waitForLine(/Listen: found/);
      await ours.put(InfoHash.get(fromUdp), new Value({ data: "second-on-udp", userType: "text/plain" }));
      await client.waitForLine(/"second-on-udp"/);
    } finally {
      await client.stop();
      await proxy.close();
    }
  });

  async function harnessPeerGet(key: string): Promise<string[]> {
    return (await peer("get", key)).filter((e: PeerEvent) => e.event === "value").map((e: PeerEvent) => e.data_utf8 as string);
  }
});
