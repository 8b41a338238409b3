import { MemoryDht } from "jami-dht";
import { decodeMsgpackSequence, encodeMsgpack, isMsgMap } from "jami-core";
import type { Channel } from "jami-dtls";
import type { SwarmRepository } from "jami-swarm";
import { Conversations } from "../src/features/conversations.js";
import { MAX_CHANNEL_MESSAGE } from "../src/features/message-channels.js";
import { newTestDevice, type TestDevice } from "../../../test-support/components.js";
import { next, waitFor } from "../../../test-support/events.js";

/**
 * Today's `msg:<device>` channels (2024-11 on daemons): device a plays today's daemon over a real link, writing the
 * msgpack `{id, t, c, req}` messages today's `MessageChannelHandler` writes; b is our Conversations feature.
 */
describe("today's msg: channels", () => {
  let dht: MemoryDht;
  let a: TestDevice, b: TestDevice;
  let ca: Conversations, cb: Conversations;
  let group: SwarmRepository;
  const ids = () => ({
    aJami: a.local.jamiId.toString(),
    aDevice: a.local.deviceId.toString(),
    bJami: b.local.jamiId.toString(),
    bDevice: b.local.deviceId.toString(),
  });
  const notice = (conversationId: string, commit: string, deviceId: string) =>
    encodeMsgpack({ id: 0xfedcba9876543210n, t: "application/im-gitmessage-id", c: JSON.stringify({ id: conversationId, commit, deviceId }), req: null });

  beforeEach(async () => {
    dht = new MemoryDht();
    [a, b] = await Promise.all([newTestDevice(dht), newTestDevice(dht)]);
    await Promise.all([a.start(), b.start()]);
    [ca, cb] = [a, b].map((d) => new Conversations(d.components)) as [Conversations, Conversations];
    for (const [d, conv] of [
      [a, ca],
      [b, cb],
    ] as const) {
      await d.components.links.start();
      await conv.load();
      await conv.start();
    }
    group = await ca.create();
    await group.addMember(ids().bJami);
    await (await cb.clone(group.conversationId, ids().aJami)).join();
  });
  afterEach(async () => {
    for (const [d, conv] of [
      [a, ca],
      [b, cb],
    ] as const) {
      d.abort();
      await conv.stop();
      await d.components.links.stop();
    }
    await Promise.all([a.stop(), b.stop()]);
  });

  it("a notice on msg: is fetched, the channel coming up syncs, and our notices go back on it (not SIP)", async () => {
    const { aJami, aDevice, bDevice } = ids();
    // written before the channel exists: the channel coming up syncs it (today's onMessageChannelReady)
    const early = await group.sendText("before the channel");
    const gotEarly = next(cb, "message", { filter: (m) => m.message.id === early });
    const channel = await a.components.links.connect(ids().bJami, `msg:${bDevice}`);
    const written: Buffer[] = [];
    channel.on("data", (d: Buffer) => written.push(d));
    await gotEarly;

    // a notice on the channel: b fetches that commit from a
    const later = await group.sendText("announced on msg:");
    const gotLater = next(cb, "message", { filter: (m) => m.message.id === later });
    channel.write(notice(group.conversationId, later, aDevice));
    await gotLater;

    // b's own commit is announced to a's device on the msg: channel a opened, as today's daemon answers
    const reply = await cb.send(group.conversationId, "reply");
    await waitFor(() => written.length > 0);
    const [message] = decodeMsgpackSequence(new Uint8Array(Buffer.concat(written)));
    expect(isMsgMap(message) && Object.keys(message)).toEqual(["id", "t", "c", "req"]);
    expect(message).toMatchObject({ t: "application/im-gitmessage-id", req: null });
    expect(JSON.parse((message as { c: string }).c)).toEqual({ id: group.conversationId, commit: reply, deviceId: bDevice });
    expect(aJami).not.toBe(ids().bJami);
  });

  it("refuses a msg: channel naming another device, closes one carrying garbage or an oversized message; the link and other channels go on", async () => {
    const { aDevice, bJami, bDevice } = ids();
    await expect(a.components.links.connect(bJami, `msg:${aDevice}`)).rejects.toMatchObject({ code: "CHANNEL_DECLINED" });

    // (read to the end: a paused stream never reaches "close")
    const closed = (channel: Channel) => new Promise<void>((resolve) => channel.once("close", () => resolve()).resume());
    const garbage = await a.components.links.connect(bJami, `msg:${bDevice}`);
    const garbageClosed = closed(garbage);
    garbage.write(Buffer.from([0xc1, 0x00, 0x01])); // 0xc1: never used in msgpack
    await garbageClosed;

    const huge = await a.components.links.connect(bJami, `msg:${bDevice}`);
    const hugeClosed = closed(huge);
    // a map whose `c` announces more than the bound: refused once that many bytes are buffered
    const header = encodeMsgpack({ id: 1, t: "text/plain", c: "x".repeat(MAX_CHANNEL_MESSAGE + 1) }).subarray(0, 64 << 10);
    huge.write(header);
    for (let sent = header.length; sent <= MAX_CHANNEL_MESSAGE; sent += 64 << 10) huge.write(Buffer.alloc(64 << 10, 0x78));
    await hugeClosed;

    // a malformed notice (not a commit id) and an item that is no message are ignored; the channel stays, a good notice still works
    const good = await a.components.links.connect(bJami, `msg:${bDevice}`);
    let goodClosed = false;
    good.once("close", () => (goodClosed = true)).resume();
    good.write(
      encodeMsgpack({
        id: 2,
        t: "application/im-gitmessage-id",
        c: JSON.stringify({ id: group.conversationId, commit: "nope", deviceId: aDevice }),
        req: null,
      }),
    );
    good.write(encodeMsgpack([1, 2, 3]));
    const commit = await group.sendText("after the bad ones");
    const got = next(cb, "message", { filter: (m) => m.message.id === commit });
    good.write(notice(group.conversationId, commit, aDevice));
    await got;
    expect(goodClosed).toBe(false);
  });
});
