import { readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { PrivateKey, RevocationList, certifyDevice, createAccountKeys, type DeviceIdentity } from "jami-identity";
import { issueCertificate } from "jami-identity/internal";
import { SwarmRepository, type SwarmRule, type ValidationOptions } from "../src/index.js";
import { EMPTY, forge, memberFile, pem } from "./forge.js";
import { fetchOver, newAccount, nodeFs, tempDir } from "./helpers.js";

const uriOf = (d: DeviceIdentity): string => d.certificate.issuer.uid!;
const devOf = (d: DeviceIdentity): string => d.certificate.deviceId.toString();
const text = (body: string): string => JSON.stringify({ body, type: "text/plain" });
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("hostile commits are refused with the rule named, and change nothing stored", () => {
  let tmp: ReturnType<typeof tempDir>;
  let alice: DeviceIdentity, bob: DeviceIdentity, bob2: DeviceIdentity, carol: DeviceIdentity, bobAccount: Awaited<ReturnType<typeof newAccount>>;
  let a: SwarmRepository, b: SwarmRepository, c: SwarmRepository;

  beforeAll(async () => {
    alice = (await newAccount()).devices[0]!;
    bobAccount = await newAccount(2);
    [bob, bob2] = bobAccount.devices as [DeviceIdentity, DeviceIdentity];
    carol = (await newAccount()).devices[0]!;
  });

  async function clone(server: SwarmRepository, who: DeviceIdentity, name: string): Promise<SwarmRepository> {
    const fetched = await fetchOver(server, undefined);
    return SwarmRepository.clone(
      join(tmp.dir, name),
      { conversationId: server.conversationId, remoteDevice: "a".repeat(64), head: fetched.head, pack: fetched.pack! },
      { fs: nodeFs, author: { device: who } },
    );
  }
  async function pull(client: SwarmRepository, server: SwarmRepository, device: DeviceIdentity) {
    const fetched = await fetchOver(server, client);
    return client.applyFetch(devOf(device), fetched.head, fetched.pack);
  }
  /** alice's copy, reopened with other validation options. */
  const victim = (options: ValidationOptions): Promise<SwarmRepository> => SwarmRepository.open(a.dir, { fs: nodeFs, author: { device: alice }, ...options });

  async function expectRefused(attacker: SwarmRepository, device: DeviceIdentity, rule: SwarmRule, target: SwarmRepository = a): Promise<void> {
    const head = await target.head();
    const packs = readdirSync(join(target.gitdir, "objects", "pack")).sort();
    await expect(pull(target, attacker, device)).rejects.toMatchObject({ code: "COMMIT_REJECTED", rule });
    expect(await target.head()).toBe(head);
    expect(readdirSync(join(target.gitdir, "objects", "pack")).sort()).toEqual(packs);
    expect(existsSync(join(target.gitdir, "refs", "remotes", devOf(device), "main"))).toBe(false);
  }

  beforeEach(async () => {
    tmp = tempDir();
    a = await SwarmRepository.create(join(tmp.dir, "alice"), { mode: 2 }, { fs: nodeFs, author: { device: alice } });
    await a.addMember(uriOf(bob));
    b = await clone(a, bob, "bob");
    await b.join();
    await pull(a, b, bob);
    await a.addMember(uriOf(carol));
    c = await clone(a, carol, "carol");
    await pull(b, a, alice);
  });
  afterEach(() => tmp.cleanup());

  it("positive control: a correctly signed commit written outside our writer is accepted", async () => {
    const oid = await forge(b, bob, { message: text("crafted but valid") });
    expect((await pull(a, b, bob)).newCommits.map((m) => m.id)).toEqual([oid]);
  });

  it("an extra file in a text commit (user-diff)", async () => {
    await forge(b, bob, { message: text("evil"), changes: new Map([["evil.txt", enc("x")]]) });
    await expectRefused(b, bob, "user-diff");
  });

  it("every later commit on top of a refused one is refused too", async () => {
    await forge(b, bob, { message: text("evil"), changes: new Map([["evil.txt", enc("x")]]) });
    await b.sendText("innocent on top");
    await expectRefused(b, bob, "user-diff");
  });

  it("a join for someone else", async () => {
    await forge(b, bob, {
      message: JSON.stringify({ action: "join", type: "member", uri: uriOf(carol) }),
      changes: new Map([
        [`invited/${uriOf(carol)}`, null],
        [`members/${uriOf(carol)}.crt`, memberFile(carol)],
      ]),
    });
    await expectRefused(b, bob, "join");
  });

  it("an add to a one-to-one of a third party", async () => {
    const one = await SwarmRepository.create(join(tmp.dir, "one"), { mode: 0, invited: uriOf(bob) }, { fs: nodeFs, author: { device: alice } });
    const bobsCopy = await clone(one, bob, "bob-one");
    await bobsCopy.join();
    await pull(one, bobsCopy, bob);
    await forge(bobsCopy, bob, {
      message: JSON.stringify({ action: "add", type: "member", uri: uriOf(carol) }),
      changes: new Map([[`invited/${uriOf(carol)}`, EMPTY]]),
    });
    await expectRefused(bobsCopy, bob, "add", one);
  });

  it("a vote by a non-admin", async () => {
    await forge(b, bob, {
      message: JSON.stringify({ type: "vote", uri: uriOf(alice) }),
      changes: new Map([[`votes/ban/admins/${uriOf(alice)}/${uriOf(bob)}`, EMPTY]]),
    });
    await expectRefused(b, bob, "vote");
  });

  it("a profile update by a member", async () => {
    await forge(b, bob, { message: '{"type":"application/update-profile"}', changes: new Map([["profile.vcf", enc("BEGIN:VCARD\nFN:mine\nEND:VCARD")]]) });
    await expectRefused(b, bob, "profile-update");
  });

  it("a device file of another device", async () => {
    await forge(b, bob, { message: text("swap"), changes: new Map([[`devices/${devOf(alice)}.crt`, pem(bob)]]) });
    await expectRefused(b, bob, "user-diff");
  });

  it("a commit by an invited author", async () => {
    await forge(c, carol, { message: text("not joined"), changes: new Map([[`devices/${devOf(carol)}.crt`, pem(carol)]]) });
    await expectRefused(c, carol, "user-at-commit");
  });

  it("a commit by a banned author", async () => {
    await a.ban(uriOf(bob));
    await pull(b, a, alice);
    expect(await b.roleOf(uriOf(bob))).toBe("banned");
    await forge(b, bob, { message: text("still here"), changes: new Map([[`devices/${devOf(bob)}.crt`, pem(bob)]]) });
    await expectRefused(b, bob, "user-at-commit");
  });

  it("a random signature: refused (today's daemon), accepted by the 13.7-lenient mode (as 13.7 did)", async () => {
    const oid = await forge(b, bob, { message: text("random sig"), signature: "random" });
    await expectRefused(b, bob, "signature");
    const lenient = await victim({ mode: "lenient" });
    expect((await pull(lenient, b, bob)).newCommits.map((m) => m.id)).toEqual([oid]);
  });

  it("a missing signature", async () => {
    await forge(b, bob, { message: text("unsigned"), signature: "none" });
    await expectRefused(b, bob, "signature");
  });

  it("a device certificate not issued by the author's account (13.7 only compares the issuer UID)", async () => {
    const mallory = await createAccountKeys({ bits: 2048 });
    const fakeAccount = issueCertificate({
      subject: { cn: "Jami", uid: uriOf(bob) },
      publicKey: mallory.accountKey.publicKey,
      issuerKey: mallory.accountKey,
      isCA: true,
    });
    const key = await PrivateKey.generate(2048);
    const fakeDevice = certifyDevice({ accountKey: mallory.accountKey, accountCertificate: fakeAccount }, key);
    expect(fakeDevice.certificate.issuer.uid).toBe(uriOf(bob));
    const oid = await forge(b, fakeDevice, { message: text("I am bob"), changes: new Map([[`devices/${devOf(fakeDevice)}.crt`, pem(fakeDevice)]]) });
    await expectRefused(b, fakeDevice, "device-certificate");
    const lenient = await victim({ mode: "lenient" });
    expect((await pull(lenient, b, fakeDevice)).newCommits.map((m) => m.id)).toEqual([oid]);
  });

  it("a revoked device", async () => {
    const crl = RevocationList.sign({
      issuerKey: bobAccount.account.accountKey,
      issuerCertificate: bobAccount.account.accountCertificate,
      revoke: [bob2.certificate],
    });
    await forge(b, bob2, { message: text("from a revoked device"), changes: new Map([[`devices/${devOf(bob2)}.crt`, pem(bob2)]]) });
    await expectRefused(b, bob2, "device-certificate", await victim({ revocationLists: () => [crl] }));
    expect((await pull(a, b, bob2)).result).toBe("fast-forward"); // without the CRL the same commit is fine
  });

  it("a parent that exists nowhere, and a second initial commit", async () => {
    await forge(b, bob, { message: text("orphan"), parents: ["1".repeat(40)], tree: (await b.readCommit(await b.head())).tree });
    await expectRefused(b, bob, "parents");
    const root = await forge(b, bob, { message: '{"mode":2,"type":"initial"}', parents: [], tree: (await b.readCommit(b.conversationId)).tree });
    await forge(b, bob, { message: text("on a new root"), parents: [root] });
    await expectRefused(b, bob, "parents");
  });

  it("a merge whose tree adds what neither parent has (13.7 does not check merges; strict does)", async () => {
    const ours = await b.sendText("bob's side");
    const theirs = await a.sendText("alice's side");
    await pull(b, a, alice); // b merges: now b has both
    const honestMerge = await b.readCommit(await b.head());
    const evil = await forge(b, bob, {
      message: `Merge commit '${theirs}'`,
      parents: [ours, theirs],
      tree: honestMerge.tree,
      changes: undefined,
    });
    expect(evil).not.toBe(await a.head());
    const { editTree } = await import("../src/tree.js");
    const evilTree = await editTree(b.store, b.trees, honestMerge.tree, new Map([[`admins/${uriOf(bob)}.crt`, memberFile(bob)]]));
    await forge(b, bob, { message: `Merge commit '${theirs}'`, parents: [ours, theirs], tree: evilTree });
    await expectRefused(b, bob, "merge");
  });

  it("a member removing someone else", async () => {
    await forge(b, bob, {
      message: JSON.stringify({ action: "remove", type: "member", uri: uriOf(alice) }),
      changes: new Map([[`admins/${uriOf(alice)}.crt`, null]]),
    });
    await expectRefused(b, bob, "remove");
  });

  it("an author e-mail that is not a device id", async () => {
    await forge(b, bob, { message: text("who?"), email: "someone@example.invalid" });
    await expectRefused(b, bob, "commit-format");
  });

  it("a clone whose history does not start at the conversation id, or holds a bad commit, writes nothing", async () => {
    await forge(b, bob, { message: text("evil"), changes: new Map([["evil.txt", enc("x")]]) });
    const fetched = await fetchOver(b, undefined);
    const parent = join(tmp.dir, "dave");
    await expect(
      SwarmRepository.clone(parent, { conversationId: b.conversationId, remoteDevice: devOf(bob), head: fetched.head, pack: fetched.pack! }, { fs: nodeFs }),
    ).rejects.toMatchObject({ code: "COMMIT_REJECTED", rule: "user-diff" });
    await expect(
      SwarmRepository.clone(parent, { conversationId: "2".repeat(40), remoteDevice: devOf(bob), head: fetched.head, pack: fetched.pack! }, { fs: nodeFs }),
    ).rejects.toMatchObject({ code: "COMMIT_REJECTED", rule: "parents" });
    expect(existsSync(parent)).toBe(false);
  });

  it("a clone that does not list the cloning account is refused and writes nothing (jamid erases it afterwards)", async () => {
    const fetched = await fetchOver(a, undefined);
    const parent = join(tmp.dir, "outsider");
    const outsider = "9".repeat(40);
    await expect(
      SwarmRepository.clone(
        parent,
        { conversationId: a.conversationId, remoteDevice: devOf(alice), head: fetched.head, pack: fetched.pack! },
        { fs: nodeFs, requireMember: outsider },
      ),
    ).rejects.toMatchObject({ code: "NOT_PERMITTED" });
    expect(existsSync(parent)).toBe(false);
    await SwarmRepository.clone(
      parent,
      { conversationId: a.conversationId, remoteDevice: devOf(alice), head: fetched.head, pack: fetched.pack! },
      { fs: nodeFs, requireMember: uriOf(carol) },
    );
  });
});
