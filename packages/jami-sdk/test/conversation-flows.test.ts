import { MemoryDht } from "jami-dht";
import * as fs from "node:fs";
import { SipEndpoint } from "jami-sip";
import { Contacts } from "../src/features/contacts.js";
import { Conversations } from "../src/features/conversations.js";
import { decodeImMessage, encodeImMessage, IM_MESSAGE_TYPE } from "../src/dht/im-message.js";
import { JamiDhtKeys } from "../src/dht/keys.js";
import { Value } from "jami-dht";
import { SwarmRepository, type GitFs } from "jami-swarm";
import { encodePayload } from "jami-sip";
import { newTestDevice, type TestDevice } from "../../../test-support/components.js";
import { itWith } from "../../../test-support/tools.js";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { next, waitFor } from "../../../test-support/events.js";

/**
 * `account.conversations` as a user drives it, over real links (ICE-TCP + TLS on 127.0.0.1) and an in-memory DHT:
 * invitations, one-to-ones through contacts, messages, typing, read and delivery states, leaving.
 */
describe("conversation flows", () => {
  let dht: MemoryDht;
  let devices: TestDevice[];
  let convs: Conversations[];
  let contacts: Contacts[];
  const id = (i: number): string => devices[i]!.local.jamiId.toString();

  beforeEach(async () => {
    dht = new MemoryDht();
    devices = await Promise.all([newTestDevice(dht), newTestDevice(dht), newTestDevice(dht)]);
    await Promise.all(devices.map((d) => d.start()));
    contacts = devices.map((d) => new Contacts(d.components));
    convs = devices.map((d) => new Conversations(d.components));
    for (const [i, d] of devices.entries()) {
      await contacts[i]!.load();
      await convs[i]!.load();
      await d.components.links.start();
      await convs[i]!.start();
    }
  });
  /** A group of `a`'s that `b` was invited to, accepted and joined. */
  async function groupOfTwo(a: Conversations, b: Conversations) {
    const group = await a.create();
    const requested = next(b, "request");
    await a.invite(group.conversationId, id(1));
    await requested;
    const joined = next(a, "member", { filter: (m) => m.action === "join" });
    await b.accept(group.conversationId);
    await joined;
    return group;
  }

  afterEach(async () => {
    for (const [i, d] of devices.entries()) {
      await convs[i]!.stop();
      await d.components.links.stop();
    }
    await Promise.all(devices.map((d) => d.stop()));
  });

  it("a group invitation: request, accept (clone + join), messages both ways, typing, delivered and displayed", async () => {
    const [a, b] = [convs[0]!, convs[1]!];
    const group = await a.create({ profile: { title: "Plans" } });
    await group.sendText("first"); // the profile commit cannot be a device's first (jamid), a message can
    const requested = next(b, "request");
    const { devices: reached } = await a.invite(group.conversationId, id(1));
    expect(reached).toBe(1);
    const [request] = await requested;
    expect(request).toMatchObject({ conversationId: group.conversationId, from: id(0), metadatas: { mode: "2" } });
    expect(b.requests().map((r) => r.conversationId)).toEqual([group.conversationId]);

    const joinedAtA = next(a, "member", { filter: (m) => m.action === "join" });
    const ready = next(b, "ready");
    await b.accept(group.conversationId);
    await ready;
    expect(b.requests()).toEqual([]);
    expect((await joinedAtA)[0]).toEqual({ conversationId: group.conversationId, jamiId: id(1), action: "join" });

    // a posts: b fetches it on the notice; a sees the fetch (delivered), then b's IMDN (displayed)
    const atB = next(b, "message", { filter: ({ message }) => message.body.type === "text/plain" && message.body.body === "hello b" });
    const delivered = next(a, "delivered");
    const hello = await a.send(group.conversationId, "hello b");
    expect((await atB)[0].message.id).toBe(hello);
    expect((await delivered)[0]).toMatchObject({ conversationId: group.conversationId, from: id(1) });
    expect(await a.status(group.conversationId, hello)).toBe("delivered");
    const read = next(a, "read");
    // an IMDN for a message that does not exist is dropped: the first read a reports is the real one
    await b.markDisplayed(group.conversationId, "f".repeat(40));
    await b.markDisplayed(group.conversationId, hello);
    expect((await read)[0]).toEqual({ conversationId: group.conversationId, from: id(1), messageId: hello });
    expect(await a.status(group.conversationId, hello)).toBe("displayed");

    // b answers (a reply), a gets it; typing goes both ways
    const reply = next(a, "message", { filter: ({ message }) => message.body.type === "text/plain" && message.body.body === "hi a" });
    const answer = await b.send(group.conversationId, "hi a", { replyTo: hello });
    expect((await reply)[0].message).toMatchObject({ id: answer, author: id(1), body: { replyTo: hello } });
    const typing = next(a, "composing");
    await b.setComposing(group.conversationId, true);
    expect((await typing)[0]).toEqual({ conversationId: group.conversationId, from: id(1), active: true });

    // the same history on both sides, newest first, read a page at a time
    const pages: string[] = [];
    for await (const m of a.messages(group.conversationId, { pageSize: 2 })) pages.push(m.id);
    expect(pages).toEqual((await a.loadMessages(group.conversationId)).map((m) => m.id));
    expect(pages[0]).toBe(answer);
    await waitFor(async () => (await b.get(group.conversationId)!.head()) === (await group.head()));
  });

  it("a declined invitation stays declined when sent again; a message nobody else can fetch is sent, not delivered", async () => {
    const [a, b] = [convs[0]!, convs[1]!];
    const group = await a.create();
    // nobody else in it yet: a message is sent, not delivered
    expect(await a.status(group.conversationId, await a.send(group.conversationId, "alone"))).toBe("sent");
    const requested = next(b, "request");
    await a.invite(group.conversationId, id(1));
    await requested;
    await b.decline(group.conversationId);
    expect(b.requests()).toEqual([]);
    await expect(b.accept(group.conversationId)).rejects.toMatchObject({ code: "NO_REQUEST" });

    // sent again (as jamid's re-invite does): no new request; a fresh invitation from c after it does arrive
    const sip = new SipEndpoint(await devices[0]!.components.links.connect(id(1), "sip"), { localUser: id(0), remoteUser: id(1) });
    await sip.sendMessage({ type: "invitation", invitation: { conversationId: group.conversationId, metadatas: { mode: "2" } } });
    const other = await convs[2]!.create();
    const fresh = next(b, "request");
    await convs[2]!.invite(other.conversationId, id(1));
    expect((await fresh)[0].conversationId).toBe(other.conversationId);
    expect(b.requests().map((r) => r.conversationId)).toEqual([other.conversationId]);
    sip.close();
  });

  it("one-to-one through contacts: the trust request names a real conversation, accepting clones and joins it", async () => {
    const requested = next(contacts[1]!, "request");
    const added = await contacts[0]!.add(id(1));
    const oneToOne = convs[0]!.get(added.conversationId);
    expect(oneToOne).toBeDefined();
    expect(await oneToOne!.mode()).toBe(0);
    expect(await oneToOne!.roleOf(id(1))).toBe("invited");
    expect((await requested)[0].conversationId).toBe(added.conversationId);
    // adding again names the same conversation
    expect((await contacts[0]!.add(id(1))).conversationId).toBe(added.conversationId);

    const joined = next(convs[0]!, "member", { filter: (m) => m.action === "join" });
    const ready = next(convs[1]!, "ready");
    await contacts[1]!.accept(id(0));
    expect((await ready)[0].conversationId).toBe(added.conversationId);
    await joined;
    expect(await oneToOne!.roleOf(id(1))).toBe("member");
    const got = next(convs[1]!, "message", { filter: ({ message }) => message.body.type === "text/plain" });
    await convs[0]!.send(added.conversationId, "hello friend");
    expect((await got)[0].message.body).toMatchObject({ body: "hello friend" });
  });

  it("a non-member's notices and typing are ignored: no fetch from it, no event", async () => {
    const [a, b] = [convs[0]!, convs[1]!];
    const group = await groupOfTwo(a, b);
    // c is in no conversation with a, yet tells a about a commit and says it is typing there
    const fromC = new SipEndpoint(await devices[2]!.components.links.connect(id(0), "sip"), { localUser: id(2), remoteUser: id(0) });
    const gitToC: string[] = [];
    devices[2]!.components.links.on("channel", ({ channel }) => channel.name.startsWith("git://") && gitToC.push(channel.name));
    const typing: string[] = [];
    a.on("composing", ({ from }) => typing.push(from));
    const head = await group.head();
    await fromC.sendMessage({
      type: "git-notice",
      notice: { conversationId: group.conversationId, commit: "e".repeat(40), deviceId: devices[2]!.local.deviceId.toString() },
    });
    await fromC.sendMessage({ type: "composing", conversationId: group.conversationId, active: true });
    // positive control, sent after: the member's typing arrives, and it is the only one
    const memberTyping = next(a, "composing");
    await b.setComposing(group.conversationId, true);
    await memberTyping;
    expect(typing).toEqual([id(1)]);
    expect(gitToC).toEqual([]);
    expect(await group.head()).toBe(head);
    fromC.close();
  });

  itWith("git")("a member's hostile commits announced over sip are fetched and refused with the rule named; nothing of them is stored", async () => {
    const [a, b] = [convs[0]!, convs[1]!];
    const group = await groupOfTwo(a, b);
    const id0 = group.conversationId;
    const dir = b.get(id0)!.dir;
    const device = devices[1]!.local.deviceId.toString();
    const env = { ...process.env, GIT_AUTHOR_NAME: "b", GIT_AUTHOR_EMAIL: device, GIT_COMMITTER_NAME: "b", GIT_COMMITTER_EMAIL: device };
    const git = (input: string | undefined, ...args: string[]) => spawnSync("git", ["-C", dir, ...args], { env, encoding: "utf8", input });
    /** b's device turns hostile: its copy gets `commit` as head, served from a freshly opened repository. */
    const serveHostile = async (commit: string): Promise<void> => {
      git(undefined, "update-ref", "refs/heads/main", commit);
      const shelf = (b as unknown as { shelf: { repos: Map<string, SwarmRepository> } }).shelf;
      shelf.repos.set(id0, await SwarmRepository.open(dir, { fs: fs as unknown as GitFs, author: { device: devices[1]!.local.device } }));
    };
    const before = { head: await group.head(), remotes: fs.readdirSync(join(group.gitdir, "refs", "remotes")) };
    const refused: Array<{ from: string; rule?: string; commit?: string }> = [];
    a.on("error", ({ from, error }) => refused.push({ from, ...(error as { rule?: string; commit?: string }) }));

    // a commit that is not signed
    expect(git(undefined, "commit", "-q", "--allow-empty", "-m", '{"body":"unsigned","type":"text/plain"}').status).toBe(0);
    const unsigned = git(undefined, "rev-parse", "HEAD").stdout.trim();
    await serveHostile(unsigned);
    const firstRefusal = next(a, "error");
    await b.announce(id0, unsigned);
    await firstRefusal;
    expect(refused).toEqual([expect.objectContaining({ from: device, rule: "signature", commit: unsigned })]);

    // one signed by b's device (as jamid signs), but a text message that adds a file
    git(undefined, "reset", "-q", "--hard", before.head);
    fs.writeFileSync(join(dir, "evil.txt"), "x");
    git(undefined, "add", "evil.txt");
    git(undefined, "commit", "-q", "-m", '{"body":"looks like a message","type":"text/plain"}');
    const body = git(undefined, "cat-file", "commit", "HEAD").stdout;
    const signature = Buffer.from(devices[1]!.local.device.key.sign(new TextEncoder().encode(body), "sha512")).toString("base64");
    const signed = body.replace(/^(committer [^\n]*\n)/m, `$1signature ${signature}\n`);
    const evil = git(signed, "hash-object", "-t", "commit", "-w", "--stdin").stdout.trim();
    await serveHostile(evil);
    const secondRefusal = next(a, "error");
    await b.announce(id0, evil);
    await secondRefusal;
    expect(refused[1]).toMatchObject({ from: device, rule: "user-diff", commit: evil });

    // a's copy is as before: same head, no remote branch kept for b's device, neither commit stored
    expect(await group.head()).toBe(before.head);
    expect(fs.readdirSync(join(group.gitdir, "refs", "remotes"))).toEqual(before.remotes);
    for (const commit of [unsigned, evil]) expect(await group.store.has(commit)).toBe(false);
  });

  it("jamid 13.7's DHT path: an invitation put as an ImMessage arrives once and is confirmed as jamid expects", async () => {
    const [a, b] = [devices[0]!, devices[1]!];
    const group = await convs[0]!.create();
    const { mimeType, body } = encodePayload({ type: "invitation", invitation: { conversationId: group.conversationId, metadatas: { mode: "2" } } });
    const token = 123456789n;
    const im = new Value({ type: IM_MESSAGE_TYPE, data: encodeImMessage({ id: token, msg: body, datatype: mimeType, date: 1, status: 0, metadatas: {} }) });
    // jamid (the sender) listens at the recipient's inbox for the confirmation, as 13.7's sendMessage does
    const bInbox = JamiDhtKeys.inbox(b.local.device.certificate.deviceShortId);
    const confirmations: bigint[] = [];
    const listen = a.components.network.secure.listen(bInbox);
    listen.on("value", (v) => {
      const m = v.type === IM_MESSAGE_TYPE ? decodeImMessage(v.data) : undefined;
      if (m && m.msg === "" && v.ownerId?.toString() === b.local.device.certificate.deviceShortId.toString()) confirmations.push(m.id);
    });
    const requested = next(convs[1]!, "request");
    const bKey = b.local.device.certificate.publicKey;
    await a.components.network.secure.putEncrypted(bInbox, im, bKey);
    expect((await requested)[0]).toMatchObject({ conversationId: group.conversationId, from: id(0) });
    await waitFor(() => confirmations.includes(token), { what: "the confirmation" });
    // the same token again (13.7 re-puts until confirmed) is not handled twice: a second, new invitation is
    const other = await convs[0]!.create();
    const again = new Value({ type: IM_MESSAGE_TYPE, data: im.data });
    await a.components.network.secure.putEncrypted(bInbox, again, bKey);
    const second = encodePayload({ type: "invitation", invitation: { conversationId: other.conversationId, metadatas: {} } });
    const fresh = next(convs[1]!, "request");
    await a.components.network.secure.putEncrypted(
      bInbox,
      new Value({ type: IM_MESSAGE_TYPE, data: encodeImMessage({ id: 2n, msg: second.body, datatype: second.mimeType, date: 1, status: 0, metadatas: {} }) }),
      bKey,
    );
    expect((await fresh)[0].conversationId).toBe(other.conversationId);
    expect(convs[1]!.requests().map((r) => r.conversationId)).toEqual([group.conversationId, other.conversationId]);
    listen.cancel();
  });

  it("a DHT message from a device whose account we banned is dropped (the trust policy judges its signer)", async () => {
    const [a, b] = [devices[0]!, devices[1]!];
    await contacts[1]!.block(id(0));
    const banned = await convs[0]!.create();
    const invitation = (conversationId: string, token: bigint) => {
      const { mimeType, body } = encodePayload({ type: "invitation", invitation: { conversationId, metadatas: {} } });
      return new Value({ type: IM_MESSAGE_TYPE, data: encodeImMessage({ id: token, msg: body, datatype: mimeType, date: 1, status: 0, metadatas: {} }) });
    };
    const bInbox = JamiDhtKeys.inbox(b.local.device.certificate.deviceShortId);
    const bKey = b.local.device.certificate.publicKey;
    await a.components.network.secure.putEncrypted(bInbox, invitation(banned.conversationId, 11n), bKey);
    // positive control, put after it the same way: c's invitation arrives, and it is the only one
    const fromC = await convs[2]!.create();
    const arrived = next(convs[1]!, "request");
    await devices[2]!.components.network.secure.putEncrypted(bInbox, invitation(fromC.conversationId, 12n), bKey);
    expect((await arrived)[0].conversationId).toBe(fromC.conversationId);
    expect(convs[1]!.requests().map((r) => r.conversationId)).toEqual([fromC.conversationId]);
  });

  it("leaving: gone from the list at once; the members fetch the leave, then the directory is erased", async () => {
    const [a, b] = [convs[0]!, convs[1]!];
    const group = await groupOfTwo(a, b);
    const dir = b.get(group.conversationId)!.dir;
    const left = next(a, "member", { filter: (m) => m.action === "remove" });
    await b.leave(group.conversationId);
    expect(b.list()).toEqual([]);
    expect((await left)[0].jamiId).toBe(id(1));
    // erased once a's device fetched the leave commit
    await waitFor(() => !fs.existsSync(dir));
    expect(await group.roleOf(id(1))).toBeUndefined(); // its member file is gone
  });
});
