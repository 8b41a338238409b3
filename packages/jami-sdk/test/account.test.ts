import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DhtNode, SecureDht, Value } from "jami-dht";
import { PrivateKey } from "jami-identity";
import { Account } from "jami-sdk";
import { deviceOf } from "../../../test-support/accounts.js";
import { next, waitFor } from "../../../test-support/events.js";
import { JamiDhtKeys } from "../src/dht/keys.js";
import { encodeTrustRequest } from "../src/dht/trust-request.js";
import { encodeDeviceSync } from "../src/dht/device-sync.js";

const BITS = 2048;
const tmp = () => mkdtempSync(join(tmpdir(), "jami-account-"));

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

  /** A positive control: a new account's trust request reaches bob (resolves with its Jami ID once it did). */
  async function requestFromNewAccount(name: string): Promise<string> {
    const sender = await Account.create({ dir: join(tmp(), name), bits: BITS, bootstrap, host: "127.0.0.1" });
    await sender.start();
    try {
      const arrived = next(bob.contacts, "request", { filter: (r) => r.from === sender.jamiId });
      await sender.contacts.add(bob.jamiId);
      await arrived;
      return sender.jamiId;
    } finally {
      await sender.stop();
    }
  }

  it("each account finds the other's device, verified", async () => {
    const devices = await alice.devices.of(bob.jamiId);
    expect(devices.map((d) => d.deviceId.toString())).toEqual([bob.deviceId]);
  });

  it("trust request → accept → confirmed on both sides, with presence", async () => {
    const incoming = next(bob.contacts, "request");
    const presence = next(alice.presence, "change");
    const sent = await alice.contacts.add(bob.jamiId);
    expect((await presence)[0]).toMatchObject({ jamiId: bob.jamiId, online: true });
    const [request] = await incoming;
    expect(request).toMatchObject({ from: alice.jamiId, confirm: false, conversationId: sent.conversationId });
    // the request carries alice's vCard (her profile, from the display name she was created with), as jamid's clients send it
    expect(Buffer.from(request.payload, "base64").toString()).toContain("FN:Alice");
    // and bob keeps it as alice's profile, as jamid's clients do: the request shows who it is from
    await waitFor(() => bob.profile.of(alice.jamiId)?.displayName === "Alice");
    expect(bob.contacts.requests().map((r) => r.from)).toEqual([alice.jamiId]);
    const confirmation = next(alice.contacts, "request");
    await bob.contacts.accept(alice.jamiId);
    expect((await confirmation)[0]).toMatchObject({ from: bob.jamiId, confirm: true });
    expect(alice.contacts.list()).toEqual([expect.objectContaining({ jamiId: bob.jamiId, confirmed: true })]);
    expect(bob.contacts.list()).toEqual([expect.objectContaining({ jamiId: alice.jamiId, confirmed: true })]);
    expect(bob.contacts.requests()).toEqual([]);
  });

  it("a trust request's vCard over the bounds is refused (BAD_VCARD, nothing kept); a payload that is no vCard is left alone", async () => {
    const sender = await Account.create({ dir: join(tmp(), "bomber"), bits: BITS, bootstrap, host: "127.0.0.1" });
    await sender.start();
    try {
      const refused = next(bob.profile, "error");
      const arrived = next(bob.contacts, "request", { filter: (r) => r.from === sender.jamiId });
      const bomb = new TextEncoder().encode(`BEGIN:VCARD\nFN:Bomb\n${"X-A:1\n".repeat(300)}END:VCARD\n`);
      await sender.contacts.add(bob.jamiId, { payload: bomb });
      await arrived;
      expect((await refused)[0]).toMatchObject({ from: { jamiId: sender.jamiId }, error: { code: "BAD_VCARD" } });
      expect(bob.profile.of(sender.jamiId)).toBeUndefined();
      await bob.contacts.decline(sender.jamiId);
    } finally {
      await sender.stop();
    }
    // an application's own payload: the request arrives, nothing is refused or kept as a profile
    const plain = await Account.create({ dir: join(tmp(), "plain-payload"), bits: BITS, bootstrap, host: "127.0.0.1" });
    await plain.start();
    try {
      const errors: unknown[] = [];
      bob.profile.on("error", (e) => errors.push(e));
      const arrived = next(bob.contacts, "request", { filter: (r) => r.from === plain.jamiId });
      await plain.contacts.add(bob.jamiId, { payload: new TextEncoder().encode("hello from an app") });
      await arrived;
      expect(errors).toEqual([]);
      expect(bob.profile.of(plain.jamiId)).toBeUndefined();
      await bob.contacts.decline(plain.jamiId);
    } finally {
      await plain.stop();
    }
  });

  it("contacts survive a reload", async () => {
    const again = await Account.load({ dir: bobDir, password: "pw" });
    expect(again.jamiId).toBe(bob.jamiId);
    expect(again.contacts.list().map((c) => c.jamiId)).toEqual([alice.jamiId]);
  });

  it("a second device imported from the archive is in both devices' view of the account", async () => {
    const { exportAccount } = await import("jami-identity");
    const archive = await exportAccount({ dir: bobDir, password: "pw" });
    const laptop = await Account.import({ archive, dir: join(tmp(), "bob-laptop"), password: "pw", bits: BITS, bootstrap, host: "127.0.0.1" });
    // This archive is the one written at creation: no contacts yet; they come by DeviceSync once online.
    expect(laptop.contacts.list()).toEqual([]);
    const synced = next(laptop.devices, "sync", { timeoutMs: 30_000 });
    await laptop.start();
    try {
      expect(laptop.jamiId).toBe(bob.jamiId);
      const ids = [bob.deviceId, laptop.deviceId].sort();
      expect((await bob.devices.own()).map((d) => d.deviceId.toString()).sort()).toEqual(ids);
      expect((await laptop.devices.own()).map((d) => d.deviceId.toString()).sort()).toEqual(ids);
      expect((await synced)[0]).toMatchObject({ fromDevice: bob.deviceId, contacts: 1 });
      expect(laptop.contacts.list()).toEqual([expect.objectContaining({ jamiId: alice.jamiId, confirmed: true })]);
      expect(
        laptop.devices
          .list()
          .map((d) => d.deviceId)
          .sort(),
      ).toEqual(ids);
      await waitFor(() => bob.devices.list().length === 2);
      expect(
        bob.devices
          .list()
          .map((d) => d.deviceId)
          .sort(),
      ).toEqual(ids);

      // A change on the laptop reaches the phone.
      const blocked = "1f".repeat(20);
      await laptop.contacts.block(blocked);
      await waitFor(() => bob.contacts.list().some((c) => c.jamiId === blocked));
      expect(bob.contacts.list().find((c) => c.jamiId === blocked)).toMatchObject({ banned: true });

      // A sync older than the last one accepted from the laptop (a replay) changes nothing.
      const stale = encodeDeviceSync({
        date: 1n,
        deviceName: "",
        devices: [],
        peers: { ["2e".repeat(20)]: { added: 1, removed: 0, confirmed: true, banned: false, conversationId: "" } },
        trustRequests: {},
      });
      const asLaptop = new SecureDht(seed, { key: (await deviceOf(laptop))!.key });
      await asLaptop.putEncrypted(JamiDhtKeys.inbox(bob.identity.deviceShortId), new Value({ type: 0, data: stale }), bob.identity.devicePublicKey);
      // A sync from a device of another account (alice) is refused too.
      const asAlice = new SecureDht(seed, { key: (await deviceOf(alice))!.key });
      const forged = encodeDeviceSync({
        date: BigInt(Date.now()) * 1_000_000n,
        deviceName: "",
        devices: [],
        peers: { ["3d".repeat(20)]: { added: 1, removed: 0, confirmed: true, banned: false, conversationId: "" } },
        trustRequests: {},
      });
      await asAlice.putEncrypted(JamiDhtKeys.inbox(bob.identity.deviceShortId), new Value({ type: 0, data: forged }), bob.identity.devicePublicKey);
      // Positive control, sent after them the same way: a genuine change from the laptop arrives.
      await laptop.contacts.block("4c".repeat(20));
      await waitFor(() => bob.contacts.list().some((c) => c.jamiId === "4c".repeat(20)));
      expect(bob.contacts.list().map((c) => c.jamiId)).not.toContain("2e".repeat(20));
      expect(bob.contacts.list().map((c) => c.jamiId)).not.toContain("3d".repeat(20));
    } finally {
      await laptop.stop();
    }
    // The contacts travel in the archive too: a device imported from a fresh export has them before going online.
    const tablet = await Account.import({
      archive: await bob.devices.exportArchive({ password: "pw" }),
      dir: join(tmp(), "bob-tablet"),
      password: "pw",
      bits: BITS,
    });
    expect(
      tablet.contacts
        .list()
        .map((c) => c.jamiId)
        .sort(),
    ).toEqual([alice.jamiId, "1f".repeat(20), "4c".repeat(20)].sort());
  });

  it("a declined request sent again is recognised; a new conversation from the same sender is not", async () => {
    const dave = await Account.create({ dir: join(tmp(), "dave"), bits: BITS, bootstrap, host: "127.0.0.1" });
    await dave.start();
    try {
      const first = next(bob.contacts, "request");
      await dave.contacts.add(bob.jamiId);
      await first;
      await bob.contacts.decline(dave.jamiId);
      const seen: unknown[] = [];
      bob.contacts.on("request", (r) => seen.push(r));
      await dave.contacts.add(bob.jamiId); // same conversation: a replay of the declined request
      // Positive control, sent after it the same way: another account's request arrives.
      const erin = await requestFromNewAccount("erin");
      await bob.contacts.decline(erin);
      expect(seen.map((r) => (r as { from: string }).from)).toEqual([erin]);
      expect(bob.contacts.requests().map((r) => r.from)).not.toContain(dave.jamiId);
      await dave.contacts.remove(bob.jamiId);
      const again = next(bob.contacts, "request");
      const renewed = await dave.contacts.add(bob.jamiId);
      expect((await again)[0]).toMatchObject({ from: dave.jamiId, conversationId: renewed.conversationId });
      await bob.contacts.decline(dave.jamiId);
      await expect(bob.contacts.decline("00".repeat(20))).rejects.toMatchObject({ code: "NO_TRUST_REQUEST" });
      await expect(bob.contacts.add("not-an-id")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    } finally {
      await dave.stop();
    }
  });

  it("garbage, unverifiable senders and blocked accounts leave no trace", async () => {
    const carol = await Account.create({ dir: join(tmp(), "carol"), bits: BITS, bootstrap, host: "127.0.0.1" });
    await carol.start();
    try {
      const seen: unknown[] = [];
      bob.contacts.on("request", (r) => seen.push(r));
      const inbox = JamiDhtKeys.inbox(bob.identity.deviceShortId);
      // Garbage and a plain value in the inbox.
      await seed.put(inbox, new Value({ data: "garbage" }));
      // A trust request signed by a key that has no certificate chain on the DHT.
      const stranger = new SecureDht(seed, { key: await PrivateKey.generate(BITS) });
      await stranger.putEncrypted(
        inbox,
        new Value({ type: 4, data: encodeTrustRequest({ conversationId: "ab".repeat(20), payload: new Uint8Array(), confirm: false }) }),
        bob.identity.devicePublicKey,
      );
      // A blocked account's request.
      await bob.contacts.block(carol.jamiId);
      await carol.contacts.add(bob.jamiId);
      // Positive control, sent after them the same way: a genuine request arrives.
      const frank = await requestFromNewAccount("frank");
      expect(seen.map((r) => (r as { from: string }).from)).toEqual([frank]);
      expect(bob.contacts.requests().map((r) => r.from)).toEqual([frank]);
      expect(bob.contacts.list().find((c) => c.jamiId === carol.jamiId)).toMatchObject({ banned: true });
    } finally {
      await carol.stop();
    }
  });
});
