import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { DhtNode, InfoHash, Value } from "jami-dht";
import { runCli } from "../src/cli/run.js";

const REPO = resolve(__dirname, "../../..");

/** Runs the CLI in-process; `onOutput` sees what it prints as it prints it. */
async function jamiLines(argv: string[], signal?: AbortSignal, onOutput?: (text: string) => void): Promise<{ status: number; lines: any[] }> {
  let text = "";
  const stdout = (t: string): void => {
    text += t;
    onOutput?.(text);
  };
  const status = await runCli(argv, { stdout, stderr: () => {}, signal });
  return {
    status,
    lines: text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l)),
  };
}

describe("jami dht", () => {
  let seed: DhtNode;
  let bootstrap: string;
  beforeAll(async () => {
    seed = await DhtNode.create({ host: "127.0.0.1", port: 0 });
    bootstrap = `127.0.0.1:${seed.addresses[0]!.port}`;
  });
  afterAll(() => seed.close());

  it("put then get print JSON lines", async () => {
    const put = await jamiLines(["dht", "put", "cli-key", "hello cli", "--bootstrap", bootstrap, "--bind", "127.0.0.1"]);
    expect(put.status).toBe(0);
    expect(put.lines[0]).toMatchObject({ event: "put", key: InfoHash.get("cli-key").toString(), nodes: 1 });
    const get = await jamiLines(["dht", "get", "cli-key", "--bootstrap", bootstrap, "--bind", "127.0.0.1"]);
    expect(get.lines).toEqual([
      expect.objectContaining({ event: "value", data: "hello cli", userType: "text/plain", id: put.lines[0].id }),
      { event: "done", count: 1 },
    ]);
  });

  it("listen prints values as they arrive until it is stopped", async () => {
    let started!: () => void;
    const isListening = new Promise<void>((r) => (started = r));
    const stop = new AbortController();
    let sawLive!: () => void;
    const printed = new Promise<void>((r) => (sawLive = r));
    // Stopped once the value is printed; --duration only bounds a failure.
    const listening = jamiLines(["dht", "listen", "cli-listen", "--bootstrap", bootstrap, "--bind", "127.0.0.1", "--duration", "30"], stop.signal, (text) => {
      if (text.includes('"event":"listening"')) started();
      if (text.includes('"data":"live"')) sawLive();
    });
    await isListening;
    await seed.put(InfoHash.get("cli-listen"), new Value({ data: "live" }));
    await printed;
    stop.abort();
    const { status, lines } = await listening;
    expect(status).toBe(0);
    expect(lines[0]).toMatchObject({ event: "listening" });
    expect(lines).toContainEqual(expect.objectContaining({ event: "value", data: "live" }));
  });

  it("a node with no reachable bootstrap fails with a typed error", async () => {
    const { status, lines } = await jamiLines(["dht", "get", "k", "--bootstrap", "127.0.0.1:1", "--bind", "127.0.0.1"]);
    expect(status).toBe(1);
    expect(lines[0].error.code).toBe("NO_NODES");
  });

  it("bad usage exits 2", async () => {
    expect((await jamiLines(["dht", "get"])).status).toBe(2);
    expect((await jamiLines(["dht", "frobnicate"])).status).toBe(2);
    expect((await jamiLines(["dht", "node", "--port", "x"])).status).toBe(2);
  });

  it("`jami dht node` runs, joins the network, logs its table, and stops cleanly on SIGINT", async () => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "packages/jami-sdk/src/cli.ts",
        "dht",
        "node",
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        "--bootstrap",
        bootstrap,
        "--status-interval",
        "1",
      ],
      { cwd: REPO },
    );
    const lines: any[] = [];
    createInterface({ input: child.stdout }).on("line", (l) => lines.push(JSON.parse(l)));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    const end = Date.now() + 30_000;
    while (!lines.some((l) => l.event === "status" && l.routingTable.good >= 1) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect(lines[0]).toMatchObject({ event: "started", id: expect.stringMatching(/^[0-9a-f]{40}$/) });
    expect(lines.some((l) => l.event === "status" && l.routingTable.good >= 1)).toBe(true);
    // The running node answers pings.
    const id = await seed.ping(`127.0.0.1:${lines[0].port}`);
    expect(id.toString()).toBe(lines[0].id);
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(lines.at(-1)).toMatchObject({ event: "stopped", reason: "SIGINT" });
  });
});
