import type { FileProgress } from "../src/features/conversation-files.js";
import { progressBar, progressPrinter } from "../src/cli/progress.js";

const step = (bytes: number, direction: FileProgress["direction"] = "download"): FileProgress => ({
  conversationId: "c".repeat(40),
  fileId: "f".repeat(40) + "_1.bin",
  direction,
  bytes,
  total: 1000,
  rate: 2_500_000,
});

describe("transfer progress in the CLI", () => {
  it("draws a bar", () => {
    expect(progressBar({ ...step(420), total: 1000 }, "report.bin")).toBe("report.bin  42% [##########--------------] 0.0/0.0 MB 2.5 MB/s");
    expect(progressBar({ ...step(29e6), total: 29e6 }, "x")).toBe("x 100% [########################] 29.0/29.0 MB 2.5 MB/s");
  });

  it("on a terminal: the bar redrawn on stderr, a newline once done; nothing on stdout", () => {
    const out: string[] = [];
    const err: string[] = [];
    const show = progressPrinter({ stdout: (t) => out.push(t), stderr: (t) => err.push(t), isTTY: true }, "download", () => "r.bin");
    for (const b of [100, 500, 1000]) show(step(b));
    expect(out).toEqual([]);
    expect(err).toHaveLength(3);
    expect(err.every((l) => l.startsWith("\rr.bin "))).toBe(true);
    expect(err[2]!.endsWith("\n")).toBe(true);
  });

  it("otherwise: JSON lines, at most one per 1 % and the last, only for the direction asked", () => {
    const out: string[] = [];
    const show = progressPrinter({ stdout: (t) => out.push(t), stderr: () => undefined }, "download");
    for (let b = 1; b <= 1000; b++) show(step(b));
    show(step(500, "upload"));
    const lines = out.map((l) => JSON.parse(l) as { bytes: number; direction: string; rate: number });
    expect(lines.length).toBeLessThanOrEqual(101);
    expect(lines.length).toBeGreaterThan(50);
    expect(lines[lines.length - 1]).toMatchObject({ event: "progress", direction: "download", bytes: 1000, total: 1000, rate: 2_500_000 });
    expect(lines.every((l) => l.direction === "download")).toBe(true);
  });
});
