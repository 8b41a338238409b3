import { encodeMsgpack } from "jami-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DhtNode, InfoHash, SecureDht, Value, ValueType } from "jami-dht";
import { deviceChainPem, openAccountArchive, PrivateKey, RevocationList } from "jami-identity";
import { encodeIceMessage, IceTcpAgent } from "jami-ice";
import { Account, type ContactEvents } from "jami-sdk";
import { encodeTrustRequest, JamiDhtKeys, MAX_INCOMING_PER_DEVICE, peerRequestValue, readPeerRequest, TRUST_REQUEST_TYPE } from "jami-sdk/internal";
import { deviceOf } from "../../../test-support/accounts.js";
import { BoundedSet } from "../src/bounded-set.js";

const BITS = 2048;
const tmp = () => mkdtempSync(join(tmpdir(), "jami-security-"));

const nextTrustRequest = (account: Account): Promise<ContactEvents["request"][0]> => new Promise((r) => account.contacts.once("request", r));

/** A trust request put straight on the DHT, signed and encrypted by `from` (any key) for `to`'s device. */
async function sendTrustRequest(dht: DhtNode, from: PrivateKey, to: Account, conversationId: string): Promise<void> {
  const value = new Value({ type: TRUST_REQUEST_TYPE, data: encodeTrustRequest({ conversationId, payload: new Uint8Array(), confirm: false }) });
  await new SecureDht(dht, { key: from }).putEncrypted(JamiDhtKeys.inbox(to.identity.deviceShortId), value, to.identity.devicePublicKey, { acknowledgedBy: 1 });
}

