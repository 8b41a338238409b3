import type { FileProgress } from "../features/conversation-files.js";
import { printLine, type CliIo } from "./output.js";

const BAR = 24;

function megabytes(n: number): string {
  return (n / 1e6).toFixed(1);
}

/** One line of a terminal progress bar: `report.bin  42% [##########--------------]  12.3/29.0 MB  5.1 MB/s`. */
export function progressBar(p: FileProgress, name: string): string {
  const fraction = p.total > 0 ? Math.min(1, p.bytes / p.total) : 1;
  const filled = Math.round(fraction * BAR);
  const percent = String(Math.floor(fraction * 100)).padStart(3);
  return `${name} ${percent}% [${"#".repeat(filled)}${"-".repeat(BAR - filled)}] ${megabytes(p.bytes)}/${megabytes(p.total)} MB ${megabytes(p.rate)} MB/s`;
}

/**
 * Shows transfer progress: a bar redrawn on stderr when it is a terminal, else JSON lines on stdout (one per 1 %
 * of a file and the last: enough to draw a bar elsewhere, not a flood). `direction` picks the transfers shown.
 */
export function progressPrinter(
  io: CliIo,
  direction: FileProgress["direction"],
  name: (p: FileProgress) => string = (p) => p.fileId.slice(0, 12),
): (p: FileProgress) => void {
  const last = new Map<string, number>();
  return (p) => {
    if (p.direction !== direction) return;
    const key = `${p.fileId}/${p.peer ?? ""}`;
    const done = p.bytes >= p.total;
    if (!done && p.bytes - (last.get(key) ?? -Infinity) < p.total / 100) return;
    last.set(key, p.bytes);
    if (io.isTTY) io.stderr(`\r${progressBar(p, name(p))}${done ? "\n" : ""}`);
    else
      printLine(io, {
        event: "progress",
        direction: p.direction,
        fileId: p.fileId,
        bytes: p.bytes,
        total: p.total,
        rate: p.rate,
        ...(p.peer ? { peer: p.peer } : {}),
      });
  };
}
