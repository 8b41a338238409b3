import { PrivateKey } from "jami-identity";
import { DhtNode, InfoHash, SecureDht, Value } from "jami-dht";
import { buildFind, buildPut } from "../src/messages.js";
import { eventually, loopbackNetwork, RawPeer } from "./helpers.js";
import { identityPem, valueVector } from "./vectors.js";

const identity = (name: "idA" | "idB") => ({
  key: PrivateKey.fromPem(identityPem(`${name}.pem`)),
  certificateChainPem: identityPem(`${name}.crt`),
});
const text = (v: Value): string => new TextDecoder().decode(v.data);

describe("SecureDht on a loopback network", () => {
  let nodes: DhtNode[] = [];
  let alice: SecureDht;
  let bob: SecureDht;
  let anonymous: SecureDht;
  beforeAll(async () => {
    nodes = await loopbackNetwork(8);
    alice = new SecureDht(nodes[1]!, identity("idA"));
    bob = new SecureDht(nodes[6]!, identity("idB"));
    anonymous = new SecureDht(nodes[3]!);
    await Promise.all([alice.announceCertificate(), bob.announceCertificate()]);
  });
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.close()));
  });

  it("finds a certificate by key id and caches it", async () => {
    const cert = await anonymous.findCertificate(bob.keyId!);
    expect(cert.publicKey.equals(bob.identity!.key.publicKey)).toBe(true);
    await expect(anonymous.findCertificate(InfoHash.get("nobody"))).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("signed puts get increasing seqs and verify", async () => {
    const key = InfoHash.get("secure-signed");
    const v = new Value({ data: "first" });
    await alice.putSigned(key, v);
    await alice.putSigned(key, new Value({ id: v.id, data: "second" }));
    const got = await anonymous.getAll(key);
    expect(got).toHaveLength(1);
    expect(text(got[0]!)).toBe("second");
    expect(got[0]!.seq).toBe(1);
    expect(got[0]!.ownerId!.equals(alice.keyId!)).toBe(true);
  });

  it("an encrypted put is readable only by its recipient", async () => {
    const key = InfoHash.get("secure-encrypted");
    await alice.putEncrypted(key, new Value({ data: "for bob" }), bob.keyId!);
    const forBob = await bob.getAll(key);
    expect(forBob.map(text)).toEqual(["for bob"]);
    expect(forBob[0]!.ownerId!.equals(alice.keyId!)).toBe(true);
    expect(await anonymous.getAll(key)).toEqual([]);
    expect(await alice.getAll(key)).toEqual([]);
  });

  it("a forged value sent on the wire is not stored and reaches no listener", async () => {
    const key = InfoHash.get("secure-forged");
    const target = nodes[2]!;
    const sub = bob.listen(key);
    const rawSub = target.listen(key);
    const seen: Value[] = [];
    sub.on("value", (v) => seen.push(v));
    rawSub.on("value", (v) => seen.push(v));
    const peer = await RawPeer.open();
    try {
      peer.send(buildFind({ tid: 7, network: 0 }, peer.id, key), target);
      const { token } = await peer.reply(7);
      const forged = Buffer.from(valueVector("signed").hex, "hex");
      forged[forged.indexOf(Buffer.from("hello-signed"))]! ^= 1;
      peer.send(buildPut({ tid: 8, network: 0 }, peer.id, key, [Value.decode(forged).toMsg()], token!), target);
      const reply = await peer.reply(8);
      expect(reply.kind).toBe("reply"); // OpenDHT acknowledges, then drops
      expect(target.storage.get(key)).toEqual([]);
      const genuine = new Value({ data: "genuine" });
      await alice.putSigned(key, genuine);
      await eventually(() => seen.length >= 2);
      expect(seen.map(text)).toEqual(["genuine", "genuine"]);
      // Owner mismatch (bob re-signs alice's value id), seq replay (same seq, other data), oversize.
      const hijack = new Value({ id: genuine.id, data: "hijacked" }).sign(bob.identity!.key, 9);
      const replay = new Value({ id: genuine.id, data: "replayed" }).sign(alice.identity!.key, 0);
      const huge = new Value({ data: new Uint8Array(70_000) });
      for (const [tid, v] of [
        [9, hijack],
        [10, replay],
      ] as const) {
        peer.send(buildPut({ tid, network: 0 }, peer.id, key, [v.toMsg()], token!), target);
        await peer.reply(tid);
      }
      peer.send(buildPut({ tid: 11, network: 0 }, peer.id, key, [huge.encode().length], token!), target);
      // Positive control, sent after them the same way: a genuine value is acknowledged (so the ones before it were
      // handled) and stored.
      const control = new Value({ data: "control" }).sign(alice.identity!.key, 0);
      peer.send(buildPut({ tid: 12, network: 0 }, peer.id, key, [control.toMsg()], token!), target);
      await peer.reply(12);
      expect(
        target.storage
          .get(key)
          .map((s) => text(s.value))
          .sort(),
      ).toEqual(["control", "genuine"]);
      expect(seen.map(text).filter((t) => t !== "control")).toEqual(["genuine", "genuine"]);
    } finally {
      sub.cancel();
      rawSub.cancel();
      await peer.close();
    }
  });
});
