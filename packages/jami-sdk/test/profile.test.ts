import { MemoryDht } from "jami-dht";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Conversations } from "../src/features/conversations.js";
import { Profile, OWN_PROFILE, PROFILE_PUSH } from "../src/features/profile.js";
import { MAX_VCARD_BYTES, readPersonalVcard, writePersonalVcard } from "../src/features/vcard.js";
import { AccountError } from "../src/errors.js";
import { newTestDevice, secondTestDevice, type TestDevice } from "../../../test-support/components.js";
import { next } from "../../../test-support/events.js";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8]);
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("personal vCards", () => {
  it("writes what Jami clients write and reads it back (2.1, LF, base64 PHOTO with its type)", () => {
    const bytes = writePersonalVcard({ displayName: "Alice; the first", avatar: PNG }, "a".repeat(40));
    expect(new TextDecoder().decode(bytes)).toBe(
      `BEGIN:VCARD\nVERSION:2.1\nUID:${"a".repeat(40)}\nFN:Alice\\; the first\nPHOTO;ENCODING=BASE64;TYPE=PNG:${Buffer.from(PNG).toString("base64")}\nEND:VCARD\n`,
    );
    expect(readPersonalVcard(bytes)).toEqual({ displayName: "Alice; the first", avatar: PNG });
  });

  it("reads CRLF, folded lines, 3.0's ENCODING=b and a data: URI", () => {
    const b64 = Buffer.from(PNG).toString("base64");
    const folded = `BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bo\r\n b\r\nPHOTO;ENCODING=b;TYPE=PNG:${b64.slice(0, 8)}\r\n ${b64.slice(8)}\r\nEND:VCARD\r\n`;
    expect(readPersonalVcard(enc(folded))).toEqual({ displayName: "Bob", avatar: PNG });
    expect(readPersonalVcard(enc(`BEGIN:VCARD\nPHOTO:data:image/png;base64,${b64}\nEND:VCARD`)).avatar).toEqual(PNG);
  });

  it.each([
    ["not a vCard", enc("hello")],
    ["cut short", enc("BEGIN:VCARD\nFN:x\n")],
    ["a huge PHOTO", enc(`BEGIN:VCARD\nPHOTO;ENCODING=BASE64:${"A".repeat(MAX_VCARD_BYTES)}\nEND:VCARD`)],
    ["a folding bomb", enc(`BEGIN:VCARD\n${"X-A:1\n".repeat(300)}END:VCARD`)],
  ])("refuses %s with BAD_VCARD", (_, bytes) => {
    expect(() => readPersonalVcard(bytes)).toThrow(expect.objectContaining({ code: "BAD_VCARD" }) as Error);
  });
});

/**
 * Members' vCards over real links (ICE-TCP + TLS on 127.0.0.1) and an in-memory DHT, as jamid 13.7 moves them:
 * pushed after a sync, pulled after a one-to-one clone, exchanged by own devices; accepted only from members.
 */
