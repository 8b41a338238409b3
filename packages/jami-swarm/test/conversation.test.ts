import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SwarmRepository, verifyConversation, CommitRejectedError, isSwarmError } from "../src/index.js";
import { itWith } from "../../../test-support/tools.js";
import { fetchOver, gitCli, newAccount, nodeFs, tempDir } from "./helpers.js";
import type { DeviceIdentity } from "jami-identity";

const uriOf = (d: DeviceIdentity): string => d.certificate.issuer.uid!;
const devOf = (d: DeviceIdentity): string => d.certificate.deviceId.toString();

describe("a conversation between our own repositories", () => {
  let tmp: ReturnType<typeof tempDir>;
  let alice: DeviceIdentity;
  let bob: DeviceIdentity;
  let carol: DeviceIdentity;
  let clock: number;
  const now = (): Date => new Date((clock += 1000));
  beforeAll(async () => {
    [alice, bob, carol] = [(await newAccount()).devices[0]!, (await newAccount()).devices[0]!, (await newAccount()).devices[0]!];
  });
  beforeEach(() => {
    tmp = tempDir();
    clock = Date.UTC(2026, 11, 1);
  });
  afterEach(() => tmp.cleanup());

  async function cloneFrom(server: SwarmRepository, who: DeviceIdentity, where: string): Promise<SwarmRepository> {
    const fetched = await fetchOver(server, undefined);
    return SwarmRepository.clone(
      where,
      { conversationId: server.conversationId, remoteDevice: "a".repeat(64), head: fetched.head, pack: fetched.pack! },
      { fs: nodeFs, author: { device: who }, now },
    );
  }
  async function pull(client: SwarmRepository, server: SwarmRepository, device: DeviceIdentity) {
    const fetched = await fetchOver(server, client);
    return client.applyFetch(devOf(device), fetched.head, fetched.pack);
  }

  itWith("git")("group: create, invite, clone, join, post both ways; git fsck is clean and both copies verify", async () => {
    const a = await SwarmRepository.create(join(tmp.dir, "alice"), { mode: 2 }, { fs: nodeFs, author: { device: alice, displayName: "Alice <A>" }, now });
    expect(await a.members()).toEqual([{ uri: uriOf(alice), role: "admin" }]);
    const add = await a.addMember(uriOf(bob));
    const b = await cloneFrom(a, bob, join(tmp.dir, "bob"));
    expect(b.conversationId).toBe(a.conversationId);
    expect(await b.roleOf(uriOf(bob))).toBe("invited");
    const joined = await b.join();
    const fromBob = await pull(a, b, bob);
    expect(fromBob.result).toBe("fast-forward");
    expect(fromBob.newCommits.map((m) => m.id)).toEqual([joined]);
    expect(await a.roleOf(uriOf(bob))).toBe("member");
    const hello = await a.sendText('héllo 👍 "bob"');
    const reply = await (await pull(b, a, alice), b).sendText("hi", { replyTo: hello });
    await pull(a, b, bob);
    expect(await a.head()).toBe(await b.head());
    const messages = await a.load();
    expect(messages.map((m) => m.id).slice(0, 4)).toEqual([reply, hello, joined, add]);
    expect(messages[0]!.fields).toEqual({ body: "hi", "reply-to": hello, type: "text/plain" });
    expect(messages[1]!.author).toBe(uriOf(alice));
    for (const repo of [a, b]) {
      gitCli(repo.dir, "fsck", "--strict", "--no-dangling");
      expect(gitCli(repo.dir, "rev-parse", "main").trim()).toBe(reply);
      expect(gitCli(repo.dir, "status", "--porcelain")).toBe("");
      const verified = await verifyConversation(repo.dir, { fs: nodeFs });
      expect(verified.members).toEqual({ admins: [uriOf(alice)], members: [uriOf(bob)], invited: [], banned: [] });
    }
    const raw = gitCli(a.dir, "cat-file", "commit", hello);
    expect(raw).toContain(`author Alice A <${devOf(alice)}>`);
    expect(raw).toMatch(/\ncommitter [^\n]+ \+0000\nsignature [A-Za-z0-9+/=]+\n\n\{"body":"h\\u00e9llo \\ud83d\\udc4d \\"bob\\"","type":"text\/plain"\}$/);
    expect(readFileSync(join(b.dir, "members", `${uriOf(bob)}.crt`), "utf8")).toContain("BEGIN CERTIFICATE");
  });

  itWith("git")("concurrent posts on two copies merge into 'Merge commit' with parents [ours, theirs] and converge", async () => {
    const a = await SwarmRepository.create(join(tmp.dir, "alice"), { mode: 2 }, { fs: nodeFs, author: { device: alice }, now });
    await a.addMember(uriOf(bob));
    const b = await cloneFrom(a, bob, join(tmp.dir, "bob"));
    await b.join();
    await pull(a, b, bob);
    const fromAlice = await a.sendText("from alice");
    const fromBob = await b.sendText("from bob");
    const merged = await pull(a, b, bob);
    expect(merged.result).toBe("merged");
    const merge = await a.readCommit(await a.head());
    expect(merge.parents).toEqual([fromAlice, fromBob]);
    expect(merge.message).toBe(`Merge commit '${fromBob}'`);
    expect(merged.newCommits.map((m) => m.body.type)).toEqual(["text/plain", "merge"]);
    expect((await pull(b, a, alice)).result).toBe("fast-forward");
    expect(await b.head()).toBe(await a.head());
    // both wrote again, both merge, then one more round converges
    await a.sendText("a2");
    await b.sendText("b2");
    await pull(a, b, bob);
    await pull(b, a, alice);
    const ids = async (r: SwarmRepository) => new Set((await r.load()).filter((m) => m.body.type !== "merge").map((m) => m.id));
    expect(await ids(a)).toEqual(await ids(b));
    expect(await b.head()).toBe(await a.head());
    for (const repo of [a, b]) {
      gitCli(repo.dir, "fsck", "--strict", "--no-dangling");
      await verifyConversation(repo.dir, { fs: nodeFs });
    }
  });

  it("one-to-one: invited peer in the initial commit; a third party cannot be added; roles at any commit", async () => {
    const a = await SwarmRepository.create(join(tmp.dir, "alice"), { mode: 0, invited: uriOf(bob) }, { fs: nodeFs, author: { device: alice }, now });
    const initial = await a.head();
    expect(JSON.parse((await a.load())[0]!.fields.invited ? "{}" : "{}")).toEqual({});
    expect((await a.readCommit(initial)).message).toBe(`{"invited":"${uriOf(bob)}","mode":0,"type":"initial"}`);
    expect(await a.members()).toEqual([
      { uri: uriOf(alice), role: "admin" },
      { uri: uriOf(bob), role: "invited" },
    ]);
    await expect(a.addMember(uriOf(carol))).rejects.toMatchObject({ code: "NOT_PERMITTED" });
    const b = await cloneFrom(a, bob, join(tmp.dir, "bob"));
    await b.join();
    await b.leave();
    expect(await b.roleOf(uriOf(bob))).toBe("left");
    expect(await b.roleOf(uriOf(bob), initial)).toBe("invited");
    await expect(b.sendText("after leaving")).rejects.toMatchObject({ code: "NOT_PERMITTED" });
    await pull(a, b, bob);
    expect(await a.roleOf(uriOf(bob))).toBe("left");
    await a.addMember(uriOf(bob)); // re-adding an initial member of a one-to-one is allowed
    expect(await a.roleOf(uriOf(bob))).toBe("invited");
  });

  it("two conversations created by one device in the same second get different ids; the first keeps its history", async () => {
    const fixed = (): Date => new Date(Date.UTC(2026, 11, 1));
    const first = await SwarmRepository.create(tmp.dir, { mode: 2 }, { fs: nodeFs, author: { device: alice }, now: fixed });
    const posted = await first.sendText("kept");
    const second = await SwarmRepository.create(tmp.dir, { mode: 2 }, { fs: nodeFs, author: { device: alice }, now: fixed });
    expect(second.conversationId).not.toBe(first.conversationId);
    expect((await second.readCommit(second.conversationId)).committer.timestamp).toBe(Date.UTC(2026, 11, 1) / 1000 + 1);
    expect(await first.head()).toBe(posted);
  });

  it("modes 1–3 create groups; anything else, or a one-to-one without its peer, is refused", async () => {
    for (const mode of [1, 3] as const) {
      const repo = await SwarmRepository.create(join(tmp.dir, `m${mode}`), { mode }, { fs: nodeFs, author: { device: alice }, now });
      expect(await repo.mode()).toBe(mode);
      expect((await repo.readCommit(repo.conversationId)).message).toBe(`{"mode":${mode},"type":"initial"}`);
    }
    await expect(SwarmRepository.create(tmp.dir, { mode: 4 as 0 }, { fs: nodeFs, author: { device: alice } })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(SwarmRepository.create(tmp.dir, { mode: 0 }, { fs: nodeFs, author: { device: alice } })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(SwarmRepository.create(tmp.dir, { mode: 2 }, { fs: nodeFs })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  it("a profile.vcf changed on two devices of the admin merges to the side with the greater commit id, as jamid", async () => {
    const { devices } = await newAccount(2);
    const [one, two] = devices as [DeviceIdentity, DeviceIdentity];
    const a = await SwarmRepository.create(join(tmp.dir, "one"), { mode: 2 }, { fs: nodeFs, author: { device: one }, now });
    const b = await cloneFrom(a, two, join(tmp.dir, "two"));
    // jamid refuses a profile update that also brings the device's certificate (its own writer would make one):
    // ours refuses to write it and says why
    await expect(b.updateProfile({ title: "too early" })).rejects.toMatchObject({ code: "NOT_PERMITTED", message: expect.stringContaining("first commit") });
    await b.sendText("device two is here");
    await pull(a, b, two);
    const mine = await a.updateProfile({ title: "from one" });
    const theirs = await b.updateProfile({ title: "from two" });
    const merged = await pull(a, b, two);
    expect(merged.result).toBe("merged");
    const winner = theirs > mine ? "from two" : "from one";
    expect(new TextDecoder().decode(await a.readFile("profile.vcf"))).toContain(`FN:${winner}`);
    expect((await pull(b, a, one)).result).toBe("fast-forward");
    await verifyConversation(b.dir, { fs: nodeFs });
  });

  it("every commit type jamid writes, byte for byte", async () => {
    const a = await SwarmRepository.create(join(tmp.dir, "alice"), { mode: 2 }, { fs: nodeFs, author: { device: alice }, now });
    const text = await a.sendText("t");
    const body = async (oid: string) => (await a.readCommit(oid)).message;
    expect(await body(await a.react(text, "👍"))).toBe(`{"body":"\\ud83d\\udc4d","react-to":"${text}","type":"text/plain"}`);
    expect(await body(await a.edit(text, "t2"))).toBe(`{"body":"t2","edit":"${text}","type":"application/edited-message"}`);
    expect(await body(await a.edit(text, "", "today"))).toBe(`{"body":"","edit":"${text}","type":"text/plain"}`);
    const content = new TextEncoder().encode("file bytes");
    const file = await a.sendFile({ displayName: "f.bin", content, tid: "5494903384261440" });
    expect(await body(file)).toBe(
      `{"displayName":"f.bin","sha3sum":"${createHash("sha3-512").update(content).digest("hex")}","tid":"5494903384261440","totalSize":"10","type":"application/data-transfer+json"}`,
    );
    expect(await body(await a.recordCall({ duration: 1500, to: uriOf(bob) }))).toBe(
      `{"duration":"1500","to":"${uriOf(bob)}","type":"application/call-history+json"}`,
    );
    expect(await body(await a.updateProfile({ title: "Spec group", description: "desc" }))).toBe('{"type":"application/update-profile"}');
    expect(new TextDecoder().decode(await a.readFile("profile.vcf"))).toBe(
      "BEGIN:VCARD\nVERSION:2.1\nFN:Spec group\nDESCRIPTION:desc\nPHOTO;ENCODING=BASE64\n\n\nEND:VCARD",
    );
    await a.addMember(uriOf(bob));
    const [vote, ban] = await a.ban(uriOf(bob));
    expect(await body(vote!)).toBe(`{"type":"vote","uri":"${uriOf(bob)}"}`);
    expect(await body(ban!)).toBe(`{"action":"ban","type":"member","uri":"${uriOf(bob)}"}`);
    expect(await a.roleOf(uriOf(bob))).toBe("banned");
    await expect(a.addMember(uriOf(bob))).rejects.toMatchObject({ code: "NOT_PERMITTED" });
    const [, unban] = await a.unban(uriOf(bob));
    expect(await body(unban!)).toBe(`{"action":"unban","type":"member","uri":"${uriOf(bob)}"}`);
    expect(await a.roleOf(uriOf(bob))).toBe("invited");
    await expect(a.edit(file, "x")).rejects.toMatchObject({ code: "NOT_PERMITTED" });
    await expect(a.sendText("x", { replyTo: "f".repeat(40) })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    const verified = await verifyConversation(a.dir, { fs: nodeFs });
    expect(verified.commits).toBe(13);
    expect(isSwarmError(new CommitRejectedError("x", "vote", "m"), "COMMIT_REJECTED")).toBe(true);
  });
});
