import { runExample } from "../../../test-support/examples.js";

describe("examples/dht-basics (the README example)", () => {
  it("runs: plain, listened, signed, encrypted and proxied values", () => {
    const stdout = runExample("dht-basics");
    expect(stdout).toContain("bob got: hello, DHT");
    expect(stdout).toContain("bob heard: breaking");
    expect(stdout).toMatch(/signed value from [0-9a-f]{40}: signed by alice \(verified\)/);
    expect(stdout).toContain("bob decrypts: for bob only");
    expect(stdout).toContain("others see: <encrypted>");
    expect(stdout).toContain("alice reads: posted over HTTP");
  });
});
