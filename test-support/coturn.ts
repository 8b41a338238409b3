import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stunMappedAddress, type TurnServer } from "jami-ice";

/** coturn (`turnserver`) on 127.0.0.1 with one long-term user, TCP (RFC 6062) and UDP relays, loopback peers allowed. */
export class Coturn {
  private constructor(
    private readonly child: ChildProcess,
    readonly server: TurnServer,
    readonly logFile: string,
  ) {}

  static async start(): Promise<Coturn> {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
    const { port } = probe.address() as AddressInfo;
    await new Promise((r) => probe.close(r));
    const dir = mkdtempSync(join(tmpdir(), "coturn-"));
    const logFile = join(dir, "turn.log");
    const child = spawn("turnserver", [
      "-n",
      "--no-cli",
      "--listening-ip=127.0.0.1",
      "--relay-ip=127.0.0.1",
      `--listening-port=${port}`,
      "--min-port=49400",
      "--max-port=49600",
      "--lt-cred-mech",
      "--user=jami:secret",
      "--realm=jami.test",
      "--allow-loopback-peers",
      "--no-tls",
      "--no-dtls",
      `--log-file=${logFile}`,
      "--simple-log",
      `--pidfile=${join(dir, "turn.pid")}`,
    ]);
    const coturn = new Coturn(child, { host: "127.0.0.1", port, username: "jami", password: "secret" }, logFile);
    // Ready once it answers a STUN Binding.
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await stunMappedAddress({ host: "127.0.0.1", port });
        return coturn;
      } catch (e) {
        if (Date.now() > deadline) {
          child.kill();
          throw e;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  stop(): void {
    this.child.kill();
  }
}
