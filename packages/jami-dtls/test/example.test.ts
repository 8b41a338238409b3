import { runExample } from "../../../test-support/examples.js";

describe("examples/dtls-link (the README example)", () => {
  it("links two devices over ICE-UDP with DTLS, each checking the other's chain, and talks", () => {
    const stdout = runExample("dtls-link");
    expect(stdout).toContain("DTLS up: DTLSv1.2, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, secp384r1, RSA-PSS-RSAE-SHA384");
    expect(stdout).toMatch(/alice sees device [0-9a-f]{16}… of [0-9a-f]{40}/);
    expect(stdout).toContain("bob: alice heard: hi alice");
    expect(stdout).toContain("closed (alice got bob's close_notify)");
  });
});
