import { MemoryDht } from "jami-dht";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync, appendFileSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Channel } from "jami-dtls";
import { Conversations } from "../src/features/conversations.js";
import { FILE_CHANNEL, safeFileName, type FileProgress } from "../src/features/conversation-files.js";
import { newTestDevice, type TestDevice } from "../../../test-support/components.js";
import { next, waitFor } from "../../../test-support/events.js";

/**
 * Files in conversations over real links (ICE-TCP + TLS on 127.0.0.1) and an in-memory DHT: the `data-transfer`
 * commit, the bytes on `data-transfer://` from a member device, resume, SHA3-512, and who may ask.
 */
describe("safeFileName: a sender's display name as a name inside a folder", () => {
  it.each([
    ["report.pdf", "report.pdf"],
    ["../../etc/passwd", "passwd"],
    ["..\\..\\x.exe", "x.exe"],
    ["..", "file"],
    ["", "file"],
    ["/", "file"],
    ["a\u0000b\nc.txt", "abc.txt"],
  ])("%j → %j", (given, stored) => expect(safeFileName(given)).toBe(stored));
});

describe("files in conversations", () => {
  let dht: MemoryDht;
  let devices: TestDevice[];
  let convs: Conversations[];
  let dir: string;
  const id = (i: number): string => devices[i]!.local.jamiId.toString();
  const deviceId = (i: number): string => devices[i]!.local.deviceId.toString();

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "jami-files-"));
    dht = new MemoryDht();
    devices = await Promise.all([newTestDevice(dht), newTestDevice(dht), newTestDevice(dht)]);
    await Promise.all(devices.map((d) => d.start()));
    convs = devices.map((d) => new Conversations(d.components));
    for (const [i, d] of devices.entries()) {
      await convs[i]!.load();
      await d.components.links.start();
      await convs[i]!.start();
    }
  });
  afterEach(async () => {
    for (const [i, d] of devices.entries()) {
      d.abort();
      await convs[i]!.stop();
      await d.components.links.stop();
    }
    await Promise.all(devices.map((d) => d.stop()));
  });

  /** A group of a's that b joined, and a file of `size` random bytes a sent there (b has the message). */
  async function fileInGroup(size: number) {
    const [a, b] = [convs[0]!, convs[1]!];
    const group = await a.create();
    const requested = next(b, "request");
    await a.invite(group.conversationId, id(1));
    await requested;
    const joined = next(a, "member", { filter: (m) => m.action === "join" });
    await b.accept(group.conversationId);
    await joined;
    const original = join(dir, "report.bin");
    writeFileSync(original, randomBytes(size));
    const arrived = next(b, "message", { filter: (m) => m.message.body.type === "application/data-transfer+json" });
    const file = await a.sendFile(group.conversationId, original);
    await arrived;
    return { group, file, original };
  }

  it("a member downloads a file a sent: the commit as jamid writes it, the bytes checked, progress on the way", async () => {
    const { group, file, original } = await fileInGroup(3 << 20);
    expect(file.body).toMatchObject({ type: "application/data-transfer+json", displayName: "report.bin", totalSize: 3 << 20 });
    expect(file.body.sha3sum).toMatch(/^[0-9a-f]{128}$/);
    expect(file.fileId).toBe(`${file.messageId}_${file.body.tid}.bin`);
    const seen: FileProgress[] = [];
    const served: FileProgress[] = [];
    convs[1]!.on("progress", (p) => seen.push(p));
    convs[0]!.on("progress", (p) => served.push(p));
    const target = join(dir, "got", "report.bin");
    await expect(convs[1]!.download(group.conversationId, file.messageId, target)).resolves.toBe(target);
    expect(readFileSync(target).equals(readFileSync(original))).toBe(true);
    // both sides see the transfer move, with its rate
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every((p) => p.direction === "download" && p.total === 3 << 20 && p.rate > 0)).toBe(true);
    expect(seen[seen.length - 1]!.bytes).toBe(3 << 20);
    await waitFor(() => served[served.length - 1]?.bytes === 3 << 20);
    expect(served.every((p) => p.direction === "upload" && p.peer === deviceId(1) && p.total === 3 << 20)).toBe(true);
    expect(served.length).toBeGreaterThan(1);
    await expect(convs[1]!.download(group.conversationId, group.conversationId, join(dir, "x"))).rejects.toMatchObject({ code: "NOT_A_FILE" });
  });

  it("a partial file is resumed from its size", async () => {
    const { group, file, original } = await fileInGroup(1 << 20);
    const target = join(dir, "partial.bin");
    writeFileSync(target, readFileSync(original).subarray(0, 300_000));
    const seen: number[] = [];
    convs[1]!.on("progress", (p) => seen.push(p.bytes));
    await convs[1]!.download(group.conversationId, file.messageId, target);
    expect(readFileSync(target).equals(readFileSync(original))).toBe(true);
    // the first chunk counted lands past what was on disk: only the rest came over the channel
    expect(seen[0]).toBeGreaterThan(300_000);
  });

  it("a device whose account is not a member is refused the file; a member device is served (positive control)", async () => {
    const { group, file } = await fileInGroup(100_000);
    const name = `data-transfer://${group.conversationId}/${deviceId(2)}/${file.fileId}`;
    expect(FILE_CHANNEL.test(name)).toBe(true);
    await expect(devices[2]!.components.links.connect(id(0), name)).rejects.toMatchObject({ code: "CHANNEL_DECLINED" });
    // asking in another device's name is refused too, even for a member
    await expect(devices[1]!.components.links.connect(id(0), `data-transfer://${group.conversationId}/${deviceId(2)}/${file.fileId}`)).rejects.toMatchObject({
      code: "CHANNEL_DECLINED",
    });
    const channel = await devices[1]!.components.links.connect(id(0), `data-transfer://${group.conversationId}/${deviceId(1)}/${file.fileId}`);
    let bytes = 0;
    channel.on("data", (d: Buffer) => (bytes += d.length));
    await new Promise((r) => channel.once("end", r));
    expect(bytes).toBe(100_000);
  });

  it("an account removed from the conversation may neither fetch its files nor send any: NOT_MEMBER, nothing written", async () => {
    const { group, file, original } = await fileInGroup(20_000);
    await convs[0]!.removeMember(group.conversationId, id(1));
    // jamid tells a banned account nothing (no notice, its fetches refused): b's copy learns of the ban as if a member
    // had passed it on — a's history copied over b's, read again at b's next load
    await convs[1]!.stop();
    cpSync(convs[0]!.get(group.conversationId)!.dir, convs[1]!.get(group.conversationId)!.dir, { recursive: true, force: true });
    await convs[1]!.load();
    await convs[1]!.start();
    expect(await convs[1]!.get(group.conversationId)!.roleOf(id(1))).toBe("banned");
    const target = join(dir, "after-ban.bin");
    await expect(convs[1]!.download(group.conversationId, file.messageId, target)).rejects.toMatchObject({ code: "NOT_MEMBER" });
    expect(existsSync(target)).toBe(false);
    expect(convs[1]!.pendingDownloads()).toEqual([]);
    const head = (await convs[1]!.loadMessages(group.conversationId, { n: 1 }))[0]!.id;
    await expect(convs[1]!.sendFile(group.conversationId, original)).rejects.toMatchObject({ code: "NOT_MEMBER" });
    expect((await convs[1]!.loadMessages(group.conversationId, { n: 1 }))[0]!.id).toBe(head);
    // positive control: the admin still may
    await expect(convs[0]!.sendFile(group.conversationId, original)).resolves.toMatchObject({ author: id(0) });
  });

  it("a file changed since it was sent is not served (its SHA3-512 no longer matches): NO_SOURCE, nothing kept", async () => {
    const { group, file, original } = await fileInGroup(100_000);
    // served once (a's check of its hash is remembered), then changed in place: checked again, and refused
    await convs[1]!.download(group.conversationId, file.messageId, join(dir, "first.bin"));
    const bytes = readFileSync(original);
    bytes[0] = bytes[0]! ^ 1;
    writeFileSync(original, bytes);
    const later = new Date(Date.now() + 5000);
    utimesSync(original, later, later); // a distinct mtime whatever the file system's clock resolution
    const target = join(dir, "changed.bin");
    await expect(convs[1]!.download(group.conversationId, file.messageId, target)).rejects.toMatchObject({ code: "NO_SOURCE" });
    expect(existsSync(target) ? statSync(target).size : 0).toBe(0);
  });

  it("a download that could not finish is tried again when a member device shows up (jamid's waiting entries): the file event", async () => {
    const { group, file, original } = await fileInGroup(100_000);
    const bytes = readFileSync(original);
    writeFileSync(original, Buffer.alloc(10)); // a's copy is not the file for now: nobody serves it
    const target = join(dir, "later.bin");
    await expect(convs[1]!.download(group.conversationId, file.messageId, target)).rejects.toMatchObject({ code: "NO_SOURCE" });
    expect(convs[1]!.pendingDownloads()).toEqual([expect.objectContaining({ fileId: file.fileId, target })]);
    writeFileSync(original, bytes);
    // the link drops and comes back (a posts; its notice sets up a new link and sip channel): b syncs, and retries
    const got = next(convs[1]!, "file");
    devices[1]!.components.links.disconnect(deviceId(0));
    await convs[0]!.send(group.conversationId, "the file is back");
    expect((await got)[0]).toMatchObject({ fileId: file.fileId, path: target });
    expect(readFileSync(target).equals(bytes)).toBe(true);
    expect(convs[1]!.pendingDownloads()).toEqual([]);
  });

  it("a peer that sends more than the size announced: HASH_MISMATCH, the file deleted", async () => {
    const { group, file } = await fileInGroup(50_000);
    // a turns hostile: its conversations no longer answer, a handler of its own sends too many bytes
    await convs[0]!.stop();
    devices[0]!.components.links.handle(FILE_CHANNEL);
    devices[0]!.components.links.on("channel", ({ channel }: { channel: Channel }) => {
      if (FILE_CHANNEL.test(channel.name)) channel.end(randomBytes(80_000));
    });
    const target = join(dir, "toomuch.bin");
    await expect(convs[1]!.download(group.conversationId, file.messageId, target)).rejects.toMatchObject({ code: "HASH_MISMATCH" });
    expect(existsSync(target)).toBe(false);
  });

  it("bytes that are not the file (right size, wrong hash): HASH_MISMATCH, the file deleted", async () => {
    // 2 MiB: hashed on the hashing thread as it arrives (what a large download does)
    const { group, file } = await fileInGroup(2 << 20);
    await convs[0]!.stop();
    devices[0]!.components.links.handle(FILE_CHANNEL);
    devices[0]!.components.links.on("channel", ({ channel }: { channel: Channel }) => {
      if (FILE_CHANNEL.test(channel.name)) channel.end(randomBytes(2 << 20));
    });
    const target = join(dir, "wrong.bin");
    appendFileSync(target, Buffer.alloc(0));
    await expect(convs[1]!.download(group.conversationId, file.messageId, target)).rejects.toMatchObject({ code: "HASH_MISMATCH" });
    expect(existsSync(target)).toBe(false);
  });
});
