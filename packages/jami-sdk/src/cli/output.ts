/** Where CLI commands write; tests pass their own to read what was printed. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Ends long-running commands (`dht node`, `dht listen`) besides Ctrl-C / SIGTERM. */
  signal?: AbortSignal;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** A usage mistake: reported like any error, with exit status 2. */
export class UsageError extends Error {
  readonly code = "USAGE";
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout(JSON.stringify(value, null, 2) + "\n");
}