describe("account profiles", () => {
  let dht: MemoryDht;
  let devices: TestDevice[];
  let convs: Conversations[];
  let profiles: Profile[];
  const id = (i: number): string => devices[i]!.local.jamiId.toString();
  const deviceId = (i: number): string => devices[i]!.local.deviceId.toString();

  async function up(list: TestDevice[]): Promise<void> {
    devices = list;
    await Promise.all(devices.map((d) => d.start()));
    convs = devices.map((d) => new Conversations(d.components));
    profiles = devices.map((d) => new Profile(d.components));
    for (const [i, d] of devices.entries()) {
      await convs[i]!.load();
      await profiles[i]!.load();
      await d.components.links.start();
      await convs[i]!.start();
      await profiles[i]!.start();
    }
  }

  beforeEach(() => {
    dht = new MemoryDht();
  });
  afterEach(async () => {
    for (const [i, d] of devices.entries()) {
      d.abort();
      await profiles[i]!.stop();
      await convs[i]!.stop();
      await d.components.links.stop();
    }
    await Promise.all(devices.map((d) => d.stop()));
  });

  /** Resolves once device `i` has received `count` bytes on its next channel named `name` (the bytes are there). */
  function bytesAt(i: number, name: string, count: number): Promise<void> {
    return new Promise((resolve) => {
      const links = devices[i]!.components.links;
      const onChannel = ({ channel }: { channel: import("jami-dtls").Channel }): void => {
        if (channel.name !== name) return;
        links.off("channel", onChannel);
        let got = 0;
        channel.on("data", (d: Buffer) => (got += d.length) >= count && resolve());
      };
      links.on("channel", onChannel);
    });
  }

  /** A group of a's that b joined: each side fetched from the other once. */
  async function group(): Promise<string> {
    const [a, b] = [convs[0]!, convs[1]!];
    const created = await a.create();
    const requested = next(b, "request");
    await a.invite(created.conversationId, id(1));
    await requested;
    const joined = next(a, "member", { filter: (m) => m.action === "join" });
    await b.accept(created.conversationId);
    await joined;
    return created.conversationId;
  }

  it("members push their vCards after a sync: each side keeps the other's, on disk in jamid's layout, sent once", async () => {
    await up(await Promise.all([newTestDevice(dht), newTestDevice(dht), newTestDevice(dht)]));
    await profiles[0]!.set({ displayName: "Alice", avatar: PNG });
    await profiles[1]!.set({ displayName: "Bob" });
    const pushesToA: string[] = [];
    devices[0]!.components.links.on("channel", ({ channel }) => PROFILE_PUSH.test(channel.name) && pushesToA.push(channel.name));
    const bobsArrives = next(profiles[0]!, "received", { filter: (r) => r.profile.jamiId === id(1) });
    const alicesArrives = next(profiles[1]!, "received", { filter: (r) => r.profile.jamiId === id(0) });
    const conversationId = await group();
    expect((await bobsArrives)[0].profile).toEqual({ jamiId: id(1), displayName: "Bob" });
    expect((await alicesArrives)[0]).toEqual({ profile: { jamiId: id(0), displayName: "Alice", avatar: PNG }, deviceId: deviceId(0) });
    expect(profiles[1]!.of(id(0))).toEqual({ jamiId: id(0), displayName: "Alice", avatar: PNG });
    const stored = join(devices[1]!.local.dir, "profiles", `${Buffer.from(id(0)).toString("base64")}.vcf`);
    expect(readFileSync(stored)).toEqual(Buffer.from(profiles[0]!.vcard()!));
    expect(readFileSync(join(devices[0]!.local.dir, "profile.vcf"))).toEqual(Buffer.from(profiles[0]!.vcard()!));

    // another sync with the same device: no second push while Bob's vCard is unchanged
    const pushes = pushesToA.length;
    expect(pushes).toBe(1);
    const message = next(convs[0]!, "message");
    await convs[1]!.send(conversationId, "hi");
    await message;
    await convs[1]!.fetch(conversationId, id(0));
    expect(pushesToA).toHaveLength(pushes);
    // a change is sent at the next sync
    await profiles[1]!.set({ displayName: "Robert" });
    const renamed = next(profiles[0]!, "received", { filter: (r) => r.profile.displayName === "Robert" });
    await convs[1]!.fetch(conversationId, id(0));
    await renamed;
    expect(pushesToA).toHaveLength(pushes + 1);
    // kept across a restart of the feature
    const reloaded = new Profile(devices[0]!.components);
    await reloaded.load();
    expect(reloaded.of(id(1))).toEqual({ jamiId: id(1), displayName: "Robert" });
    expect(reloaded.get()).toEqual({ displayName: "Alice", avatar: PNG });
  });

  it("after cloning a one-to-one, the peer's vCard is pulled from the device cloned from", async () => {
    await up(await Promise.all([newTestDevice(dht), newTestDevice(dht)]));
    await profiles[0]!.set({ displayName: "Alice" });
    const pulled: string[] = [];
    devices[0]!.components.links.on("channel", ({ channel }) => pulled.push(channel.name));
    const oneToOne = await convs[0]!.create({ mode: 0, invited: id(1) });
    const arrives = next(profiles[1]!, "received");
    await convs[1]!.clone(oneToOne.conversationId, id(0));
    expect((await arrives)[0].profile).toEqual({ jamiId: id(0), displayName: "Alice" });
    expect(pulled).toContain(`data-transfer://${oneToOne.conversationId}/profile/${id(0)}.vcf`);
  });

  it("refuses vCards from non-members, in another device's name, other members' asked by a member, and bombs", async () => {
    await up(await Promise.all([newTestDevice(dht), newTestDevice(dht), newTestDevice(dht)]));
    await profiles[0]!.set({ displayName: "Alice" });
    await profiles[1]!.set({ displayName: "Bob" });
    const conversationId = await group();
    await next(profiles[0]!, "received").catch(() => undefined);
    const links = (i: number) => devices[i]!.components.links;

    // a stranger (device 2) pushes a vCard to a: declined, nothing kept
    await expect(links(2).connect(deviceId(0), `data-transfer://${conversationId}/${deviceId(2)}/profile.vcf`)).rejects.toThrow();
    // a member's device pushing in the name of another device: declined
    await expect(links(1).connect(deviceId(0), `data-transfer://${conversationId}/${deviceId(2)}/profile.vcf`)).rejects.toThrow();
    // a member asks a for another member's vCard (only a's own devices may): declined; a's own vCard: served
    await expect(links(1).connect(deviceId(0), `data-transfer://${conversationId}/profile/${id(2)}.vcf`)).rejects.toThrow();
    await expect(links(2).connect(deviceId(0), `data-transfer://${conversationId}/profile/${id(0)}.vcf`)).rejects.toThrow();
    // another account on the own-devices channel: declined
    await expect(links(2).connect(deviceId(0), OWN_PROFILE)).rejects.toThrow();
    // positive control: the same member, in its own name, is heard
    const control = await links(1).connect(deviceId(0), `data-transfer://${conversationId}/${deviceId(1)}/profile.vcf`);
    const heard = next(profiles[0]!, "received", { filter: (r) => r.profile.displayName === "Bobby" });
    control.end(Buffer.from(writePersonalVcard({ displayName: "Bobby" })));
    await heard;

    // a bomb from a member: cut off at the bound, an error with the code, what a kept is unchanged
    const refused = next(profiles[0]!, "error");
    const bomb = await links(1).connect(deviceId(0), `data-transfer://${conversationId}/${deviceId(1)}/profile.vcf`);
    bomb.on("error", () => undefined);
    const header = Buffer.from("BEGIN:VCARD\nPHOTO;ENCODING=BASE64:");
    bomb.write(header);
    const chunk = Buffer.alloc(64 << 10, 0x41);
    for (let sent = 0; sent <= MAX_VCARD_BYTES && !bomb.destroyed; sent += chunk.length) bomb.write(chunk);
    const [{ error }] = await refused;
    expect(error).toBeInstanceOf(AccountError);
    expect(error.code).toBe("BAD_VCARD");
    // a folding bomb: many short lines
    const folding = next(profiles[0]!, "error");
    const many = await links(1).connect(deviceId(0), `data-transfer://${conversationId}/${deviceId(1)}/profile.vcf`);
    many.end(Buffer.from(`BEGIN:VCARD\nFN:x\n${" y\n".repeat(10)}${"X-A:1\n".repeat(1000)}END:VCARD\n`));
    expect((await folding)[0].error.code).toBe("BAD_VCARD");
    expect(profiles[0]!.of(id(1))).toEqual({ jamiId: id(1), displayName: "Bobby" });
    expect(profiles[0]!.of(id(2))).toBeUndefined();
    expect(readdirSync(join(devices[0]!.local.dir, "profiles"))).toEqual([`${Buffer.from(id(1)).toString("base64")}.vcf`]);
  });

  it("a vCard whose link closes right after it is kept; one cut short by the link is refused", async () => {
    await up(await Promise.all([newTestDevice(dht), newTestDevice(dht)]));
    const conversationId = await group();
    const links = devices[1]!.components.links;
    const name = `data-transfer://${conversationId}/${deviceId(1)}/profile.vcf`;
    // cut short: half a vCard, then the link goes
    const cut = next(profiles[0]!, "error");
    const halfBytes = Buffer.from("BEGIN:VCARD\nVERSION:2.1\nFN:Half");
    const halfThere = bytesAt(0, name, halfBytes.length);
    const half = await links.connect(deviceId(0), name);
    half.write(halfBytes);
    await halfThere;
    links.disconnect(deviceId(0));
    expect((await cut)[0].error.code).toBe("BAD_VCARD");
    expect(profiles[0]!.of(id(1))).toBeUndefined();
    // whole, then the link goes at once (jamid shuts its channel down right after writing)
    const kept = next(profiles[0]!, "received", { filter: (r) => r.profile.displayName === "Whole" });
    const wholeBytes = Buffer.from(writePersonalVcard({ displayName: "Whole" }));
    const wholeThere = bytesAt(0, name, wholeBytes.length);
    const whole = await links.connect(deviceId(0), name);
    whole.write(wholeBytes);
    await wholeThere;
    links.disconnect(deviceId(0));
    expect((await kept)[0].profile).toEqual({ jamiId: id(1), displayName: "Whole" });
  });

  it("a conversation's profile: an admin's update reaches the members (profile event), a member's is refused", async () => {
    await up(await Promise.all([newTestDevice(dht), newTestDevice(dht)]));
    const conversationId = await group();
    const seen = next(convs[1]!, "profile");
    const before = await convs[0]!.get(conversationId)!.head();
    await convs[0]!.updateProfile(conversationId, { title: "Spec group", description: "desc" });
    const [{ profile }] = await seen;
    expect(profile).toEqual({ title: "Spec group", description: "desc", mode: 2 });
    expect(await convs[1]!.profile(conversationId)).toEqual(profile);
    // jamid 13.7's bytes, stray blank lines included
    expect(new TextDecoder().decode(await convs[1]!.get(conversationId)!.readFile("profile.vcf"))).toBe(
      "BEGIN:VCARD\nVERSION:2.1\nFN:Spec group\nDESCRIPTION:desc\nPHOTO;ENCODING=BASE64\n\n\nEND:VCARD",
    );
    expect(await convs[0]!.get(conversationId)!.head()).not.toBe(before);
    await expect(convs[1]!.updateProfile(conversationId, { title: "mine" })).rejects.toThrow();
    expect((await convs[1]!.profile(conversationId)).title).toBe("Spec group");
  });

  it("our own device may pull a member's vCard we keep (the bytes as the member sent them)", async () => {
    const first = await newTestDevice(dht);
    await up([first, await newTestDevice(dht), await secondTestDevice(dht, first)]);
    await profiles[1]!.set({ displayName: "Bob", avatar: PNG });
    const kept = next(profiles[0]!, "received", { filter: (r) => r.profile.jamiId === id(1) });
    const conversationId = await group();
    await kept;
    const channel = await devices[2]!.components.links.connect(deviceId(0), `data-transfer://${conversationId}/profile/${id(1)}.vcf`);
    const parts: Buffer[] = [];
    channel.on("data", (d: Buffer) => parts.push(d));
    await new Promise((resolve) => channel.once("end", resolve));
    expect(readPersonalVcard(new Uint8Array(Buffer.concat(parts)))).toEqual({ displayName: "Bob", avatar: PNG });
  });

  it("own devices: the one that accepts sync:// sends the account's vCard to the other", async () => {
    const first = await newTestDevice(dht);
    await up([first, await secondTestDevice(dht, first)]);
    await profiles[0]!.set({ displayName: "Alice", avatar: PNG });
    const updated = next(profiles[1]!, "updated");
    // the second device opens sync:// to the first (as jamid does on finding a new device of its account)
    const channel = await devices[1]!.components.links.connect(deviceId(0), `sync://${deviceId(0)}`);
    expect((await updated)[0]).toEqual({ profile: { displayName: "Alice", avatar: PNG }, from: deviceId(0) });
    expect(readFileSync(join(devices[1]!.local.dir, "profile.vcf"))).toEqual(Buffer.from(profiles[0]!.vcard()!));
    channel.end();
    expect(existsSync(join(devices[1]!.local.dir, "profiles"))).toBe(false);
  });
});
