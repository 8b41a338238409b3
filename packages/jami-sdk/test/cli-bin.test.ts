import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const pkgDir = join(__dirname, "..");

describe("the jami bin", () => {
  it("points to a committed file (npm links it at install time, before any build) that runs the CLI", async () => {
    const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as { bin: Record<string, string>; files: string[] };
    expect(pkg.bin.jami).toBe("./bin/jami.js");
    expect(pkg.files).toContain("bin");
    expect(existsSync(join(pkgDir, pkg.bin.jami!))).toBe(true);
    const { stdout } = await promisify(execFile)(process.execPath, [join(pkgDir, pkg.bin.jami!), "--help"]);
    expect(stdout).toContain("jami account inspect --archive F");
  });
});
