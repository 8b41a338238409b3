/**
 * Files in a conversation with jamid 13.7 (spec jami-swarm.md §6): jamid's `sendFile` downloaded and verified by us;
 * ours downloaded by jamid (`downloadFile`, `dataTransferEvent` finished) with the same bytes.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JsonLinesProcess } from "../../../test-support/opendht.js";
import type { JamidHarness, JamidAccount } from "../../../test-support/jamid-harness.js";
import { askProbe, jamidAndProbe } from "../../../test-support/jamid-with-probe.js";

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
});
