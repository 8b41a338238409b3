import { JamiError } from "jami-core";
/** Where CLI commands write; tests pass their own to read what was printed. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Ends long-running commands (`dht node`, `dht listen`) besides Ctrl-C / SIGTERM. */
  signal?: AbortSignal;
  /** stderr is a terminal: progress is drawn as a bar there instead of JSON lines. */
  isTTY?: boolean;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  isTTY: process.stderr.isTTY === true,
};

/** A usage mistake: reported like any error, with exit status 2. */
export class UsageError extends JamiError<"USAGE"> {
  override name = "UsageError";
  constructor(message: string) {
    super("USAGE", message);
  }
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout(JSON.stringify(value, null, 2) + "\n");
}

/** One JSON document per line, for commands that stream events (bigints as decimal strings). */
export function printLine(io: CliIo, value: Record<string, unknown>): void {
  io.stdout(JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) + "\n");
}

export function parseInteger(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer`);
  return n;
}

/** Resolves when the process is asked to stop (Ctrl-C, SIGTERM) or `signal` aborts; says which. */
export function untilStopped(options: { signal?: AbortSignal } = {}): Promise<string> {
  const signal = options.signal;
  return new Promise((resolve) => {
    const done = (why: string): void => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolve(why);
    };
    const onInt = (): void => done("SIGINT");
    const onTerm = (): void => done("SIGTERM");
    process.once("SIGINT", onInt);
    process.once("SIGTERM", onTerm);
    if (signal?.aborted) done("aborted");
    signal?.addEventListener("abort", () => done("aborted"), { once: true });
  });
}
