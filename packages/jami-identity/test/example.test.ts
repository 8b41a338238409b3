import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

const REPO = resolve(__dirname, "../../..");

describe("examples/identity-basics (the README example)", () => {
  it("runs and shows one account on two verified devices", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", "examples/identity-basics/index.ts"], { cwd: REPO, encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const jamiId = /Jami ID: ([0-9a-f]{40})/.exec(result.stdout)?.[1];
    expect(jamiId).toBeDefined();
    expect(result.stdout).toContain("reloaded: true");
    expect(result.stdout).toMatch(/laptop: +[0-9a-f]{64} same account: true/);
    expect(result.stdout).toContain(`verified device of ${jamiId}`);
  });
});
