/**
 * Files in a conversation with jamid 13.7 (spec jami-swarm.md §6): jamid's `sendFile` downloaded and verified by us;
 * ours downloaded by jamid (`downloadFile`, `dataTransferEvent` finished) with the same bytes.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JsonLinesProcess } from "../../../test-support/opendht.js";
import type { JamidHarness, JamidAccount } from "../../../test-support/jamid-harness.js";
import { askProbe, jamidAndProbe, spawnProbe } from "../../../test-support/jamid-with-probe.js";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { JsonLinesProcess as Lines } from "../../../test-support/opendht.js";
import { JAMIH } from "../../../test-support/jamid-harness.js";
import { waitFor } from "../../../test-support/events.js";

jest.setTimeout(400_000);
const NETNS = "jamits-files";
const DHT_PORT = 4478;

describe("files with jamid 13.7", () => {
  let harness: JamidHarness;
  let jamid: JamidAccount;
  let us: JsonLinesProcess;
  let conversationId: string;
  let dir: string;

  beforeAll(async () => {
    ({ harness, jamid, us } = await jamidAndProbe(NETNS, DHT_PORT));
    dir = mkdtempSync(join(tmpdir(), "jami-files-interop-"));
    chmodSync(dir, 0o755);
    // our group, jamid joined
    conversationId = (await askProbe(us, { cmd: "createGroup" })).conversationId as string;
    const since = String(Date.now() / 1000);
    await askProbe(us, { cmd: "invite", conversationId, jamiId: jamid.jamiId });
    await harness.run("wait-event", "j", "conversationRequestReceived", "--arg", `1=${conversationId}`, "--since", since, "--timeout", "90");
    await harness.run("accept-conversation", "j", jamid.accountId, conversationId);
    await us.waitFor((e) => e.event === "member" && e.conversationId === conversationId && e.jamiId === jamid.jamiId && e.action === "join", 90_000);
  });

  afterAll(async () => {
    await us?.endInput();
    await harness?.stop();
  });

  it("jamid sends a file: we download it and its bytes match", async () => {
    const original = join(dir, "from-jamid.bin");
    writeFileSync(original, randomBytes(2 << 20));
    const arrived = us.waitFor(
      (e) => e.event === "message" && e.conversationId === conversationId && (e.body as { type?: string }).type === "application/data-transfer+json",
      120_000,
    );
    await harness.run("call", "j", "sendFile", jamid.accountId, conversationId, original, "from-jamid.bin", "");
    const message = await arrived;
    const target = join(dir, "got", "from-jamid.bin");
    await askProbe(us, { cmd: "download", conversationId, messageId: message.id, path: target }, 180_000);
    expect(readFileSync(target).equals(readFileSync(original))).toBe(true);
  });

  it("we send a file: jamid downloads it (dataTransferEvent finished) and its bytes match", async () => {
    const original = join(dir, "from-us.bin");
    writeFileSync(original, randomBytes(2 << 20));
    const since = String(Date.now() / 1000);
    const sent = await askProbe(us, { cmd: "sendFile", conversationId, path: original });
    const received = await harness.run<{ args: [string, string, Record<string, string>] }>(
      "wait-event",
      "j",
      "messageReceived",
      "--arg",
      `1=${conversationId}`,
      "--since",
      since,
      "--timeout",
      "120",
    );
    expect(received.args[2]).toMatchObject({
      type: "application/data-transfer+json",
      id: sent.messageId,
      fileId: sent.fileId,
      sha3sum: (sent.body as { sha3sum: string }).sha3sum,
    });
    const target = join(dir, "jamid-got.bin");
    const asked = String(Date.now() / 1000);
    await harness.run("call", "j", "downloadFile", jamid.accountId, conversationId, sent.messageId as string, sent.fileId as string, target);
    await harness.run("wait-event", "j", "dataTransferEvent", "--arg", `3=${sent.fileId as string}`, "--arg", "4=6", "--since", asked, "--timeout", "180");
    expect(readFileSync(target).equals(readFileSync(original))).toBe(true);
  });

  it("a download from jamid cut in the middle (link closed) resumes from the partial size", async () => {
    const original = join(dir, "big-from-jamid.bin");
    // large enough that the cut lands in the middle at today's rates (64 MB took one second once the ICE stalls were gone)
    const size = 256 << 20;
    writeFileSync(original, randomBytes(size));
    const arrived = us.waitFor(
      (e) => e.event === "message" && e.conversationId === conversationId && (e.body as { displayName?: string }).displayName === "big-from-jamid.bin",
      120_000,
    );
    await harness.run("call", "j", "sendFile", jamid.accountId, conversationId, original, "big-from-jamid.bin", "");
    const message = await arrived;
    const target = join(dir, "got", "big-from-jamid.bin");
    const first = askProbe(us, { cmd: "download", conversationId, messageId: message.id, path: target }, 240_000).then(
      () => "finished",
      (e: Error) => e.message,
    );
    await us.waitFor((e) => e.event === "progress" && e.direction === "download" && (e.bytes as number) >= size / 20, 120_000);
    await askProbe(us, { cmd: "disconnect", deviceId: jamid.deviceId });
    const outcome = await first;
    const partial = statSync(target).size;
    // the cut came before the end (a machine fast enough to finish first would make this test say so, not pass)
    expect(outcome).not.toBe("finished");
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(size);
    await askProbe(us, { cmd: "download", conversationId, messageId: message.id, path: target }, 240_000);
    expect(readFileSync(target).equals(readFileSync(original))).toBe(true);
    // jamid was asked for the rest only
    const log = readFileSync(join(harness.root, "inst", "j", "jamid.log"), "utf8");
    expect(log).toContain(`?start=${partial}`);
  });

  it("a download by jamid cut in the middle resumes from its partial size at its next sync with us", async () => {
    const original = join(dir, "big-from-us.bin");
    // large enough that the cut lands in the middle at today's rates (64 MB took one second once the ICE stalls were gone)
    const size = 256 << 20;
    writeFileSync(original, randomBytes(size));
    const since = String(Date.now() / 1000);
    const sent = await askProbe(us, { cmd: "sendFile", conversationId, path: original });
    await harness.run("wait-event", "j", "messageReceived", "--arg", `1=${conversationId}`, "--since", since, "--timeout", "120");
    const target = join(dir, "jamid-big.bin");
    const asked = String(Date.now() / 1000);
    await harness.run("call", "j", "downloadFile", jamid.accountId, conversationId, sent.messageId as string, sent.fileId as string, target);
    await us.waitFor((e) => e.event === "progress" && e.direction === "upload" && e.fileId === sent.fileId && (e.bytes as number) >= size / 20, 120_000);
    await askProbe(us, { cmd: "disconnect", deviceId: jamid.deviceId });
    // once jamid saw its download end unfinished (7: closed_by_host), it tries it again when it next syncs with a
    // member (not before: a sync while the transfer still counts as running skips it): a new message makes it fetch
    await harness.run("wait-event", "j", "dataTransferEvent", "--arg", `3=${sent.fileId as string}`, "--arg", "4=7", "--since", asked, "--timeout", "60");
    const resumed = us.waitFor((e) => e.event === "channel" && typeof e.name === "string" && e.name.includes(`${sent.fileId as string}?start=`), 60_000);
    await askProbe(us, { cmd: "post", conversationId, text: "more to fetch" });
    const channel = await resumed;
    const start = Number(/\?start=(\d+)/.exec(channel.name as string)![1]);
    expect(start).toBeGreaterThan(0);
    expect(start).toBeLessThan(size);
    await harness.run("wait-event", "j", "dataTransferEvent", "--arg", `3=${sent.fileId as string}`, "--arg", "4=6", "--since", asked, "--timeout", "240");
    expect(readFileSync(target).equals(readFileSync(original))).toBe(true);
  });

  it("a device of an account that is not a member asking jamid for a file is refused", async () => {
    const original = join(dir, "members-only.bin");
    writeFileSync(original, randomBytes(10_000));
    const arrived = us.waitFor(
      (e) => e.event === "message" && e.conversationId === conversationId && (e.body as { displayName?: string }).displayName === "members-only.bin",
      120_000,
    );
    await harness.run("call", "j", "sendFile", jamid.accountId, conversationId, original, "members-only.bin", "");
    const message = await arrived;
    const body = message.body as { tid: string };
    const fileId = `${message.id as string}_${body.tid}.bin`;
    const stranger = spawnProbe(harness, NETNS, DHT_PORT);
    try {
      const me = await stranger.waitFor((e) => e.event === "ready" || e.event === "error", 60_000);
      expect(me.event).toBe("ready");
      const refused = await askProbe(stranger, {
        cmd: "connect",
        target: jamid.jamiId,
        name: `data-transfer://${conversationId}/${me.deviceId as string}/${fileId}`,
      }).then(
        (r) => JSON.stringify(r),
        (e: Error) => e.message,
      );
      expect(refused).toContain("declined channel data-transfer://");
      // positive control: we, a member, get the same file on the same kind of request
      await askProbe(us, { cmd: "download", conversationId, messageId: message.id, path: join(dir, "members-only-got.bin") }, 120_000);
      expect(readFileSync(join(dir, "members-only-got.bin")).equals(readFileSync(original))).toBe(true);
    } finally {
      await stranger.endInput();
    }
  });

  it("examples/file-bot with a jamid user: `!get` answers with the file (jamid downloads it), a file jamid sends is kept", async () => {
    const work = mkdtempSync(join(tmpdir(), "file-bot-"));
    chmodSync(work, 0o755);
    const folder = join(work, "served");
    mkdirSync(folder);
    const report = randomBytes(300_000);
    writeFileSync(join(folder, "report.bin"), report);
    const bot = new Lines(
      spawn(
        JAMIH,
        [
          "exec",
          "--",
          process.execPath,
          "--import",
          "tsx",
          "examples/file-bot/index.ts",
          "--dir",
          join(work, "bot"),
          "--folder",
          folder,
          "--inbox",
          join(work, "inbox"),
          "--bootstrap",
          `127.0.0.1:${DHT_PORT}`,
        ],
        { cwd: resolve(__dirname, "..", "..", ".."), env: { ...process.env, JAMIH_ROOT: harness.root, JAMIH_NETNS: NETNS } },
      ),
    );
    try {
      const ready = await bot.waitFor((e) => e.event === "ready", 60_000);
      const since = String(Date.now() / 1000);
      const { conversationId } = await harness.run<{ conversationId: string }>("add-contact", "j", jamid.accountId, ready.jamiId as string);
      await harness.run(
        "wait-event",
        "j",
        "conversationMemberEvent",
        "--arg",
        `1=${conversationId}`,
        "--arg",
        `2=${ready.jamiId as string}`,
        "--arg",
        "3=1",
        "--since",
        since,
        "--timeout",
        "120",
      );
      await harness.run("send-message", "j", jamid.accountId, conversationId, "!get report.bin");
      const sent = await bot.waitFor((e) => e.event === "sent" && e.name === "report.bin", 120_000);
      // the file id starts with the commit's id; jamid downloads once the commit is in its history
      const messageId = (sent.fileId as string).slice(0, 40);
      await waitFor(async () => JSON.stringify(await harness.run("list-messages", "j", jamid.accountId, conversationId)).includes(messageId), {
        timeoutMs: 90_000,
        what: "the bot's file in jamid's history",
      });
      const target = join(work, "jamid-got.bin");
      const downloading = String(Date.now() / 1000);
      await harness.run("call", "j", "downloadFile", jamid.accountId, conversationId, messageId, sent.fileId as string, target);
      await harness.run("wait-event", "j", "dataTransferEvent", "--arg", "4=6", "--since", downloading, "--timeout", "180");
      expect(readFileSync(target).equals(report)).toBe(true);

      // jamid sends a file: the bot keeps it, verified
      const photo = join(work, "photo.jpg");
      writeFileSync(photo, randomBytes(100_000));
      await harness.run("call", "j", "sendFile", jamid.accountId, conversationId, photo, "photo.jpg", "");
      const kept = await bot.waitFor((e) => e.event === "received", 180_000);
      expect(readFileSync(kept.path as string).equals(readFileSync(photo))).toBe(true);
      expect((kept.path as string).endsWith("-photo.jpg")).toBe(true);
    } finally {
      await bot.endInput();
    }
  });
});