describe("an account against impersonation and revoked devices", () => {
  let seed: DhtNode;
  let network: { bootstrap: string[]; host: string; iceAddresses: string[] };
  const accounts: Account[] = [];
  const started = async (account: Promise<Account>): Promise<Account> => {
    const a = await account;
    accounts.push(a);
    await a.start();
    return a;
  };
  beforeAll(async () => {
    seed = await DhtNode.create({ host: "127.0.0.1", port: 0 });
    network = { bootstrap: [`127.0.0.1:${seed.addresses[0]!.port}`], host: "127.0.0.1", iceAddresses: ["127.0.0.1"] };
  });
  afterAll(async () => {
    await Promise.all(accounts.map((a) => a.stop()));
    await seed.close();
  });

  it("a value its owner signed in the clear, replayed into an inbox, is not a message to that inbox", async () => {
    const [alice, carol, dave] = await Promise.all([0, 1, 2].map(() => started(Account.create({ dir: tmp(), bits: BITS, ...network }))));
    const requested = nextTrustRequest(alice!);
    await carol!.contacts.add(alice!.jamiId);
    await requested;
    // Alice signed a confirmation in the clear (no recipient) somewhere on the DHT; Mallory copies it, bytes as
    // they are, into Carol's inbox. Only values encrypted to Carol's device count there.
    const confirmation = new Value({
      type: TRUST_REQUEST_TYPE,
      data: encodeTrustRequest({ conversationId: carol!.contacts.get(alice!.jamiId)!.conversationId, payload: new Uint8Array(), confirm: true }),
    });
    const elsewhere = InfoHash.get("alice-signed-this-elsewhere");
    await new SecureDht(seed, { key: (await deviceOf(alice!)).key }).putSigned(elsewhere, confirmation);
    const [signed] = await seed.getAll(elsewhere);
    await seed.put(JamiDhtKeys.inbox(carol!.identity.deviceShortId), signed!);
    // Positive control, sent after it: a genuine request (encrypted to Carol) arrives.
    const control = nextTrustRequest(carol!);
    await dave!.contacts.add(carol!.jamiId);
    expect(await control).toMatchObject({ from: dave!.jamiId });
    expect(carol!.contacts.get(alice!.jamiId)).toMatchObject({ confirmed: false });
  });

  it("a chain re-published under another key does not make that key's values its owner's", async () => {
    const [alice, carol] = await Promise.all([
      started(Account.create({ dir: tmp(), bits: BITS, ...network })),
      started(Account.create({ dir: tmp(), bits: BITS, ...network })),
    ]);
    // Certificates are unsigned values: honest nodes store one only at its own key id, but a storage node that
    // lies (here the seed, which every lookup reaches) answers a get for Mallory's key id with Alice's chain...
    const mallory = await PrivateKey.generate(BITS);
    const malloryKeyId = InfoHash.get(mallory.publicKey.spki);
    const chain = new Value({ id: 1n, type: ValueType.Certificate, data: encodeMsgpack(Buffer.from(deviceChainPem(await deviceOf(alice)))) });
    const honestGet = seed.storage.get.bind(seed.storage);
    seed.storage.get = (key, query) =>
      key.equals(malloryKeyId) ? [{ value: chain, created: Date.now(), expiresAt: Date.now() + 60_000, source: "" }] : honestGet(key, query);
    try {
      // ...and Mallory sends Carol a trust request signed with its own key: the chain found at the signer's key is Alice's.
      const first = nextTrustRequest(carol);
      await sendTrustRequest(seed, mallory, carol, "11".repeat(20));
      // Positive control, sent after: Alice's genuine request.
      await sendTrustRequest(seed, (await deviceOf(alice))!.key, carol, "22".repeat(20));
      const request = await first;
      expect(request).toMatchObject({ from: alice.jamiId, conversationId: "22".repeat(20), device: alice.identity.deviceShortId.toString() });
      expect(carol.contacts.requests()).toEqual([expect.objectContaining({ conversationId: "22".repeat(20) })]);
    } finally {
      seed.storage.get = honestGet;
    }
  });

  describe("a device its account revoked", () => {
    let carol: Account;
    let laptop: Account;
    let phone: Account;
    beforeAll(async () => {
      carol = await started(Account.create({ dir: tmp(), bits: BITS, ...network }));
      carol.links.handle("sip");
      laptop = await started(Account.create({ dir: tmp(), bits: BITS, ...network }));
      phone = await started(Account.import({ archive: await laptop.devices.exportArchive(), dir: tmp(), bits: BITS, ...network }));
      // The account revokes the laptop: its CRL is published at the Jami ID, as jamid does.
      const { accountKeys } = await openAccountArchive({ dir: laptop.identity.dir });
      const crl = RevocationList.sign({
        issuerKey: accountKeys.accountKey,
        issuerCertificate: accountKeys.accountCertificate,
        revoke: [(await deviceOf(laptop)).certificate],
      });
      await seed.put(JamiDhtKeys.account(laptop.identity.jamiId), new Value({ type: 0, data: crl.der }), { permanent: true });
    });

    it("cannot send a trust request; the account's other device can", async () => {
      const first = nextTrustRequest(carol);
      await sendTrustRequest(seed, (await deviceOf(laptop))!.key, carol, "33".repeat(20));
      await sendTrustRequest(seed, (await deviceOf(phone))!.key, carol, "44".repeat(20));
      expect(await first).toMatchObject({ from: laptop.jamiId, device: phone.identity.deviceShortId.toString(), conversationId: "44".repeat(20) });
    });

    it("cannot link; the account's other device can", async () => {
      const fromPhone = await phone.links.connect(carol.deviceId, "sip", { signal: AbortSignal.timeout(20_000) });
      expect(fromPhone.name).toBe("sip");
      await expect(laptop.links.connect(carol.deviceId, "sip", { signal: AbortSignal.timeout(5_000) })).rejects.toMatchObject({
        code: expect.stringMatching(/ABORTED|TIMEOUT|PEER_REFUSED/),
      });
      expect(carol.links.connected()).toEqual([phone.deviceId]);
    });
  });

  it(`connection requests from one device are answered at most ${MAX_INCOMING_PER_DEVICE} at a time`, async () => {
    const [carol, eve, frank] = (await Promise.all([0, 1, 2].map(() => started(Account.create({ dir: tmp(), bits: BITS, ...network }))))) as [
      Account,
      Account,
      Account,
    ];
    const agent = await IceTcpAgent.create({ addresses: ["127.0.0.1"], controlling: false });
    const answered = new Map<bigint, string>();
    const keys = await Promise.all([eve, frank].map(deviceOf));
    const subs = [eve, frank].map((a, i) => {
      const sub = new SecureDht(seed, { key: keys[i]!.key }).listen(JamiDhtKeys.peer(a.identity.deviceShortId), { requireEncrypted: true });
      sub.on("value", (v) => {
        const r = readPeerRequest(v);
        if (r?.isAnswer) answered.set(r.id, a === eve ? "eve" : "frank");
      });
      return sub;
    });
    try {
      // Eve asks five times at once (its ICE never answers, so each request holds an agent until it times out).
      const asEve = new SecureDht(seed, { key: keys[0]!.key });
      for (let id = 1n; id <= 5n; id++) {
        await asEve.putEncrypted(
          JamiDhtKeys.peer(carol.identity.deviceShortId),
          peerRequestValue({ id, iceMessage: encodeIceMessage(agent.local), isAnswer: false, connType: "" }),
          carol.identity.devicePublicKey,
        );
      }
      // Positive control, asked after: Frank is answered; Eve got only her first two answers.
      const asFrank = new SecureDht(seed, { key: keys[1]!.key });
      await asFrank.putEncrypted(
        JamiDhtKeys.peer(carol.identity.deviceShortId),
        peerRequestValue({ id: 100n, iceMessage: encodeIceMessage(agent.local), isAnswer: false, connType: "" }),
        carol.identity.devicePublicKey,
      );
      while (!answered.has(100n)) await new Promise((r) => setTimeout(r, 20));
      expect([...answered.entries()].filter(([, who]) => who === "eve").length).toBe(MAX_INCOMING_PER_DEVICE);
    } finally {
      for (const s of subs) s.cancel();
      agent.close();
    }
  });
});

describe("BoundedSet (replay caches)", () => {
  it("remembers up to its limit, forgetting the oldest first", () => {
    const set = new BoundedSet<number>(3);
    expect([1, 2, 3, 1].map((n) => set.add(n))).toEqual([true, true, true, false]);
    set.add(4);
    expect(set.size).toBe(3);
    expect([set.has(1), set.has(2), set.has(4)]).toEqual([false, true, true]);
    for (let n = 0; n < 10_000; n++) set.add(n + 10);
    expect(set.size).toBe(3);
  });
});
