import { PrivateKey } from "jami-identity";
import { InfoHash, publicKeyId, SecureDht, Subscription, Value, type DhtClient, type GetOptions, type PutResult } from "jami-dht";
import { encodeMsgpack as encode, RawMsg } from "jami-core";
import { encryptFor } from "../src/value-crypto.js";
import { identityPem } from "./vectors.js";

/**
 * What the network hands back is the attacker's to choose (any storage node may answer a get or push to a
 * listener): a DHT whose every key holds the values the test planted, unchecked.
 */
class HostileDht implements DhtClient {
  readonly planted = new Map<string, Value[]>();
  plant(key: InfoHash, value: Value): void {
    this.planted.set(key.toString(), [...(this.planted.get(key.toString()) ?? []), value]);
  }
  async *get(key: InfoHash, _options?: GetOptions): AsyncGenerator<Value, void, undefined> {
    for (const v of this.planted.get(key.toString()) ?? []) yield Value.decode(v.encode());
  }
  async getAll(key: InfoHash): Promise<Value[]> {
    const out: Value[] = [];
    for await (const v of this.get(key)) out.push(v);
    return out;
  }
  async put(): Promise<PutResult> {
    throw new Error("not used");
  }
  cancelPut(): boolean {
    return false;
  }
  listen(key: InfoHash): Subscription {
    const sub = new Subscription(key);
    setImmediate(() => {
      for (const v of this.planted.get(key.toString()) ?? []) sub.deliver(Value.decode(v.encode()));
    });
    return sub;
  }
  async close(): Promise<void> {}
}

const text = (v: Value): string => new TextDecoder().decode(v.data);
const listenAll = async (secure: SecureDht, key: InfoHash, options = {}): Promise<string[]> => {
  const sub = secure.listen(key, options);
  const seen: string[] = [];
  sub.on("value", (v) => seen.push(text(v)));
  // The planted values are pushed on the next turn; one more turn lets every check run.
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  sub.cancel();
  return seen;
};

/** A value `signer` signed while it claims `claimedOwner` (and is addressed to `to`), encrypted for `to`. */
function forgedEncrypted(data: string, signer: PrivateKey, claimedOwner: PrivateKey, to: PrivateKey): Value {
  const inner = new Value({ data });
  inner.owner = claimedOwner.publicKey;
  inner.recipient = publicKeyId(to.publicKey);
  inner.signature = signer.sign(inner.bodyBytes(), "sha512");
  const out = new Value({ id: inner.id });
  out.cypher = encryptFor(to.publicKey, encode({ body: new RawMsg(inner.bodyBytes()), sig: inner.signature }));
  return out;
}

describe("SecureDht against a hostile network", () => {
  const alice = PrivateKey.fromPem(identityPem("idA.pem"));
  const bob = PrivateKey.fromPem(identityPem("idB.pem"));
  let mallory: PrivateKey;
  let carol: PrivateKey;
  beforeAll(async () => {
    [mallory, carol] = await Promise.all([PrivateKey.generate(2048), PrivateKey.generate(2048)]);
  });

  it("a signed value whose data was changed after signing is dropped; the genuine one passes (get and listen)", async () => {
    const dht = new HostileDht();
    const key = InfoHash.get("tampered");
    const genuine = new Value({ data: "genuine" }).sign(alice);
    // One bit of the signed data flipped on the way: the body no longer matches its signature.
    const bytes = Buffer.from(new Value({ data: "original" }).sign(alice).encode());
    bytes[bytes.indexOf(Buffer.from("original"))]! ^= 1;
    dht.plant(key, Value.decode(bytes));
    dht.plant(key, genuine);
    const reader = new SecureDht(dht, { key: bob });
    expect((await reader.getAll(key)).map(text)).toEqual(["genuine"]);
    expect(await listenAll(reader, key)).toEqual(["genuine"]);
  });

  it("an encrypted value whose inner signature is not its claimed owner's is refused (no one can speak as Alice)", async () => {
    const dht = new HostileDht();
    const key = InfoHash.get("inbox-of-bob");
    dht.plant(key, forgedEncrypted("I am Alice", mallory, alice, bob));
    dht.plant(key, new Value({ data: "really Alice" }).encrypt(alice, bob.publicKey));
    const reader = new SecureDht(dht, { key: bob });
    const got = await reader.getAll(key);
    expect(got.map(text)).toEqual(["really Alice"]);
    expect(got[0]!.ownerId!.equals(publicKeyId(alice.publicKey))).toBe(true);
    expect(() => forgedEncrypted("I am Alice", mallory, alice, bob).decrypt(bob)).toThrow(expect.objectContaining({ code: "SIGNATURE_INVALID" }));
  });

  it("a value Alice signed for Mallory, re-published in the clear at Carol's key, is dropped by Carol", async () => {
    const dht = new HostileDht();
    const key = InfoHash.get("inbox-of-carol");
    // Mallory decrypts what Alice sent it and re-publishes the signed inner value, unencrypted.
    const inner = new Value({ data: "Alice to Mallory" }).encrypt(alice, mallory.publicKey).decrypt(mallory);
    expect(inner.verifySignature()).toBe(true);
    dht.plant(key, inner);
    dht.plant(key, new Value({ data: "Alice to Carol" }).encrypt(alice, carol.publicKey));
    const reader = new SecureDht(dht, { key: carol });
    expect((await reader.getAll(key)).map(text)).toEqual(["Alice to Carol"]);
    expect(await listenAll(reader, key)).toEqual(["Alice to Carol"]);
  });

  it("re-encrypted for Carol with Alice's signature kept, it is refused as addressed to another key", async () => {
    const inner = new Value({ data: "Alice to Mallory" }).encrypt(alice, mallory.publicKey).decrypt(mallory);
    const replay = new Value({ id: inner.id });
    replay.cypher = encryptFor(carol.publicKey, encode({ body: new RawMsg(inner.bodyBytes()), sig: inner.signature }));
    expect(() => replay.decrypt(carol)).toThrow(expect.objectContaining({ code: "NOT_RECIPIENT" }));
    const dht = new HostileDht();
    const key = InfoHash.get("inbox-of-carol-2");
    dht.plant(key, replay);
    dht.plant(key, new Value({ data: "genuine" }).encrypt(alice, carol.publicKey));
    expect((await new SecureDht(dht, { key: carol }).getAll(key)).map(text)).toEqual(["genuine"]);
  });

  it("with requireEncrypted (an inbox), a signed value in the clear is dropped even with no recipient; encrypted ones pass", async () => {
    const dht = new HostileDht();
    const key = InfoHash.get("inbox-plain");
    dht.plant(key, new Value({ data: "signed, clear" }).sign(alice));
    dht.plant(key, new Value({ data: "plain" }));
    dht.plant(key, new Value({ data: "encrypted" }).encrypt(alice, carol.publicKey));
    const reader = new SecureDht(dht, { key: carol });
    expect((await reader.getAll(key)).map(text).sort()).toEqual(["encrypted", "plain", "signed, clear"]);
    expect((await reader.getAll(key, { requireEncrypted: true })).map(text)).toEqual(["encrypted"]);
    expect(await listenAll(reader, key, { requireEncrypted: true })).toEqual(["encrypted"]);
  });
});
