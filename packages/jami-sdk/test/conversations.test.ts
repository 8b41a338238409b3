import { MemoryDht } from "jami-dht";
import { verifyConversation, type GitFs } from "jami-swarm";
import * as fs from "node:fs";
import { SipEndpoint } from "jami-sip";
import { Conversations } from "../src/features/conversations.js";
import { SyncRegistry } from "../src/account/sync-registry.js";
import { newTestDevice, type TestDevice } from "../../../test-support/components.js";

/**
 * The first part of `account.conversations`: repositories written as this device, served on `git://` channels to
 * members only, cloned and fetched from a member's device over a real link (ICE-TCP + TLS on 127.0.0.1).
 */
describe("conversations over device links", () => {
  let dht: MemoryDht;
  let a: TestDevice, b: TestDevice, c: TestDevice;
  let ca: Conversations, cb: Conversations, cc: Conversations;
  beforeEach(async () => {
    dht = new MemoryDht();
    [a, b, c] = await Promise.all([newTestDevice(dht), newTestDevice(dht), newTestDevice(dht)]);
    await Promise.all([a.start(), b.start(), c.start()]);
    [ca, cb, cc] = [a, b, c].map((d) => new Conversations(d.components)) as [Conversations, Conversations, Conversations];
    for (const [d, conv] of [
      [a, ca],
      [b, cb],
      [c, cc],
    ] as const) {
      await d.components.links.start();
      await conv.load();
      await conv.start();
    }
  });
  afterEach(async () => {
    for (const [d, conv] of [
      [a, ca],
      [b, cb],
      [c, cc],
    ] as const) {
      await conv.stop();
      await d.components.links.stop();
    }
    await Promise.all([a.stop(), b.stop(), c.stop()]);
  });

  it("b clones a's group over git://, joins; a fetches the join and b's message; c, not a member, is refused", async () => {
    const group = await ca.create();
    await group.addMember(b.local.jamiId.toString());
    const aDevice = a.local.jamiId.toString();
    const bDevice = { jamiId: b.local.jamiId.toString(), deviceId: b.local.deviceId.toString() };

    const copy = await cb.clone(group.conversationId, aDevice);
    expect(cb.list()).toEqual([group.conversationId]);
    const joined = await copy.join();
    const hello = await copy.sendText("hello from b");

    const received: string[] = [];
    ca.on("message", ({ message }) => received.push(message.id));
    const outcome = await ca.fetch(group.conversationId, bDevice);
    expect(outcome.result).toBe("fast-forward");
    expect(received).toEqual([joined, hello]);
    expect(await group.roleOf(b.local.jamiId.toString())).toBe("member");

    // b is a member, but a git channel must name a's own device
    await expect(b.components.links.connect(a.local.jamiId.toString(), `git://${"0".repeat(64)}/${group.conversationId}`)).rejects.toMatchObject({
      code: "CHANNEL_DECLINED",
    });

    // c is not in the conversation: a declines its git channel, and c's clone fails without writing anything
    await expect(cc.clone(group.conversationId, aDevice)).rejects.toMatchObject({ code: "CHANNEL_DECLINED" });
    expect(cc.list()).toEqual([]);
    expect(fs.existsSync(`${c.local.dir}/conversations/${group.conversationId}`)).toBe(false);

    // what a reloaded feature finds on disk is what it had, and it verifies
    // (its own sync registry: the account's already holds the running feature's part)
    const reloaded = new Conversations({ ...b.components, sync: new SyncRegistry(b.components.events) });
    await reloaded.load();
    expect(reloaded.list()).toEqual([group.conversationId]);
    await verifyConversation(reloaded.get(group.conversationId)!.dir, { fs: fs as unknown as GitFs });
  });

  it("a commit's author name is the account's display name (the profile's, `<` and `>` dropped), else the device id — as jamid's", async () => {
    const group = await ca.create();
    const first = await group.readCommit(await group.head());
    expect(first.author.name).toBe(a.local.deviceId.toString());
    a.components.ownCard.provide(() => ({ bytes: new Uint8Array(), displayName: "Alice <the first>" }));
    const id = await group.sendText("hello");
    expect((await group.readCommit(id)).author.name).toBe("Alice the first");
    expect((await group.readCommit(id)).author.email).toBe(a.local.deviceId.toString());
  });

  it("a clone and a fetch acknowledge the server's answer to `done` at once (jamid's pack waits for that ACK)", async () => {
    const acknowledged: string[] = [];
    for (const device of [a, b]) {
      const links = device.components.links;
      const connect = links.connect.bind(links);
      links.connect = (async (...args: Parameters<typeof connect>) => {
        const channel = await connect(...args);
        const acknowledge = channel.acknowledgeNow.bind(channel);
        channel.acknowledgeNow = () => {
          acknowledged.push(`${device === a ? "a" : "b"} ${channel.name.split("/")[0]}`);
          acknowledge();
        };
        return channel;
      }) as typeof links.connect;
    }
    const group = await ca.create();
    await group.addMember(b.local.jamiId.toString());
    const copy = await cb.clone(group.conversationId, a.local.jamiId.toString());
    expect(acknowledged).toEqual(["b git:"]);
    await copy.join();
    await ca.fetch(group.conversationId, { jamiId: b.local.jamiId.toString(), deviceId: b.local.deviceId.toString() });
    expect(acknowledged).toEqual(["b git:", "a git:"]);
  });

  it("notices over sip: a commit announced to the members reaches them and they fetch it by themselves", async () => {
    const group = await ca.create();
    await group.addMember(b.local.jamiId.toString());
    const copy = await cb.clone(group.conversationId, a.local.jamiId.toString());
    const joined = await copy.join();

    const atA = new Promise<string>((resolve) => ca.on("message", ({ message }) => message.id === joined && resolve(message.id)));
    // jamid announces a join to the other members (not to itself); a is an admin
    expect(await cb.announce(group.conversationId, joined)).toBe(1);
    expect(await atA).toBe(joined);
    expect(await group.roleOf(b.local.jamiId.toString())).toBe("member");

    const hello = await group.sendText("hello b");
    const atB = new Promise<string>((resolve) => cb.on("message", ({ message }) => message.id === hello && resolve(message.id)));
    expect(await ca.announce(group.conversationId, hello)).toBe(1);
    expect(await atB).toBe(hello);
    expect(await copy.head()).toBe(await group.head());
  });

  it("a notice whose From names another account than the link's is dropped: no fetch follows", async () => {
    const group = await ca.create();
    await group.addMember(b.local.jamiId.toString());
    const copy = await cb.clone(group.conversationId, a.local.jamiId.toString());
    const joined = await copy.join();
    // b's device speaks SIP on its own channel to a, but signs the MESSAGE as c
    const channel = await b.components.links.connect(a.local.jamiId.toString(), "sip");
    const liar = new SipEndpoint(channel, { localUser: c.local.jamiId.toString(), remoteUser: a.local.jamiId.toString() });
    // every fetch a makes opens a git channel to b's device: count them
    const gitChannels: string[] = [];
    b.components.links.on("channel", ({ channel }) => channel.name.startsWith("git://") && gitChannels.push(channel.name));
    await liar.sendMessage({ type: "git-notice", notice: { conversationId: group.conversationId, commit: joined, deviceId: b.local.deviceId.toString() } });
    // an honest notice on the same channel afterwards is fetched: the lie above was dropped, not delayed
    const honest = new SipEndpoint(await b.components.links.connect(a.local.jamiId.toString(), "sip"), {
      localUser: b.local.jamiId.toString(),
      remoteUser: a.local.jamiId.toString(),
    });
    const arrived = new Promise((resolve) => ca.on("message", ({ message }) => message.id === joined && resolve(undefined)));
    await honest.sendMessage({ type: "git-notice", notice: { conversationId: group.conversationId, commit: joined, deviceId: b.local.deviceId.toString() } });
    await arrived;
    expect(gitChannels).toHaveLength(1); // the honest notice's fetch only
    liar.close();
    honest.close();
  });
});
