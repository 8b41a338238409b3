import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DhtNode, SecureDht, Value } from "jami-dht";
import { PrivateKey } from "jami-identity";
import { Account, type AccountEvents } from "jami-sdk";
import { JamiDhtKeys } from "../src/dht/keys.js";
import { encodeTrustRequest } from "../src/dht/trust-request.js";
import { encodeDeviceSync } from "../src/dht/device-sync.js";

const BITS = 2048;
const tmp = () => mkdtempSync(join(tmpdir(), "jami-account-"));

function next<K extends keyof AccountEvents & string>(account: Account, event: K, timeoutMs = 20_000): Promise<AccountEvents[K]> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} event`)), timeoutMs);
    account.once(event, (...args: AccountEvents[K]) => {
      clearTimeout(t);
      resolve(args);
    });
  });
}

async function waitUntil(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("Account v1 on a local DHT", () => {
  let seed: DhtNode;
  let bootstrap: string[];
  let alice: Account;
  let bob: Account;
  let bobDir: string;
  beforeAll(async () => {
    seed = await DhtNode.create({ host: "127.0.0.1", port: 0 });
    bootstrap = [`127.0.0.1:${seed.addresses[0]!.port}`];
    bobDir = join(tmp(), "bob");
    [alice, bob] = await Promise.all([
      Account.create({ dir: join(tmp(), "alice"), displayName: "Alice", bits: BITS, bootstrap, host: "127.0.0.1" }),
      Account.create({ dir: bobDir, password: "pw", displayName: "Bob", bits: BITS, bootstrap, host: "127.0.0.1" }),
    ]);
    await Promise.all([alice.start(), bob.start()]);
  });
  afterAll(async () => {
    await Promise.all([alice?.stop(), bob?.stop()]);
    await seed.close();
  });

  it("each account finds the other's device, verified", async () => {
    const devices = await alice.devicesOf(bob.jamiId);
    expect(devices.map((d) => d.deviceId.toString())).toEqual([bob.deviceId]);
  });

  it("trust request → accept → confirmed on both sides, with presence", async () => {
    const incoming = next(bob, "trustRequest");
    const presence = next(alice, "presence");
    const sent = await alice.addContact(bob.jamiId);
    expect((await presence)[0]).toMatchObject({ jamiId: bob.jamiId, online: true });
    const [request] = await incoming;
    expect(request).toMatchObject({ from: alice.jamiId, confirm: false, conversationId: sent.conversationId });
    expect(bob.trustRequests().map((r) => r.from)).toEqual([alice.jamiId]);
    const confirmation = next(alice, "trustRequest");
    await bob.acceptTrustRequest(alice.jamiId);
    expect((await confirmation)[0]).toMatchObject({ from: bob.jamiId, confirm: true });
    expect(alice.contacts()).toEqual([expect.objectContaining({ jamiId: bob.jamiId, confirmed: true })]);
    expect(bob.contacts()).toEqual([expect.objectContaining({ jamiId: alice.jamiId, confirmed: true })]);
    expect(bob.trustRequests()).toEqual([]);
  });

  it("contacts survive a reload", async () => {
    const again = await Account.load({ dir: bobDir, password: "pw" });
    expect(again.jamiId).toBe(bob.jamiId);
    expect(again.contacts().map((c) => c.jamiId)).toEqual([alice.jamiId]);
  });

  it("a second device imported from the archive is in both devices' view of the account", async () => {
    const { exportAccount } = await import("jami-identity");
    const archive = await exportAccount({ dir: bobDir, password: "pw" });
    const laptop = await Account.import({ archive, dir: join(tmp(), "bob-laptop"), password: "pw", bits: BITS, bootstrap, host: "127.0.0.1" });
    // This archive is the one written at creation: no contacts yet; they come by DeviceSync once online.
    expect(laptop.contacts()).toEqual([]);
    const synced = next(laptop, "sync", 30_000);
    await laptop.start();
    try {
      expect(laptop.jamiId).toBe(bob.jamiId);
      const ids = [bob.deviceId, laptop.deviceId].sort();
      expect((await bob.ownDevices()).map((d) => d.deviceId.toString()).sort()).toEqual(ids);
      expect((await laptop.ownDevices()).map((d) => d.deviceId.toString()).sort()).toEqual(ids);
      expect((await synced)[0]).toMatchObject({ fromDevice: bob.deviceId, contacts: 1 });
      expect(laptop.contacts()).toEqual([expect.objectContaining({ jamiId: alice.jamiId, confirmed: true })]);
      expect(laptop.knownDevices().map((d) => d.deviceId).sort()).toEqual(ids);
      await waitUntil(() => bob.knownDevices().length === 2);
      expect(bob.knownDevices().map((d) => d.deviceId).sort()).toEqual(ids);

      // A change on the laptop reaches the phone.
      const blocked = "1f".repeat(20);
      await laptop.block(blocked);
      await waitUntil(() => bob.contacts().some((c) => c.jamiId === blocked));
      expect(bob.contacts().find((c) => c.jamiId === blocked)).toMatchObject({ banned: true });

      // A sync older than the last one accepted from the laptop (a replay) changes nothing.
      const stale = encodeDeviceSync({ date: 1n, deviceName: "", devices: [], peers: { ["2e".repeat(20)]: { added: 1, removed: 0, confirmed: true, banned: false, conversationId: "" } }, trustRequests: {} });
      const asLaptop = new SecureDht(seed, { key: laptop.local.device.key });
      await asLaptop.putEncrypted(JamiDhtKeys.inbox(bob.local.deviceShortId), new Value({ type: 0, data: stale }), bob.local.device.key.publicKey);
      // A sync from a device of another account (alice) is refused too.
      const asAlice = new SecureDht(seed, { key: alice.local.device.key });
      const forged = encodeDeviceSync({ date: BigInt(Date.now()) * 1_000_000n, deviceName: "", devices: [], peers: { ["3d".repeat(20)]: { added: 1, removed: 0, confirmed: true, banned: false, conversationId: "" } }, trustRequests: {} });
      await asAlice.putEncrypted(JamiDhtKeys.inbox(bob.local.deviceShortId), new Value({ type: 0, data: forged }), bob.local.device.key.publicKey);
      await new Promise((r) => setTimeout(r, 2000));
      expect(bob.contacts().map((c) => c.jamiId)).not.toContain("2e".repeat(20));
      expect(bob.contacts().map((c) => c.jamiId)).not.toContain("3d".repeat(20));
    } finally {
      await laptop.stop();
    }
    // The contacts travel in the archive too: a device imported from a fresh export has them before going online.
    const tablet = await Account.import({ archive: await bob.exportArchive({ password: "pw" }), dir: join(tmp(), "bob-tablet"), password: "pw", bits: BITS });
    expect(tablet.contacts().map((c) => c.jamiId).sort()).toEqual([alice.jamiId, "1f".repeat(20)].sort());
  });

  it("a declined request sent again is recognised; a new conversation from the same sender is not", async () => {
    const dave = await Account.create({ dir: join(tmp(), "dave"), bits: BITS, bootstrap, host: "127.0.0.1" });
    await dave.start();
    try {
      const first = next(bob, "trustRequest");
      await dave.addContact(bob.jamiId);
      await first;
      await bob.declineTrustRequest(dave.jamiId);
      const seen: unknown[] = [];
      bob.on("trustRequest", (r) => seen.push(r));
      await dave.addContact(bob.jamiId); // same conversation: a replay of the declined request
      await new Promise((r) => setTimeout(r, 1500));
      expect(seen).toEqual([]);
      expect(bob.trustRequests().map((r) => r.from)).not.toContain(dave.jamiId);
      await dave.removeContact(bob.jamiId);
      const again = next(bob, "trustRequest");
      const renewed = await dave.addContact(bob.jamiId);
      expect((await again)[0]).toMatchObject({ from: dave.jamiId, conversationId: renewed.conversationId });
      await bob.declineTrustRequest(dave.jamiId);
      await expect(bob.declineTrustRequest("00".repeat(20))).rejects.toMatchObject({ code: "NO_TRUST_REQUEST" });
      await expect(bob.addContact("not-an-id")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    } finally {
      await dave.stop();
    }
  });

  it("garbage, unverifiable senders and blocked accounts leave no trace", async () => {
    const carol = await Account.create({ dir: join(tmp(), "carol"), bits: BITS, bootstrap, host: "127.0.0.1" });
    await carol.start();
    try {
      const seen: unknown[] = [];
      bob.on("trustRequest", (r) => seen.push(r));
      const inbox = JamiDhtKeys.inbox(bob.local.deviceShortId);
      // Garbage and a plain value in the inbox.
      await seed.put(inbox, new Value({ data: "garbage" }));
      // A trust request signed by a key that has no certificate chain on the DHT.
      const stranger = new SecureDht(seed, { key: await PrivateKey.generate(BITS) });
      await stranger.putEncrypted(inbox, new Value({ type: 4, data: encodeTrustRequest({ conversationId: "ab".repeat(20), payload: new Uint8Array(), confirm: false }) }), bob.local.device.key.publicKey);
      // A blocked account's request.
      await bob.block(carol.jamiId);
      await carol.addContact(bob.jamiId);
      await new Promise((r) => setTimeout(r, 1500));
      expect(seen).toEqual([]);
      expect(bob.trustRequests()).toEqual([]);
      expect(bob.contacts().find((c) => c.jamiId === carol.jamiId)).toMatchObject({ banned: true });
    } finally {
      await carol.stop();
    }
  });
});
