import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalNetwork, type LocalNetwork } from "jami-sdk";
import { jami } from "./cli-helpers.js";
import { next, waitFor } from "../../../test-support/events.js";

// several accounts start one after the other in a test: a generous budget, not a measure of speed
jest.setTimeout(180_000);

describe("jami online / jami contact", () => {
  let net: LocalNetwork;
  let dir: string;
  let ourId: string;
  beforeAll(async () => {
    net = await createLocalNetwork({ accounts: 2, names: ["bob", "carol"], bits: 2048 });
    dir = join(mkdtempSync(join(tmpdir(), "jami-cli-account-")), "me");
    const created = await jami(["account", "create", "--dir", dir, "--name", "Me"]);
    ourId = created.lines[0].jamiId;
  });
  afterAll(() => net.close());

  it("online prints events as JSON lines and --accept-all accepts requests", async () => {
    const [bob] = net.accounts;
    const controller = new AbortController();
    let online!: () => void;
    const isOnline = new Promise<void>((r) => (online = r));
    const running = jami(["online", "--dir", dir, "--bootstrap", net.bootstrap[0]!, "--bind", "127.0.0.1", "--accept-all"], controller.signal, (text) => {
      if (text.includes('"event":"online"')) online();
    });
    const confirmed = new Promise<void>((resolve) => bob!.contacts.on("change", (c) => c.jamiId === ourId && c.confirmed && resolve()));
    await isOnline;
    await bob!.contacts.add(ourId);
    await confirmed;
    controller.abort();
    const { status, lines } = await running;
    expect(status).toBe(0);
    expect(lines[0]).toMatchObject({ event: "online", jamiId: ourId });
    expect(lines).toContainEqual(expect.objectContaining({ event: "trustRequest", from: bob!.jamiId, confirm: false }));
    expect(lines).toContainEqual(expect.objectContaining({ event: "contact", jamiId: bob!.jamiId, confirmed: true }));
    expect(lines.at(-1)).toMatchObject({ event: "stopped" });
  });

  it("contact add, list, accept and decline", async () => {
    const [bob, carol] = net.accounts;
    const added = await jami(["contact", "add", carol!.jamiId, "--dir", dir, "--bootstrap", net.bootstrap[0]!, "--bind", "127.0.0.1"]);
    expect(added.status).toBe(0);
    expect(added.lines[0].contact).toMatchObject({ jamiId: carol!.jamiId, confirmed: false });
    const list = await jami(["contact", "list", "--dir", dir]);
    expect(list.lines[0].contacts.map((c: { jamiId: string }) => c.jamiId).sort()).toEqual([bob!.jamiId, carol!.jamiId].sort());
    const nobody = await jami(["contact", "add", "cd".repeat(20), "--dir", dir, "--bootstrap", net.bootstrap[0]!, "--bind", "127.0.0.1"]);
    expect(nobody.status).toBe(1);
    expect(nobody.lines[0].error.code).toBe("NO_DEVICES");
    expect((await jami(["contact", "list", "--dir", dir])).lines[0].contacts).toHaveLength(2);
    // nor a one-to-one made for the request that could not be sent
    const left = (await jami(["conversation", "list", "--dir", dir])).lines[0].conversations as Array<{ members: Array<{ uri: string }> }>;
    expect(left.some((c) => c.members.some((m) => m.uri === carol!.jamiId))).toBe(true);
    expect(left.some((c) => c.members.some((m) => m.uri === "cd".repeat(20)))).toBe(false);
    const missing = await jami(["contact", "accept", "ab".repeat(20), "--dir", dir, "--bootstrap", net.bootstrap[0]!, "--bind", "127.0.0.1"]);
    expect(missing.status).toBe(1);
    expect(missing.lines[0].error.code).toBe("NO_TRUST_REQUEST");
    expect((await jami(["contact", "decline", "--dir", dir])).status).toBe(2);
    expect((await jami(["contact", "list"])).status).toBe(2);
  });

  it("conversations: an invitation accepted by `online --accept-all`, messages printed; list, messages, send, decline", async () => {
    const [bob, carol] = net.accounts;
    const group = await bob!.conversations.create({ profile: { title: "CLI group" } });
    const controller = new AbortController();
    let seen = "";
    const running = jami(["online", "--dir", dir, "--bootstrap", net.bootstrap[0]!, "--bind", "127.0.0.1", "--accept-all"], controller.signal, (text) => {
      seen = text;
    });
    await waitFor(() => seen.includes('"event":"online"'), { timeoutMs: 90_000 }); // the CLI account links and fetches: a budget, not a measure
    const joined = next(bob!.conversations, "member", { filter: (m) => m.action === "join" && m.jamiId === ourId });
    await bob!.conversations.invite(group.conversationId, ourId);
    await joined;
    await bob!.conversations.send(group.conversationId, "hello CLI");
    await waitFor(() => seen.includes("hello CLI"), { timeoutMs: 90_000 }); // the CLI account links and fetches: a budget, not a measure
    controller.abort();
    const { lines } = await running;
    expect(lines).toContainEqual(expect.objectContaining({ event: "conversationRequest", conversationId: group.conversationId, from: bob!.jamiId }));
    expect(lines).toContainEqual(expect.objectContaining({ event: "conversationReady", conversationId: group.conversationId }));
    expect(lines).toContainEqual(
      expect.objectContaining({ event: "message", conversationId: group.conversationId, author: bob!.jamiId, body: { type: "text/plain", body: "hello CLI" } }),
    );

    const list = await jami(["conversation", "list", "--dir", dir]);
    expect(list.lines[0].conversations).toContainEqual(expect.objectContaining({ id: group.conversationId, mode: 2 }));
    const history = await jami(["conversation", "messages", group.conversationId, "--dir", dir, "--n", "1"]);
    expect(history.lines).toEqual([expect.objectContaining({ author: bob!.jamiId, body: { type: "text/plain", body: "hello CLI" } })]);

    // bob's messages are collected from now on (the CLI's whole run comes first: no timer races it)
    const atBob: string[] = [];
    bob!.conversations.on("message", ({ message }) => message.body.type === "text/plain" && message.body.body === "from the CLI" && atBob.push(message.id));
    const sent = await jami(["message", "send", group.conversationId, "from the CLI", "--dir", dir, "--bootstrap", net.bootstrap[0]!, "--bind", "127.0.0.1"]);
    expect(sent.status).toBe(0);
    expect(sent.lines[0].status).toBe("delivered");
    await waitFor(() => atBob.includes(sent.lines[0].id), { what: "the CLI's message at bob" });

    // an invitation while offline, declined from the CLI
    const other = await carol!.conversations.create();
    const invited = next(carol!.conversations, "member", { filter: (m) => m.action === "add" });
    await carol!.conversations.invite(other.conversationId, ourId); // we are offline: it goes over the DHT at once
    await invited;
    expect((await jami(["conversation", "decline", other.conversationId, "--dir", dir])).lines[0]).toMatchObject({ error: { code: "NO_REQUEST" } });
    expect((await jami(["conversation", "messages", "zz", "--dir", dir])).status).toBe(2);
    expect((await jami(["message", "send", group.conversationId, "--dir", dir])).status).toBe(2);
  });
});
