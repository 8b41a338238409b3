import { execFile } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** `../shared` beside the repository, or JAMI_SHARED. */
export const SHARED = process.env.JAMI_SHARED ?? resolve(__dirname, "../../shared");
export const JAMIH = resolve(SHARED, "tools/jamid-harness/jamih");

/** What `jamih create-account` / `import-account` print. */
export interface JamidAccount {
  accountId: string;
  jamiId: string | null;
  deviceId: string | null;
  archivePath: string | null;
  deviceCertPath: string | null;
  registrationStatus: string;
  error?: string;
}

export class JamihError extends Error {
  constructor(
    readonly args: string[],
    readonly output: unknown,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Drives the reference daemon through `shared/tools/jamid-harness` in a
 * network namespace of this test's own, with its own state root and local
 * dhtnode. Every call is one `jamih` process printing one JSON document.
 */
export class JamidHarness {
  private constructor(
    readonly root: string,
    readonly netns: string,
    readonly dhtPort: number,
  ) {}

  static async start(options: { netns: string; dhtPort?: number }): Promise<JamidHarness> {
    const problems = [
      [existsSync(JAMIH), `no jamid harness at ${JAMIH} (is ../shared beside the repository?)`],
      [existsSync("/usr/libexec/jamid"), "jamid is not installed: run scripts/install-system-deps.sh interop as root"],
      [process.getuid?.() === 0, "jamid interop needs root for its network namespace"],
    ] as const;
    const missing = problems.filter(([ok]) => !ok).map(([, why]) => why);
    if (missing.length) throw new Error(missing.join("; "));
    const harness = new JamidHarness(mkdtempSync(join(tmpdir(), "jamih-")), options.netns, options.dhtPort ?? 4222);
    await harness.run("start-dht", "--port", String(harness.dhtPort));
    return harness;
  }

  /**
   * One jamih command; its JSON output, or a JamihError carrying that output. A D-Bus call that jamid does not
   * answer within 2 minutes (more for a `wait-event` with a longer `--timeout`) fails instead of hanging the suite.
   */
  async run<T = Record<string, unknown>>(...args: string[]): Promise<T> {
    const waitFor = args.includes("--timeout") ? Number(args[args.indexOf("--timeout") + 1]) : 0;
    try {
      const { stdout } = await execFileAsync(JAMIH, args, {
        env: { ...process.env, JAMIH_ROOT: this.root, JAMIH_NETNS: this.netns },
        maxBuffer: 16 << 20,
        timeout: Math.max(120, waitFor + 30) * 1000,
      });
      return JSON.parse(stdout) as T;
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; message: string };
      let output: unknown = e.stdout;
      try {
        output = JSON.parse(e.stdout ?? "");
      } catch {
        /* keep the raw text */
      }
      throw new JamihError(args, output, `jamih ${args.join(" ")} failed: ${e.stdout ?? ""} ${e.stderr ?? e.message}`);
    }
  }

  /** `extra`: `jamih start` options (`--tls-dump` to read its SIP with `sip-dump`, `--alsa-null`). */
  async startInstance(name: string, ...extra: string[]): Promise<void> {
    await this.run("start", name, ...extra);
  }

  async createAccount(instance: string, options: { alias?: string; password?: string } = {}): Promise<JamidAccount> {
    const args = ["create-account", instance];
    if (options.alias) args.push("--alias", options.alias);
    if (options.password) args.push("--password", options.password);
    return this.addAccount(instance, args);
  }

  /** Imports an archive file; a failed import resolves with `registrationStatus: "REMOVED"`. */
  async importAccount(instance: string, archivePath: string, password?: string): Promise<JamidAccount> {
    const args = ["import-account", instance, "--archive", archivePath];
    if (password) args.push("--password", password);
    try {
      return await this.addAccount(instance, args);
    } catch (error) {
      if (error instanceof JamihError && (error.output as JamidAccount)?.registrationStatus) {
        return error.output as JamidAccount;
      }
      throw error;
    }
  }

  /**
   * `create-account` / `import-account`. On a loaded machine jamid 13.7 sometimes answers one of the harness's
   * D-Bus calls after dbus-python's 25 s reply timeout (seen once in CI: `NoReply` during an import with a
   * password) although the account goes on being added. Then the instance's only account is followed until it
   * registers or is removed, instead of failing the test on the harness's timeout.
   */
  private async addAccount(instance: string, args: string[]): Promise<JamidAccount> {
    try {
      return await this.run<JamidAccount>(...args);
    } catch (error) {
      if (!(error instanceof JamihError) || !error.message.includes("NoReply")) throw error;
      const deadline = Date.now() + 120_000;
      for (;;) {
        const { accounts } = await this.run<{ accounts: JamidAccount[] }>("info", instance).catch(() => ({ accounts: [] }));
        const settled = accounts.at(-1); // jamid lists accounts in the order they were added
        if (settled?.registrationStatus === "REGISTERED") return settled;
        if (settled?.registrationStatus === "REMOVED" || Date.now() > deadline) {
          throw new JamihError(args, settled ?? error.output, `${error.message}; then: ${JSON.stringify(accounts)}`);
        }
        await new Promise((done) => setTimeout(done, 500));
      }
    }
  }

  async exportArchive(instance: string, accountId: string, out: string, password?: string): Promise<void> {
    const args = ["export-archive", instance, accountId, "--out", out];
    if (password) args.push("--password", password);
    await this.run(...args);
  }

  /** Stops everything this harness started and removes its namespace. */
  async stop(): Promise<void> {
    await this.run("stop-all").catch(() => undefined);
    await this.run("netns-down").catch(() => undefined);
  }
}
