import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

const REPO = resolve(__dirname, "../../..");

describe("examples/swarm-basics (the README example)", () => {
  it("creates a group, invites, clones over a stream, joins, posts concurrently, merges, converges and verifies", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", "examples/swarm-basics/index.ts"], { cwd: REPO, encoding: "utf8", timeout: 120_000 });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/conversation [0-9a-f]{40} created/);
    expect(result.stdout).toContain("alice: merged, new: member, text/plain, merge");
    expect(result.stdout).toContain("bob: fast-forward");
    expect(result.stdout).toContain("same head on both copies: true");
    expect(result.stdout).toContain("hello Bob 👋");
    expect(result.stdout).toContain("verified: 6 commits, admins 1, members 1");
    expect(result.stdout).toContain("bob's profile update: NOT_PERMITTED");
  });
});
