import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { JsonLinesProcess } from "./opendht.js";
import { JAMIH, JamidHarness, type JamidAccount } from "./jamid-harness.js";

const REPO = resolve(__dirname, "..");

/**
 * An account of ours (`jami-account-probe.ts`, driven by JSON lines) inside the harness's namespace, started with
 * the harness's DHT as bootstrap; `args` are extra probe arguments (an archive to import).
 */
export function spawnProbe(harness: JamidHarness, netns: string, dhtPort: number, ...args: string[]): JsonLinesProcess {
  return new JsonLinesProcess(
    spawn(JAMIH, ["exec", "--", process.execPath, "--import", "tsx", "test-support/jami-account-probe.ts", `127.0.0.1:${dhtPort}`, ...args], {
      cwd: REPO,
      env: { ...process.env, JAMIH_ROOT: harness.root, JAMIH_NETNS: netns },
    }),
  );
}

/**
 * A harness with one jamid account ("j") and one probe account of ours, ready when the probe sees jamid's device
 * on the DHT (set-up waits on that, not on a fixed delay). `jamidArgs`: options of jamid's `jamih start`.
 */
export async function jamidAndProbe(
  netns: string,
  dhtPort: number,
  options: { jamidArgs?: string[] } = {},
): Promise<{ harness: JamidHarness; jamid: JamidAccount; us: JsonLinesProcess; me: Record<string, unknown> }> {
  const harness = await JamidHarness.start({ netns, dhtPort });
  await harness.startInstance("j", ...(options.jamidArgs ?? []));
  const jamid = await harness.createAccount("j", { alias: "jamid" });
  const us = spawnProbe(harness, netns, dhtPort);
  const me = await us.waitFor((e) => e.event === "ready" || e.event === "error", 60_000);
  if (me.event !== "ready") throw new Error(`probe: ${JSON.stringify(me)}`);
  us.child.stdin.write(JSON.stringify({ id: "setup-devices", cmd: "waitDevices", jamiId: jamid.jamiId }) + "\n");
  const seen = await us.waitFor((e) => e.id === "setup-devices", 70_000);
  if (!(seen.deviceIds as string[]).includes(jamid.deviceId!)) throw new Error(`jamid's device not found: ${JSON.stringify(seen)}`);
  return { harness, jamid, us, me };
}

let nextAskId = 0;
/** A probe command and its reply; an `error` reply (or none in time) fails with what the probe said. */
export async function askProbe(probe: JsonLinesProcess, cmd: Record<string, unknown>, timeoutMs = 120_000): Promise<Record<string, unknown>> {
  const id = `ask${++nextAskId}`;
  probe.child.stdin.write(JSON.stringify({ ...cmd, id }) + "\n");
  const reply = await probe.waitFor((e) => e.id === id, timeoutMs);
  if (reply.event !== "reply") throw new Error(`${String(cmd.cmd)}: ${JSON.stringify(reply)}`);
  return reply;
}
