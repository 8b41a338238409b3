import { runCli } from "../src/cli/run.js";

/** Runs the CLI in-process; `onOutput` sees what it prints as it prints it. */
export async function jami(argv: string[], signal?: AbortSignal, onOutput?: (text: string) => void): Promise<{ status: number; lines: any[] }> {
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
