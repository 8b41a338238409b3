import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

const REPO = resolve(__dirname, "../../..");

describe("examples/auto-accept-bot (the README example)", () => {
  it("accepts a visitor's trust request and sees it online", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", "examples/auto-accept-bot/index.ts"], { cwd: REPO, encoding: "utf8", timeout: 120_000 });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const bot = /bot ([0-9a-f]{40}) is online/.exec(result.stdout)?.[1];
    expect(bot).toBeDefined();
    expect(result.stdout).toMatch(/request from [0-9a-f]{40}: accepting/);
    expect(result.stdout).toMatch(/[0-9a-f]{40} is online/);
    expect(result.stdout).toContain(`visitor's contacts: ${bot} confirmed=true`);
  });
});

describe("examples/device-link", () => {
  it("opens a channel over a device link and talks on it", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", "examples/device-link/index.ts"], { cwd: REPO, encoding: "utf8", timeout: 120_000 });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/bob: [0-9a-f]{8}… opened "chat"/);
    expect(result.stdout).toContain("alice: bob heard: hi bob");
    expect(result.stdout).toContain("alice is linked with 1 device(s)");
  });
});
