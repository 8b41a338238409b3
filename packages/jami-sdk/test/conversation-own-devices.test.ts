import { decodeMsgpackPrefix, encodeMsgpack } from "jami-core";
import { MemoryDht } from "jami-dht";
import * as fs from "node:fs";
import { Conversations } from "../src/features/conversations.js";
import { newTestDevice, secondTestDevice, type TestDevice } from "../../../test-support/components.js";
import { next, waitFor } from "../../../test-support/events.js";

/**
 * Two devices of one account (the second imported from the first's archive) keep their conversations in step over
 * `sync://` (jamid 13.7's SyncMsg): what one has the other clones from it, invitations and declines travel, and a
 * conversation left on one is gone from the other. A third account's device may not open `sync://` to us.
 */
describe("conversations across the devices of one account", () => {
  let dht: MemoryDht;
  let phone: TestDevice, laptop: TestDevice, friend: TestDevice;
  let onPhone: Conversations, onLaptop: Conversations, atFriend: Conversations;
  const started: Array<[TestDevice, Conversations]> = [];

  async function up(device: TestDevice, conv = new Conversations(device.components)): Promise<Conversations> {
    await device.start();
    await conv.load();
    await device.components.links.start();
    await conv.start();
    started.push([device, conv]);
    return conv;
  }

  beforeEach(async () => {
    dht = new MemoryDht();
    phone = await newTestDevice(dht);
    friend = await newTestDevice(dht);
    laptop = await secondTestDevice(dht, phone);
    onPhone = await up(phone);
    atFriend = await up(friend);
  });
  /** As `Account.stop`: abort what is in flight, then the features, the links, the node. */
  async function stopDevice(device: TestDevice, conv: Conversations): Promise<void> {
    const i = started.findIndex(([d]) => d === device);
    if (i >= 0) started.splice(i, 1);
    device.abort();
    await conv.stop();
    await device.components.links.stop();
    await device.stop();
  }
  afterEach(async () => {
    for (const [device, conv] of started.splice(0).reverse()) await stopDevice(device, conv);
  });

  it("a device that comes up later clones the account's conversations from the other and gets its invitations", async () => {
    const group = await onPhone.create({ profile: { title: "family" } });
    await onPhone.send(group.conversationId, "from the phone");
    const invitation = await atFriend.create();
    const invited = next(onPhone, "request");
    await atFriend.invite(invitation.conversationId, phone.local.jamiId.toString());
    await invited;
    // an exported archive lists them as jamid does (a device imported from it clones them when a member shows up)
    const archived = phone.components.sync.archive() as { conversations: Record<string, { members: Array<{ uri: string }> }>; conversationsRequests: object };
    expect(archived.conversations[group.conversationId]!.members).toEqual([{ uri: phone.local.jamiId.toString() }]);
    expect(Object.keys(archived.conversationsRequests)).toEqual([invitation.conversationId]);

    onLaptop = new Conversations(laptop.components);
    const ready = next(onLaptop, "ready", { filter: (r) => r.conversationId === group.conversationId });
    const requested = next(onLaptop, "request");
    await up(laptop, onLaptop);
    await ready;
    expect((await requested)[0].conversationId).toBe(invitation.conversationId);
    expect(await onLaptop.get(group.conversationId)!.head()).toBe(await group.head());
    expect(onLaptop.requests().map((r) => r.conversationId)).toEqual([invitation.conversationId]);

    // declined on the laptop: declined on the phone too
    await onLaptop.decline(invitation.conversationId);
    await waitFor(() => onPhone.requests().length === 0, { what: "the decline on the phone" });

    // left on the phone: gone from the laptop
    const dir = onLaptop.get(group.conversationId)!.dir;
    await onPhone.leave(group.conversationId);
    await waitFor(() => !onLaptop.list().includes(group.conversationId), { what: "the leave on the laptop" });
    expect(fs.existsSync(dir)).toBe(false);
  });

  it("an imported archive's conversations are cloned from an own device over `sip` even when it never writes its state on sync:// (jamid 13.7 writes it only on channels it opened)", async () => {
    const group = await onPhone.create({ profile: { title: "notes" } });
    await onPhone.send(group.conversationId, "only this account is in here");
    // and a group of the friend's, joined: its archive entry names the friend first, who is offline when the laptop comes
    const friends = await atFriend.create();
    const invited = next(onPhone, "request");
    await atFriend.invite(friends.conversationId, phone.local.jamiId.toString());
    await invited;
    await onPhone.accept(friends.conversationId);
    const archive = await phone.components.identity.exportArchive(undefined, phone.components.sync.archive());
    await stopDevice(friend, atFriend);
    // the phone accepts the laptop's sync:// channel but, as jamid on a channel it did not open, writes nothing on it
    silenceOwnSync(onPhone);
    const imported = await secondTestDevice(dht, phone, archive);
    onLaptop = new Conversations(imported.components);
    const ready = [group, friends].map((c) => next(onLaptop, "ready", { filter: (r) => r.conversationId === c.conversationId }));
    await up(imported, onLaptop);
    await Promise.all(ready);
    expect(await onLaptop.get(group.conversationId)!.head()).toBe(await group.head());
    expect(await onLaptop.get(friends.conversationId)!.head()).toBe(await onPhone.get(friends.conversationId)!.head());
    expect(onLaptop.list().sort()).toEqual([group.conversationId, friends.conversationId].sort());
  });

  it("the account's DeviceSync goes on sync:// too, as 13.7 writes it when the channel opens and after a change (today's daemons sync contacts only there)", async () => {
    const friendId = friend.local.jamiId.toString();
    let confirmed = false;
    phone.components.sync.part("contacts-probe", {
      build: () => ({ peers: { [friendId]: { added: 1_700_000_000, removed: 0, confirmed, banned: false, conversationId: "" } } }),
      apply: async () => undefined,
    });
    const seen: Array<{ date: bigint; confirmed?: boolean; from: string }> = [];
    laptop.components.events.on("deviceSyncReceived", ({ sync, from }) =>
      seen.push({ date: sync.date, confirmed: sync.peers[friendId]?.confirmed, from: from.deviceId.toString() }),
    );
    await onPhone.create(); // something to sync besides the DeviceSync (those messages carry an empty one: not passed on)
    onLaptop = await up(laptop);
    await waitFor(() => seen.some((s) => s.from === phone.local.deviceId.toString() && s.confirmed === false), {
      what: "the phone's DeviceSync on the laptop",
    });
    confirmed = true;
    phone.components.events.emit("syncRequested", {});
    await waitFor(() => seen.some((s) => s.confirmed === true), { what: "the change" });
    expect(seen.every((s) => s.date > 0n && s.from === phone.local.deviceId.toString())).toBe(true);
    const dates = seen.map((s) => s.date);
    expect([...dates].sort((x, y) => (x < y ? -1 : 1))).toEqual(dates); // each newer than the last
  });

  it("the first message on a sync:// channel we accept carries the DeviceSync and the conversations together (a 13.7 opener decodes only the first object of what came before its reader was set)", async () => {
    const group = await onPhone.create();
    await laptop.start();
    await laptop.components.links.start();
    try {
      const channel = await laptop.components.links.connect(phone.local.deviceId.toString(), `sync://${phone.local.deviceId.toString()}`);
      const first = await new Promise<Buffer>((resolve) => channel.once("data", resolve));
      const item = decodeMsgpackPrefix(new Uint8Array(first))!.value as [{ date: bigint | number }, Record<string, unknown>];
      expect(BigInt(item[0].date)).toBeGreaterThan(0n);
      expect(Object.keys(item[1])).toContain(group.conversationId);
      channel.destroy();
    } finally {
      laptop.abort();
      await laptop.components.links.stop();
      await laptop.stop();
    }
  });

  it("where the members stand travels between our devices (13.7's `ld`, today's `ms`): a friend's fetch and read, and our own read", async () => {
    const friendId = friend.local.jamiId.toString();
    const ourId = phone.local.jamiId.toString();
    const group = await onPhone.create();
    const sent = await onPhone.send(group.conversationId, "read me");
    const invited = next(atFriend, "request");
    await onPhone.invite(group.conversationId, friendId);
    await invited;
    const delivered = next(onPhone, "delivered", { filter: (d) => d.from === friendId });
    await atFriend.accept(group.conversationId);
    await delivered; // the friend's clone, served by the phone

    // the laptop comes up later: the marks come with the phone's first message
    onLaptop = new Conversations(laptop.components);
    const ready = next(onLaptop, "ready", { filter: (r) => r.conversationId === group.conversationId });
    const deliveredThere = next(onLaptop, "delivered", { filter: (d) => d.from === friendId });
    await up(laptop, onLaptop);
    await ready;
    await deliveredThere;
    await waitFor(async () => (await onLaptop.status(group.conversationId, sent)) === "delivered", { what: "delivered on the laptop" });

    // our own read mark, made on the laptop, reaches the phone — and is no receipt there
    const ownRead = next(onPhone, "read", { filter: (r) => r.from === ourId });
    await onLaptop.markDisplayed(group.conversationId, sent);
    expect((await ownRead)[0].messageId).toBe(sent);
    expect(await onPhone.status(group.conversationId, sent)).toBe("delivered");

    // a read mark the phone gets afterwards follows at once
    const readThere = next(onLaptop, "read", { filter: (r) => r.from === friendId });
    await atFriend.markDisplayed(group.conversationId, sent);
    expect((await readThere)[0].messageId).toBe(sent);
    expect(await onLaptop.status(group.conversationId, sent)).toBe("displayed");
  });

  it("marks from our own device are taken unless ours are newer; bad entries, non-members and unknown conversations change nothing", async () => {
    const friendId = friend.local.jamiId.toString();
    const stranger = "a".repeat(40);
    const group = await onPhone.create();
    await onPhone.invite(group.conversationId, friendId);
    const first = await onPhone.send(group.conversationId, "one");
    const second = await onPhone.send(group.conversationId, "two");
    const reads: Array<{ from: string; messageId: string }> = [];
    onPhone.on("read", (r) => reads.push(r));
    await laptop.start();
    await laptop.components.links.start();
    try {
      const channel = await laptop.components.links.connect(phone.local.deviceId.toString(), `sync://${phone.local.deviceId.toString()}`);
      channel.resume();
      const conv = group.conversationId;
      const other = "e".repeat(40);
      // today's `ms`: the friend read `second` at 2000; a bad commit and a conversation we do not have are skipped
      channel.write(
        encodeMsgpack([
          {},
          {},
          {},
          {},
          {},
          {
            [conv]: {
              [friendId]: { read: second, read_ts: "2000" },
              ["f".repeat(40)]: { read: "nope", read_ts: "1" },
              // not a member: each mark is a store write, so only the conversation's members may have one
              [stranger]: { read: second, read_ts: "2000", fetched: second, fetched_ts: "2000" },
            },
            [other]: { [friendId]: { read: first, read_ts: "1" } },
          },
        ]),
      );
      await waitFor(() => reads.length === 1, { what: "the friend's mark" });
      // 13.7's `ld` with an older time: not taken
      channel.write(encodeMsgpack([{}, {}, {}, {}, { [conv]: { [friendId]: first, lastModified: "1000" } }]));
      // and a newer one is
      channel.write(encodeMsgpack([{}, {}, {}, {}, { [conv]: { [friendId]: first, lastModified: "3000" } }]));
      await waitFor(() => reads.length === 2, { what: "the newer 13.7 mark" });
      expect(reads).toEqual([
        { conversationId: conv, from: friendId, messageId: second },
        { conversationId: conv, from: friendId, messageId: first },
      ]);
      // our own mark on a conversation that is not here: refused, nothing stored
      await expect(onPhone.markDisplayed(other, first)).rejects.toBeDefined();
      const stored = (await phone.components.store.read<Record<string, unknown>>("conversation-receipts"))!;
      expect(Object.keys(stored)).toEqual([conv]);
      expect(stored[conv]).toEqual({ [friendId]: { displayed: first, displayedAt: 3000 } });
      channel.destroy();
    } finally {
      laptop.abort();
      await laptop.components.links.stop();
      await laptop.stop();
    }
  });

  it("sync:// is refused to another account's device, and to a name that is not this device", async () => {
    const phoneId = phone.local.deviceId.toString();
    await expect(friend.components.links.connect(phone.local.jamiId.toString(), `sync://${phoneId}`)).rejects.toMatchObject({ code: "CHANNEL_DECLINED" });
    onLaptop = await up(laptop);
    await expect(laptop.components.links.connect(phone.local.jamiId.toString(), `sync://${"0".repeat(64)}`)).rejects.toMatchObject({
      code: "CHANNEL_DECLINED",
    });
  });

  it("a sync message over 4 MiB closes that channel (only our own devices may open one, but they are bounded too)", async () => {
    onLaptop = await up(laptop);
    const channel = await laptop.components.links.connect(phone.local.deviceId.toString(), `sync://${phone.local.deviceId.toString()}`);
    const closed = new Promise<void>((resolve) => channel.once("close", () => resolve()));
    channel.on("error", () => undefined);
    channel.resume(); // read what may come, so the channel can end
    // a msgpack bin32 announcing 5 MiB, then its bytes: the message never completes
    const header = Buffer.from([0xc6, 0, 0x50, 0, 0]);
    channel.write(header);
    const chunk = Buffer.alloc(64 * 1024);
    let gone = false;
    void closed.then(() => (gone = true));
    for (let sent = 0; sent < 4.5 * 1024 * 1024 && !gone && channel.writable; sent += chunk.length) {
      if (!channel.write(chunk)) await Promise.race([new Promise((r) => channel.once("drain", r)), closed]);
    }
    await closed;
    // the link itself stays up for other channels
    expect(laptop.components.links.connected()).toContain(phone.local.deviceId.toString());
  });
});

/** Makes a device's conversations accept sync:// channels without writing its state on them (jamid 13.7's acceptor). */
function silenceOwnSync(conversations: Conversations): void {
  const own = (conversations as unknown as { ownSync: { sendState: () => Promise<void>; broadcast: () => Promise<void> } }).ownSync;
  own.sendState = async () => undefined;
  own.broadcast = async () => undefined;
}
