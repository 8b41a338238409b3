import { runExample } from "../../../test-support/examples.js";

describe("examples/identity-basics (the README example)", () => {
  it("runs and shows one account on two verified devices", () => {
    const stdout = runExample("identity-basics");
    const jamiId = /Jami ID: ([0-9a-f]{40})/.exec(stdout)?.[1];
    expect(jamiId).toBeDefined();
    expect(stdout).toContain("reloaded: true");
    expect(stdout).toMatch(/laptop: +[0-9a-f]{64} same account: true/);
    expect(stdout).toContain(`verified device of ${jamiId}`);
  });
});
