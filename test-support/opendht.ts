import { execFile, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createWriteStream, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { SHARED } from "./jamid-harness";

const execFileAsync = promisify(execFile);
const PYTHON = "/usr/bin/python3";
export const DHT_HARNESS = resolve(SHARED, "tools/dhtnode-harness.sh");
export const OPENDHT_PEER = resolve(SHARED, "tools/opendht-peer.py");
const DRIVER = resolve(__dirname, "opendht-driver.py");

export type PeerEvent = Record<string, unknown> & { event?: string };

/** Real OpenDHT nodes from `shared/tools/dhtnode-harness.sh` (python3-opendht runners or dhtnode binaries). */
export class HarnessNodes {
  private constructor(
    readonly dir: string,
    readonly addresses: string[],
  ) {}

  static async start(options: { count: number; basePort: number; impl?: "python" | "dhtnode" }): Promise<HarnessNodes> {
    const dir = mkdtempSync(join(tmpdir(), "dhtharness-"));
    const args = ["start", "-n", String(options.count), "-p", String(options.basePort), "--impl", options.impl ?? "python", "--dir", dir];
    const { stdout } = await execFileAsync(DHT_HARNESS, args, { timeout: 120_000 });
    const addresses = [...stdout.matchAll(/^NODE \d+ (\S+)/gm)].map((m) => m[1]!);
    if (addresses.length !== options.count) throw new Error(`harness started ${addresses.length} nodes: ${stdout}`);
    return new HarnessNodes(dir, addresses);
  }

  get bootstrap(): string {
    return this.addresses[0]!;
  }

  async stop(): Promise<void> {
    await execFileAsync(DHT_HARNESS, ["stop", "--dir", this.dir]).catch(() => {});
  }
}

/** Runs `opendht-peer.py` to completion; its JSON lines. */
export async function runPeer(args: string[], timeoutMs = 60_000): Promise<PeerEvent[]> {
  const { stdout } = await execFileAsync(PYTHON, [OPENDHT_PEER, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 });
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as PeerEvent);
}

/** Items arriving over time (JSON events, console lines) and a way to wait for one. */
class Arrivals<T> {
  readonly items: T[] = [];
  private waiters: (() => void)[] = [];

  push(item: T): void {
    this.items.push(item);
    for (const w of this.waiters.splice(0)) w();
  }

  async waitFor(match: (item: T) => boolean, timeoutMs: number, what: () => string): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = this.items.find(match);
      if (found !== undefined) return found;
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what()}; last: ${JSON.stringify(this.items.slice(-6))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}

/** A long-running process printing JSON lines, with a way to wait for one. */
export class JsonLinesProcess {
  private readonly arrivals = new Arrivals<PeerEvent>();
  private stderrTail = "";
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.startsWith("{")) this.arrivals.push(JSON.parse(line) as PeerEvent);
    });
    // JAMITS_PROBE_LOG=prefix keeps each process's stderr in prefix.<pid> (with DEBUG=jami:*, why a wait timed out).
    const log = process.env.JAMITS_PROBE_LOG;
    if (log) {
      const file = createWriteStream(`${log}.${child.pid}`, { flags: "a" });
      child.stderr.pipe(file);
      createInterface({ input: child.stdout }).on("line", (line) => file.write(`${new Date().toISOString()} stdout ${line}\n`));
    } else child.stderr.resume();
    // the end of stderr, always: a process that must be killed says why (our probes name what holds them)
    child.stderr.on("data", (d: Buffer) => (this.stderrTail = (this.stderrTail + d.toString()).slice(-2048)));
    this.exited = new Promise((r) => child.on("exit", (code) => r(code)));
  }

  get events(): PeerEvent[] {
    return this.arrivals.items;
  }

  waitFor(match: (e: PeerEvent) => boolean, timeoutMs = 30_000): Promise<PeerEvent> {
    return this.arrivals.waitFor(match, timeoutMs, () => "an event");
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill("SIGTERM");
    await this.exited;
  }

  /**
   * Closes the process's stdin (our probes stop cleanly on EOF) and waits for it to exit; one still running after
   * `timeoutMs` has leaked something (a socket, a timer) and is killed, with a warning, so a suite cannot hang on it.
   */
  async endInput(timeoutMs = 20_000): Promise<number | null> {
    this.child.stdin.end();
    const timer = setTimeout(() => {
      console.warn(`process ${this.child.pid} did not exit ${timeoutMs} ms after its stdin closed: killed; its stderr ended with:\n${this.stderrTail}`);
      this.child.kill("SIGKILL");
    }, timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

export function spawnPeer(args: string[]): JsonLinesProcess {
  return new JsonLinesProcess(spawn(PYTHON, [OPENDHT_PEER, ...args]));
}

export interface DriverNode {
  index: number;
  addr: string;
  node_id: string;
  pkid: string;
}

/** Several python3-opendht runners in one process (`test-support/opendht-driver.py`), driven by commands. */
export class OpenDhtDriver extends JsonLinesProcess {
  private nextId = 1;
  nodes: DriverNode[] = [];

  static async start(options: { nodes: number; bootstrap?: string[]; identityNodes?: number }): Promise<OpenDhtDriver> {
    const args = [DRIVER, "--nodes", String(options.nodes), "--identity-nodes", String(options.identityNodes ?? 0)];
    for (const b of options.bootstrap ?? []) args.push("--bootstrap", b);
    const d = new OpenDhtDriver(spawn(PYTHON, args));
    const ready = await d.waitFor((e) => e.event === "ready", 120_000);
    d.nodes = ready.nodes as DriverNode[];
    return d;
  }

  async command(cmd: Record<string, unknown>, timeoutMs = 30_000): Promise<PeerEvent> {
    const id = this.nextId++;
    this.child.stdin.write(JSON.stringify({ ...cmd, id }) + "\n");
    return this.waitFor((e) => e.id === id, timeoutMs);
  }

  override async stop(): Promise<void> {
    if (this.child.exitCode === null) this.child.stdin.end(JSON.stringify({ cmd: "quit" }) + "\n");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** A `dhtnode` driven through its console (stdin commands, stdout lines). */
export class DhtnodeConsole {
  private readonly arrivals = new Arrivals<string>();
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on("line", (l) => this.arrivals.push(l));
    createInterface({ input: child.stderr }).on("line", (l) => this.arrivals.push(l));
    this.exited = new Promise((r) => child.on("exit", (code) => r(code)));
  }

  static start(args: string[]): DhtnodeConsole {
    return new DhtnodeConsole(spawn("dhtnode", args));
  }

  command(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  waitForLine(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    return this.arrivals.waitFor(
      (l) => pattern.test(l),
      timeoutMs,
      () => `dhtnode to print ${pattern}`,
    );
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      this.command("x");
      const t = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
      await this.exited;
      clearTimeout(t);
    }
  }
}
