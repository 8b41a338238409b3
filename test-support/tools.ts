import { spawnSync } from "node:child_process";

/**
 * Tests that use an outside program as an independent checker (openssl, gzip, Python's argon2/cryptography)
 * run where it is installed; elsewhere they are skipped with a warning saying what is missing — and counted
 * as skipped by jest. With JAMI_REQUIRE_ALL=1 (CI, which installs everything) a missing tool is an error.
 */
const checks: Record<string, () => boolean> = {
  openssl: () => spawnSync("openssl", ["version"]).status === 0,
  gzip: () => spawnSync("gzip", ["--version"]).status === 0,
  "python3-argon2": () => spawnSync("/usr/bin/python3", ["-c", "import argon2"]).status === 0,
  "python3-cryptography": () => spawnSync("/usr/bin/python3", ["-c", "import cryptography"]).status === 0,
};
const known = new Map<string, boolean>();

function available(tool: string): boolean {
  if (!known.has(tool)) known.set(tool, checks[tool]?.() ?? spawnSync(tool, ["--version"]).status === 0);
  return known.get(tool)!;
}

/** `it`, or `it.skip` (with a warning) when one of `tools` is not installed. */
export function itWith(...tools: string[]): jest.It {
  const missing = tools.filter((t) => !available(t));
  if (missing.length === 0) return it;
  const message = `not installed: ${missing.join(", ")} (scripts/install-system-deps.sh unit installs them as root on Debian)`;
  if (process.env.JAMI_REQUIRE_ALL) throw new Error(message);
  console.warn(`skipping tests that need ${message}`);
  return it.skip;
}
