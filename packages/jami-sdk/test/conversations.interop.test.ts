/**
 * Conversations with jamid 13.7 (spec jami-swarm.md §9), jamid in the harness's network namespace, our side an
 * Account with `account.conversations` (test-support/jami-account-probe.ts):
 *  - jamid's group: its invitation reaches us (invite+json), we accept (clone over `git://`, strict validation, join,
 *    SIP notice), jamid reports us as a member; messages both ways; our message is `delivered` once jamid fetched it;
 *  - our group: jamid gets our invitation, accepts it (clones from our git server), joins; we see the join and its
 *    message;
 *  - one-to-one both ways: the trust request names the real conversation; the side that accepts clones and joins.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { JsonLinesProcess } from "../../../test-support/opendht.js";
import type { JamidHarness, JamidAccount } from "../../../test-support/jamid-harness.js";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { resolve } from "node:path";
import { JsonLinesProcess as Lines } from "../../../test-support/opendht.js";
import { JAMIH } from "../../../test-support/jamid-harness.js";
import { askProbe, jamidAndProbe, spawnProbe } from "../../../test-support/jamid-with-probe.js";
import { waitFor } from "../../../test-support/events.js";

jest.setTimeout(300_000);
const NETNS = "jamits-conv";
const DHT_PORT = 4462;

describe("conversations with jamid 13.7", () => {
  let harness: JamidHarness;
  let jamid: JamidAccount;
  let us: JsonLinesProcess;
  let me: Record<string, unknown>;

  beforeAll(async () => {
    ({ harness, jamid, us, me } = await jamidAndProbe(NETNS, DHT_PORT));
  });

  afterAll(async () => {
    await us?.endInput();
    await harness?.stop();
  });

  /** jamid's log lines about conversations, to explain a failed wait. */
  function explain(error: Error): never {
    const log = readFileSync(join(harness.root, "inst", "j", "jamid.log"), "utf8");
    const lines = log.split("\n").filter((l) => /onversation|git|Git|MESSAGE|fetch|Malformed|sip|clone/i.test(l));
    throw new Error(`${error.message}\n${lines.slice(-60).join("\n")}`);
  }

  function jamidEvent(signal: string, since: string, ...args: string[]): Promise<{ args: unknown[] }> {
    const filters = args.flatMap((a) => ["--arg", a]);
    return harness.run<{ args: unknown[] }>("wait-event", "j", signal, ...filters, "--since", since, "--timeout", "90").catch(explain);
  }

  it("jamid's group: its invitation reaches us; we accept, join and post; jamid's message reaches us", async () => {
    const { conversationId } = await harness.run<{ conversationId: string }>("start-conversation", "j", jamid.accountId);
    await harness.run("add-member", "j", jamid.accountId, conversationId, me.jamiId as string);
    const request = await us.waitFor((e) => e.event === "conversationRequest" && e.conversationId === conversationId, 120_000);
    expect(request).toMatchObject({ from: jamid.jamiId, metadatas: { mode: "2" } });

    let since = String(Date.now() / 1000);
    const accepted = await askProbe(us, { cmd: "acceptConversation", conversationId });
    expect(accepted.members).toEqual(expect.arrayContaining([{ uri: jamid.jamiId, role: "admin" }]));
    await us.waitFor((e) => e.event === "conversationReady" && e.conversationId === conversationId, 10_000);
    await jamidEvent("conversationMemberEvent", since, `1=${conversationId}`, `2=${me.jamiId as string}`, "3=1");

    since = String(Date.now() / 1000);
    const { commit } = await askProbe(us, { cmd: "post", conversationId, text: "hello jamid, from jami-ts" });
    const received = await jamidEvent("messageReceived", since, `1=${conversationId}`);
    expect(JSON.stringify(received)).toContain("hello jamid, from jami-ts");
    // jamid fetched it from our git server: delivered
    await us.waitFor((e) => e.event === "delivered" && e.conversationId === conversationId && e.from === jamid.jamiId, 30_000);
    expect(await askProbe(us, { cmd: "status", conversationId, messageId: commit })).toMatchObject({ status: "delivered" });
    const log = readFileSync(join(harness.root, "inst", "j", "jamid.log"), "utf8");
    expect(log).toContain(`fetch commits for peer ${me.jamiId as string} on device ${me.deviceId as string}`);

    await harness.run("send-message", "j", jamid.accountId, conversationId, "hello jami-ts, from jamid");
    const ours = await us.waitFor((e) => e.event === "message" && (e.body as { body?: string })?.body === "hello jami-ts, from jamid", 120_000);
    expect(ours).toMatchObject({ conversationId, author: jamid.jamiId, body: { type: "text/plain", body: "hello jami-ts, from jamid" } });
  });

  it("our group: jamid gets our invitation, accepts it (cloning from us) and joins; we see the join and its message", async () => {
    const { conversationId } = await askProbe(us, { cmd: "createGroup" });
    await askProbe(us, { cmd: "post", conversationId, text: "welcome" });
    const since = String(Date.now() / 1000);
    const invited = await askProbe(us, { cmd: "invite", conversationId, jamiId: jamid.jamiId });
    expect(invited.devices).toBe(1);
    await jamidEvent("conversationRequestReceived", since, `1=${conversationId as string}`);
    await harness.run("accept-conversation", "j", jamid.accountId, conversationId as string);
    await jamidEvent("conversationReady", since, `1=${conversationId as string}`);
    await us.waitFor((e) => e.event === "member" && e.conversationId === conversationId && e.jamiId === jamid.jamiId && e.action === "join", 90_000);

    await harness.run("send-message", "j", jamid.accountId, conversationId as string, "thanks for the invitation");
    await us.waitFor((e) => e.event === "message" && (e.body as { body?: string })?.body === "thanks for the invitation", 90_000);
    const log = await harness.run<{ commits?: unknown[] }>("git-log", "j", jamid.accountId, conversationId as string);
    expect(JSON.stringify(log)).toContain("welcome");
  });

  it("a forged commit we send (signed by our device, a text message that adds a file) is refused by jamid: our tests can catch it", async () => {
    const { conversationId } = await askProbe(us, { cmd: "createGroup" });
    const since = String(Date.now() / 1000);
    await askProbe(us, { cmd: "invite", conversationId, jamiId: jamid.jamiId });
    await jamidEvent("conversationRequestReceived", since, `1=${conversationId as string}`);
    await harness.run("accept-conversation", "j", jamid.accountId, conversationId as string);
    await us.waitFor((e) => e.event === "member" && e.conversationId === conversationId && e.jamiId === jamid.jamiId && e.action === "join", 90_000);
    // positive control: a genuine message of ours, sent the same way, reaches jamid's history
    const { commit: genuine } = await askProbe(us, { cmd: "post", conversationId, text: "genuine" });
    await waitFor(async () => JSON.stringify(await harness.run("git-log", "j", jamid.accountId, conversationId as string)).includes(genuine as string), {
      timeoutMs: 90_000,
      what: "our genuine commit in jamid's copy",
    });
    const forged = String(Date.now() / 1000);
    const { commit: evil } = await askProbe(us, { cmd: "forge", conversationId });
    // jamid fetches it, validates, refuses: onConversationError(account, conversation, 3 = EVALIDFETCH, …)
    const refused = await jamidEvent("onConversationError", forged, `1=${conversationId as string}`);
    expect(refused.args[2]).toBe(3);
    expect(JSON.stringify(await harness.run("git-log", "j", jamid.accountId, conversationId as string))).not.toContain(evil as string);
  });

  it("one-to-one, we add jamid: the trust request names our conversation; jamid accepts, clones it from us and joins", async () => {
    const since = String(Date.now() / 1000);
    const { contact } = (await askProbe(us, { cmd: "addContact", jamiId: jamid.jamiId })) as { contact: { conversationId: string } };
    const conversationId = contact.conversationId;
    await jamidEvent("incomingTrustRequest", since, `1=${conversationId}`, `2=${me.jamiId as string}`);
    await harness.run("accept", "j", jamid.accountId, me.jamiId as string);
    await jamidEvent("conversationReady", since, `1=${conversationId}`);
    await us.waitFor((e) => e.event === "member" && e.conversationId === conversationId && e.jamiId === jamid.jamiId && e.action === "join", 90_000);
    const posted = String(Date.now() / 1000);
    await askProbe(us, { cmd: "post", conversationId, text: "one to one" });
    expect(JSON.stringify(await jamidEvent("messageReceived", posted, `1=${conversationId}`))).toContain("one to one");
  });

  it("one-to-one, jamid adds us: we accept its trust request, clone its conversation and join", async () => {
    const other = spawnProbe(harness, NETNS, DHT_PORT);
    try {
      const ready = await other.waitFor((e) => e.event === "ready" || e.event === "error", 60_000);
      expect(ready.event).toBe("ready");
      const { conversationId } = await harness.run<{ conversationId: string }>("add-contact", "j", jamid.accountId, ready.jamiId as string);
      const request = await other.waitFor((e) => e.event === "trustRequest", 120_000);
      expect(request).toMatchObject({ from: jamid.jamiId, conversationId });
      const since = String(Date.now() / 1000);
      await askProbe(other, { cmd: "accept", from: jamid.jamiId });
      await other.waitFor((e) => e.event === "conversationReady" && e.conversationId === conversationId, 120_000);
      await jamidEvent("conversationMemberEvent", since, `1=${conversationId}`, `2=${ready.jamiId as string}`, "3=1");
      await harness.run("send-message", "j", jamid.accountId, conversationId, "hello new contact");
      await other.waitFor((e) => e.event === "message" && (e.body as { body?: string })?.body === "hello new contact", 90_000);
    } finally {
      await other.endInput();
    }
  });

  it("examples/echo-bot answers a jamid user: it accepts jamid's trust request, joins, and replies to its message", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "echo-bot-")), "bot");
    const bot = new Lines(
      spawn(JAMIH, ["exec", "--", process.execPath, "--import", "tsx", "examples/echo-bot/index.ts", "--dir", dir, "--bootstrap", `127.0.0.1:${DHT_PORT}`], {
        cwd: resolve(__dirname, "..", "..", ".."),
        env: { ...process.env, JAMIH_ROOT: harness.root, JAMIH_NETNS: NETNS },
      }),
    );
    try {
      const ready = await bot.waitFor((e) => e.event === "ready", 60_000);
      const { conversationId } = await harness.run<{ conversationId: string }>("add-contact", "j", jamid.accountId, ready.jamiId as string);
      await bot.waitFor((e) => e.event === "accepting contact" && e.from === jamid.jamiId, 120_000);
      await jamidEvent("conversationMemberEvent", "0", `1=${conversationId}`, `2=${ready.jamiId as string}`, "3=1");
      await harness.run("send-message", "j", jamid.accountId, conversationId, "ping from jamid");
      await bot.waitFor((e) => e.event === "echoing" && e.text === "ping from jamid", 90_000);
      // jamid fetches the answer when the bot's notice arrives: its history then holds it
      await waitFor(async () => JSON.stringify(await harness.run("list-messages", "j", jamid.accountId, conversationId)).includes("echo: ping from jamid"), {
        timeoutMs: 90_000,
        what: "the bot's answer in jamid's history",
      });
    } finally {
      await bot.endInput();
    }
  });

  it("a device of jamid's account imported from its archive gets jamid's conversations (sync:// from jamid, clone from its device)", async () => {
    const { conversationId: own } = await harness.run<{ conversationId: string }>("start-conversation", "j", jamid.accountId);
    await harness.run("send-message", "j", jamid.accountId, own, "a note to myself");
    const conversations = (await harness.run<{ conversations: string[] }>("list", "j", jamid.accountId)).conversations;
    expect(conversations).toContain(own);
    const archive = join(mkdtempSync(join(tmpdir(), "jamid-export-")), "jamid.gz");
    await harness.exportArchive("j", jamid.accountId, archive);
    const device = spawnProbe(harness, NETNS, DHT_PORT, archive);
    try {
      const ready = await device.waitFor((e) => e.event === "ready" || e.event === "error", 60_000);
      expect(ready).toMatchObject({ event: "ready", jamiId: jamid.jamiId });
      for (const id of conversations)
        await device
          .waitFor((e) => e.event === "conversationReady" && e.conversationId === id, 120_000)
          .catch((e: Error) => {
            const seen = device.events.filter((x) => x.event !== "presence").map((x) => JSON.stringify(x).slice(0, 200));
            throw new Error(`${e.message} (${id}); jamid has ${conversations.join(", ")}; the device saw:\n${seen.join("\n")}`);
          });
      const here = (await askProbe(device, { cmd: "conversations" })).conversations as Array<{ id: string; head: string }>;
      expect(here.map((c) => c.id).sort()).toEqual([...conversations].sort());
      for (const c of here) {
        const log = JSON.stringify(await harness.run("git-log", "j", jamid.accountId, c.id));
        expect(log).toContain(c.head);
      }
    } finally {
      await device.endInput();
    }
  });

  it("a jamid device imported from our archive gets our conversations (our archive lists them, our sync:// tells them; it clones from our device) and our read mark", async () => {
    const { conversationId } = await askProbe(us, { cmd: "createGroup" });
    const { commit } = await askProbe(us, { cmd: "post", conversationId, text: "for my other device" });
    // read here before the other device exists: only our sync:// can tell it (13.7's `ld`, no IMDN reaches it)
    await askProbe(us, { cmd: "displayed", conversationId, messageId: commit });
    const archive = join(mkdtempSync(join(tmpdir(), "our-export-")), "ours.gz");
    await askProbe(us, { cmd: "exportArchive", path: archive });
    await harness.startInstance("k");
    const since = String(Date.now() / 1000);
    const k = await harness.importAccount("k", archive);
    expect(k.jamiId).toBe(me.jamiId);
    await harness.run("wait-event", "k", "conversationReady", "--arg", `1=${conversationId as string}`, "--since", since, "--timeout", "120").catch(explain);
    expect(JSON.stringify(await harness.run("git-log", "k", k.accountId, conversationId as string))).toContain(commit as string);
    // jamid took our read mark: accountMessageStatusChanged(account, conversation, our URI, the commit, 3 = displayed)
    const status = await harness.run<{ args: unknown[] }>(
      "wait-event",
      "k",
      "accountMessageStatusChanged",
      "--arg",
      `1=${conversationId as string}`,
      "--arg",
      `3=${commit as string}`,
      "--since",
      since,
      "--timeout",
      "60",
    );
    expect(status.args.slice(2)).toEqual([me.jamiId, commit, 3]);
  });
});
