import { runExample } from "../../../test-support/examples.js";

describe("examples/auto-accept-bot (the README example)", () => {
  it("accepts a visitor's trust request and sees it online", () => {
    const stdout = runExample("auto-accept-bot");
    const bot = /bot ([0-9a-f]{40}) is online/.exec(stdout)?.[1];
    expect(bot).toBeDefined();
    expect(stdout).toMatch(/request from [0-9a-f]{40}: accepting/);
    expect(stdout).toMatch(/[0-9a-f]{40} is online/);
    expect(stdout).toContain(`visitor's contacts: ${bot} confirmed=true`);
  });
});

describe("examples/device-link", () => {
  it("opens a channel over a device link and talks on it", () => {
    const stdout = runExample("device-link");
    expect(stdout).toMatch(/bob: [0-9a-f]{8}… opened "chat"/);
    expect(stdout).toContain("alice: bob heard: hi bob");
    expect(stdout).toContain("alice is linked with 1 device(s)");
  });
});

describe("examples/echo-bot (demo mode)", () => {
  it("accepts a visitor, joins the one-to-one and answers its message", () => {
    const stdout = runExample("echo-bot");
    expect(stdout).toMatch(/the bot accepted the visitor and joined their conversation [0-9a-f]{12}…/);
    expect(stdout).toContain("visitor: hello bot");
    expect(stdout).toContain("bot: echo: hello bot");
  });
});

describe("examples/file-bot (demo mode)", () => {
  it("answers !get with the file (downloaded and verified) and keeps a file it is sent", () => {
    const stdout = runExample("file-bot");
    expect(stdout).toContain("visitor: !get report.txt");
    expect(stdout).toContain('the visitor downloaded it: "the quarterly report\\n"');
    expect(stdout).toMatch(/the bot kept it as [0-9a-f]{8}-holiday\.jpg/);
  });
});
