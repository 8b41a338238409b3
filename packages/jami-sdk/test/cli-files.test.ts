import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalNetwork, type LocalNetwork } from "jami-sdk";
import { jami } from "./cli-helpers.js";
import { next, waitFor } from "../../../test-support/events.js";

// several accounts start one after the other in a test: a generous budget, not a measure of speed
jest.setTimeout(180_000);

describe("jami file", () => {
  let net: LocalNetwork;
  let dir: string;
  let ourId: string;
  beforeAll(async () => {
    net = await createLocalNetwork({ accounts: 1, names: ["bob"], bits: 2048 });
    dir = join(mkdtempSync(join(tmpdir(), "jami-cli-files-")), "me");
    const created = await jami(["account", "create", "--dir", dir, "--name", "Me"]);
    ourId = created.lines[0].jamiId;
  });
  afterAll(() => net.close());

  it("files: `jami file get --out DIR` stores a file under its display name made safe (../../x stays in DIR), verified; `jami file send` is downloaded by a member", async () => {
    const [bob] = net.accounts;
    const group = await bob!.conversations.create();
    const controller = new AbortController();
    let seen = "";
    const running = jami(
      ["online", "--dir", dir, "--bootstrap", net.bootstrap[0]!, "--bind", "127.0.0.1", "--accept-all"],
      controller.signal,
      (text) => (seen = text),
    );
    await waitFor(() => seen.includes('"event":"online"'), { timeoutMs: 90_000 }); // the CLI account links and fetches: a budget, not a measure
    const joined = next(bob!.conversations, "member", {
      filter: (m) => m.action === "join" && m.jamiId === ourId && m.conversationId === group.conversationId,
    });
    await bob!.conversations.invite(group.conversationId, ourId);
    await joined;
    const work = mkdtempSync(join(tmpdir(), "jami-cli-files-"));
    const original = join(work, "report.bin");
    writeFileSync(original, randomBytes(200_000));
    const file = await bob!.conversations.sendFile(group.conversationId, original, { displayName: "../../escape.bin" });
    await waitFor(() => seen.includes(file.messageId), { timeoutMs: 90_000 }); // the CLI account links and fetches: a budget, not a measure
    controller.abort();
    await running;

    const inbox = join(work, "inbox");
    mkdirSync(inbox);
    const got = await jami([
      "file",
      "get",
      group.conversationId,
      file.messageId,
      "--out",
      inbox,
      "--dir",
      dir,
      "--bootstrap",
      net.bootstrap[0]!,
      "--bind",
      "127.0.0.1",
    ]);
    expect(got.status).toBe(0);
    const done = got.lines[got.lines.length - 1];
    expect(done).toMatchObject({ path: join(inbox, "escape.bin"), verified: true });
    expect(got.lines).toContainEqual(expect.objectContaining({ event: "progress", bytes: 200_000, total: 200_000 }));
    expect(readdirSync(inbox)).toEqual(["escape.bin"]);
    expect(existsSync(join(work, "..", "escape.bin"))).toBe(false);
    expect(readFileSync(join(inbox, "escape.bin")).equals(readFileSync(original))).toBe(true);

    // ours, served while `file send` waits: bob downloads it
    const mine = join(work, "mine.txt");
    writeFileSync(mine, "from the command line\n");
    // the wait covers the CLI's start as well (an account opening and linking): generous, not a measure
    const arrived = next(bob!.conversations, "message", {
      filter: ({ message }) => message.body.type === "application/data-transfer+json" && message.author === ourId,
      timeoutMs: 90_000,
    });
    const stopSending = new AbortController();
    const sending = jami(
      ["file", "send", group.conversationId, mine, "--dir", dir, "--bootstrap", net.bootstrap[0]!, "--bind", "127.0.0.1", "--wait", "60"],
      stopSending.signal,
    );
    const [{ message }] = await arrived;
    const target = join(work, "bob-got.txt");
    await bob!.conversations.download(group.conversationId, message.id, target);
    expect(readFileSync(target, "utf8")).toBe("from the command line\n");
    stopSending.abort();
    const sent = await sending;
    expect(sent.lines[0]).toMatchObject({ id: message.id, displayName: "mine.txt", totalSize: 22 });
    expect((await jami(["file", "get", group.conversationId, "--dir", dir])).status).toBe(2);
  });
});
