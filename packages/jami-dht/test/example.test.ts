import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

const REPO = resolve(__dirname, "../../..");

describe("examples/dht-basics (the README example)", () => {
  it("runs: plain, listened, signed, encrypted and proxied values", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", "examples/dht-basics/index.ts"], { cwd: REPO, encoding: "utf8", timeout: 60_000 });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("bob got: hello, DHT");
    expect(result.stdout).toContain("bob heard: breaking");
    expect(result.stdout).toMatch(/signed value from [0-9a-f]{40}: signed by alice \(verified\)/);
    expect(result.stdout).toContain("bob decrypts: for bob only");
    expect(result.stdout).toContain("others see: <encrypted>");
    expect(result.stdout).toContain("alice reads: posted over HTTP");
  });
});
