import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalNetwork, type LocalNetwork } from "jami-sdk";
import { runCli } from "../src/cli/run.js";

/** Runs the CLI in-process; `onOutput` sees what it prints as it prints it. */
async function jami(argv: string[], signal?: AbortSignal, onOutput?: (text: string) => void): Promise<{ status: number; lines: any[] }> {
  let text = "";
  const stdout = (t: string): void => {
    text += t;
    onOutput?.(text);
  };
  const status = await runCli(argv, { stdout, stderr: () => {}, signal });
  const trimmed = text.trim();
  const lines = trimmed.startsWith("{\n")
    ? [JSON.parse(trimmed)]
    : trimmed
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l));
  return { status, lines };
}

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
    const missing = await jami(["contact", "accept", "ab".repeat(20), "--dir", dir, "--bootstrap", net.bootstrap[0]!, "--bind", "127.0.0.1"]);
    expect(missing.status).toBe(1);
    expect(missing.lines[0].error.code).toBe("NO_TRUST_REQUEST");
    expect((await jami(["contact", "decline", "--dir", dir])).status).toBe(2);
    expect((await jami(["contact", "list"])).status).toBe(2);
  });
});
