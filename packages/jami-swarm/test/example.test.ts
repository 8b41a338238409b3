import { runExample } from "../../../test-support/examples.js";

describe("examples/swarm-basics (the README example)", () => {
  it("creates a group, invites, clones over a stream, joins, posts concurrently, merges, converges and verifies", () => {
    const stdout = runExample("swarm-basics");
    expect(stdout).toMatch(/conversation [0-9a-f]{40} created/);
    expect(stdout).toContain("alice: merged, new: member, text/plain, merge");
    expect(stdout).toContain("bob: fast-forward");
    expect(stdout).toContain("same head on both copies: true");
    expect(stdout).toContain("hello Bob 👋");
    expect(stdout).toContain("verified: 6 commits, admins 1, members 1");
    expect(stdout).toContain("bob's profile update: NOT_PERMITTED");
  });
});
