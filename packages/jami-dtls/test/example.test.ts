import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

const REPO = resolve(__dirname, "../../..");

describe("examples/dtls-link (the README example)", () => {
  it("links two devices over ICE-UDP with DTLS, each checking the other's chain, and talks", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", "examples/dtls-link/index.ts"], { cwd: REPO, encoding: "utf8", timeout: 120_000 });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("DTLS up: DTLSv1.2, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, secp384r1, RSA-PSS-RSAE-SHA384");
    expect(result.stdout).toMatch(/alice sees device [0-9a-f]{16}… of [0-9a-f]{40}/);
    expect(result.stdout).toContain("bob: alice heard: hi alice");
    expect(result.stdout).toContain("closed (alice got bob's close_notify)");
  });
});
