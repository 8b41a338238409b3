/**
 * Each built-in feature alone, on in-memory components (a MemoryDht, a MemoryStore): no Account around it, no
 * other feature beside it. What a feature needs from another comes through the bus or a registry, so a test
 * plays that part itself.
 */
import { MemoryDht, Value } from "jami-dht";
import { verifyDeviceChain, type VerifiedDevice } from "jami-identity";
import { newTestDevice, secondTestDevice, type TestDevice } from "../../../test-support/components.js";
import { next, waitFor } from "../../../test-support/events.js";
import { Contacts } from "../src/features/contacts.js";
import { Devices } from "../src/features/devices.js";
import { Presence } from "../src/features/presence.js";
import { JamiDhtKeys } from "../src/dht/keys.js";

const verified = (d: TestDevice): VerifiedDevice => verifyDeviceChain([d.local.device.certificate, ...d.local.device.issuers]);

describe("features alone on in-memory components", () => {
  let dht: MemoryDht;
  let a: TestDevice;
  let b: TestDevice;
  beforeEach(async () => {
    dht = new MemoryDht();
    [a, b] = await Promise.all([newTestDevice(dht), newTestDevice(dht)]);
    await Promise.all([a.start(), b.start()]);
  });
  afterEach(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });

  it("contacts: request, accept, confirmation; the change goes on the bus and asks for a device sync", async () => {
    const [ca, cb] = [new Contacts(a.components), new Contacts(b.components)];
    await Promise.all([ca.load(), cb.load()]);
    const onBus: unknown[] = [];
    const syncs: unknown[] = [];
    a.components.events.on("contactChanged", (e) => onBus.push(e));
    a.components.events.on("syncRequested", (e) => syncs.push(e));
    const request = next(cb, "request");
    const contact = await ca.add(b.local.jamiId.toString());
    expect((await request)[0]).toMatchObject({ from: a.local.jamiId.toString(), conversationId: contact.conversationId, confirm: false });
    const confirmed = next(ca, "change", { filter: (c) => c.confirmed });
    await cb.accept(a.local.jamiId.toString());
    await confirmed;
    expect(ca.list()).toEqual([expect.objectContaining({ jamiId: b.local.jamiId.toString(), confirmed: true })]);
    expect(onBus).toEqual([
      { jamiId: b.local.jamiId.toString(), active: true },
      { jamiId: b.local.jamiId.toString(), active: true },
    ]);
    expect(syncs.length).toBe(2);
    // Its part of the DeviceSync and of the archive.
    expect(Object.keys(a.components.sync.build(1n, "x").peers)).toEqual([b.local.jamiId.toString()]);
    expect(Object.keys(a.components.sync.archive().ringAccountContacts as object)).toEqual([b.local.jamiId.toString()]);
  });

  it("contacts: a ban is a trust rule every device of the banned account fails; the store holds the state", async () => {
    const ca = new Contacts(a.components);
    await ca.load();
    await expect(a.components.trust.check(verified(b))).resolves.toBeUndefined();
    // An aborted call is a typed error that changes nothing.
    await expect(ca.block(b.local.jamiId.toString(), { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: "ABORTED" });
    expect(ca.list()).toEqual([]);
    await expect(a.components.trust.check(verified(b))).resolves.toBeUndefined();
    await ca.block(b.local.jamiId.toString());
    await expect(a.components.trust.check(verified(b))).rejects.toMatchObject({ code: "PEER_REFUSED" });
    const stored = await a.components.store.read<{ contacts: Record<string, { banned: boolean }> }>("contacts");
    expect(stored?.contacts[b.local.jamiId.toString()]).toMatchObject({ banned: true });
  });

  it("presence: follows what the bus says is an active contact, reports its device going online", async () => {
    const presence = new Presence(a.components);
    await presence.start();
    const online = next(presence, "change");
    a.components.events.emit("contactChanged", { jamiId: b.local.jamiId.toString(), active: true });
    expect((await online)[0]).toMatchObject({ jamiId: b.local.jamiId.toString(), online: true, devices: [b.local.deviceShortId.toString()] });
    expect(presence.isOnline(b.local.jamiId.toString())).toBe(true);
    a.components.events.emit("contactChanged", { jamiId: b.local.jamiId.toString(), active: false });
    expect(presence.isOnline(b.local.jamiId.toString())).toBe(false);
    await presence.stop();
  });

  it("devices: two devices of one account learn each other and exchange every registered sync part", async () => {
    const second = await secondTestDevice(dht, a);
    await second.start();
    try {
      const [first, other] = [new Devices(a.components), new Devices(second.components)];
      await Promise.all([first.load(), other.load()]);
      // A feature's part, as conversations will add theirs.
      const received: string[] = [];
      second.components.sync.part("probe", {
        build: () => ({}),
        apply: async (sync) => void received.push(sync.deviceName),
      });
      a.components.sync.part("probe", { build: () => ({}), apply: async () => undefined });
      const learnt = next(other, "sync", { timeoutMs: 30_000 });
      await first.start();
      await other.start(); // its announcement reaches the first device, which greets it with a sync
      expect((await learnt)[0]).toMatchObject({ fromDevice: a.local.deviceId.toString() });
      expect(received).toEqual([a.local.deviceName]);
      await waitFor(() => first.list().length === 2);
      expect(
        other
          .list()
          .map((d) => d.deviceId)
          .sort(),
      ).toEqual([a.local.deviceId.toString(), second.local.deviceId.toString()].sort());
      expect((await first.own()).length).toBe(2);
      await Promise.all([first.stop(), other.stop()]);
    } finally {
      await second.stop();
    }
  });

  it("devices: a DeviceSync that came on sync:// (the bus) is applied part by part, from our own devices only", async () => {
    const second = await secondTestDevice(dht, a);
    await second.start();
    try {
      const other = new Devices(second.components);
      await other.load();
      const applied: string[] = [];
      second.components.sync.part("probe", { build: () => ({}), apply: async (sync) => void applied.push(sync.deviceName) });
      await other.start();
      const fromDevice = async (device: typeof a) => (await devicesOf(device))[0]!;
      const devicesOf = (device: typeof a) => new Devices(device.components).of(device.local.jamiId.toString());
      // another account's device: ignored
      second.components.events.emit("deviceSyncReceived", {
        sync: { date: 1n, deviceName: "stranger", devices: [], peers: {}, trustRequests: {} },
        from: await fromDevice(b),
      });
      const synced = next(other, "sync");
      second.components.events.emit("deviceSyncReceived", {
        sync: { date: 2n, deviceName: "the first", devices: [], peers: {}, trustRequests: {} },
        from: await fromDevice(a),
      });
      expect((await synced)[0]).toMatchObject({ fromDevice: a.local.deviceId.toString() });
      expect(applied).toEqual(["the first"]);
      await waitFor(() => other.list().some((d) => d.deviceId === a.local.deviceId.toString() && d.name === "the first"));
      await other.stop();
    } finally {
      await second.stop();
    }
  });

  it("links: a channel between two devices, a name nobody handles declined, a refused device refused", async () => {
    const { links: la } = a.components;
    const { links: lb } = b.components;
    await Promise.all([la.start(), lb.start()]);
    try {
      lb.handle("chat");
      const incoming = next(lb, "channel");
      const channel = await la.connect(b.local.jamiId.toString(), "chat");
      expect((await incoming)[0].peer).toEqual({ jamiId: a.local.jamiId.toString(), deviceId: a.local.deviceId.toString() });
      await expect(la.connect(b.local.deviceId.toString(), "other")).rejects.toMatchObject({ code: "CHANNEL_DECLINED" });
      channel.end();
      la.disconnect(b.local.deviceId.toString());
      // The dialing side checks the device it reached against its trust policy.
      a.components.trust.refuseWhen((peer) => (peer.jamiId.equals(b.local.jamiId) ? "refused by the test" : undefined));
      await expect(la.connect(b.local.jamiId.toString(), "chat")).rejects.toMatchObject({ code: "PEER_REFUSED" });
      expect(la.connected()).toEqual([]);
    } finally {
      await Promise.all([la.stop(), lb.stop()]);
    }
  });

  it("inbox: each value is handed over once, also when a restart listens again and the DHT sends it again", async () => {
    const handled: string[] = [];
    a.components.inbox.handle(77, (v) => void handled.push(Buffer.from(v.data).toString()));
    const send = async (text: string): Promise<void> => {
      await b.components.network.secure.putEncrypted(
        JamiDhtKeys.inbox(a.local.deviceShortId),
        new Value({ type: 77, data: text }),
        a.local.device.key.publicKey,
      );
    };
    await send("first");
    await waitFor(() => handled.includes("first"));
    await a.stop();
    await a.start(); // listens again: the stored value comes again
    await send("second"); // positive control, after the re-delivery
    await waitFor(() => handled.includes("second"));
    expect(handled).toEqual(["first", "second"]);
  });
});
