import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const script = join(__dirname, "..", "test-summary.cjs");
const dir = mkdtempSync(join(tmpdir(), "summary-"));

function results(name: string, r: { passed: number; failed: number; pending?: number; success?: boolean; suites?: unknown[] }): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      numPassedTests: r.passed,
      numFailedTests: r.failed,
      numPendingTests: r.pending ?? 0,
      success: r.success ?? r.failed === 0,
      testResults: r.suites ?? [],
    }),
  );
  return file;
}

function summary(...args: string[]): { last: string; status: number | null; out: string } {
  const run = spawnSync(process.execPath, [script, ...args], { encoding: "utf8" });
  const lines = run.stdout.trim().split("\n");
  return { last: lines[lines.length - 1]!, status: run.status, out: run.stdout + run.stderr };
}

describe("scripts/test-summary.cjs (CI's closing line)", () => {
  it("adds both halves; the last line is exactly 'N passed, N failed'; skipped tests are shown", () => {
    const r = summary(`unit=${results("u", { passed: 10, failed: 0, pending: 2 })}:0`, `interop=${results("i", { passed: 5, failed: 0 })}:0`);
    expect(r.last).toBe("15 passed, 0 failed");
    expect(r.out).toContain("unit: 10 passed, 0 failed, 2 skipped");
    expect(r.status).toBe(0);
  });

  it("a half that ran no test fails the run", () => {
    const r = summary(`unit=${results("u2", { passed: 10, failed: 0 })}:0`, `interop=${results("i2", { passed: 0, failed: 0, pending: 3, success: false })}:1`);
    expect(r.last).toBe("10 passed, 1 failed");
    expect(r.status).toBe(1);
  });

  it("a missing half fails the run", () => {
    const r = summary(`unit=${results("u3", { passed: 10, failed: 0 })}:0`, `interop=${join(dir, "absent.json")}:1`);
    expect(r.last).toBe("10 passed, 1 failed");
    expect(r.status).toBe(1);
  });

  it("jest's own failure with every test passed (e.g. an open handle) fails the run, once", () => {
    const r = summary(`unit=${results("u4", { passed: 10, failed: 0 })}:1`);
    expect(r.last).toBe("10 passed, 1 failed");
    const failing = summary(`unit=${results("u5", { passed: 9, failed: 1 })}:1`);
    expect(failing.last).toBe("9 passed, 1 failed");
  });

  it("a check that is not jest (lint) counts as one passed or one failed", () => {
    expect(summary(`unit=${results("u6", { passed: 3, failed: 0 })}:0`, "check:lint=0").last).toBe("4 passed, 0 failed");
    const r = summary(`unit=${results("u7", { passed: 3, failed: 0 })}:0`, "check:lint=1");
    expect(r.last).toBe("3 passed, 1 failed");
    expect(r.status).toBe(1);
  });
});
