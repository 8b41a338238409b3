import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

const REPO = resolve(__dirname, "..");

/**
 * Runs `examples/<name>/index.ts` as a user would (`node --import tsx`, from the repository root) and returns
 * its stdout after checking it exited cleanly with nothing on stderr.
 */
export function runExample(name: string, timeoutMs = 120_000): string {
  const result = spawnSync(process.execPath, ["--import", "tsx", `examples/${name}/index.ts`], { cwd: REPO, encoding: "utf8", timeout: timeoutMs });
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  return result.stdout;
}
