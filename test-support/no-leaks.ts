/**
 * Loaded before every test file (jest `setupFilesAfterEnv`): a file that leaves a socket, server, child
 * process or timer keeping the event loop alive fails, naming what it left. jest then exits on its own
 * (there is no `forceExit`); a leak is a test failure, not a hang or a warning.
 */
const WATCHED = new Set(["TCPSocketWrap", "TCPServerWrap", "TCPWrap", "UDPWrap", "Timeout", "ProcessWrap", "PipeWrap", "TLSWrap", "FSEventWrap", "Immediate"]);
const GRACE_MS = 3000;

function counts(): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of process.getActiveResourcesInfo()) if (WATCHED.has(t)) m.set(t, (m.get(t) ?? 0) + 1);
  return m;
}

function extra(baseline: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [type, n] of counts()) if (n > (baseline.get(type) ?? 0)) out.push(`${n - (baseline.get(type) ?? 0)} ${type}`);
  return out;
}

let baseline = new Map<string, number>();
beforeAll(() => {
  baseline = counts();
});

afterAll(async () => {
  // Closing sockets and ending child processes takes a few turns of the event loop.
  const deadline = Date.now() + GRACE_MS;
  let left = extra(baseline);
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = extra(baseline);
  }
  if (left.length) throw new Error(`this test file left handles open after ${GRACE_MS} ms: ${left.join(", ")}`);
});
