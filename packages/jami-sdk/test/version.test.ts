import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SDK_VERSION, USER_AGENT } from "../src/version.js";

it("the version our SIP User-Agent says is package.json's", () => {
  const pkg = JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8")) as { version: string };
  expect(SDK_VERSION).toBe(pkg.version);
  expect(USER_AGENT).toBe(`jami-ts ${pkg.version} (${process.platform})`);
});
