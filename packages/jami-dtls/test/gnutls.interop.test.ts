/**
 * TLS with GnuTLS using Jami's priority string (what jamid's TLS stack is): gnutls-serv accepts our client,
 * gnutls-cli connects to our server; certificates both ways, the real device chains jamid made (shared vectors).
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readFileSync } from "node:fs";
import { createConnection, createServer, type AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { secureLink } from "jami-dtls";
import { Certificate, PrivateKey, type DeviceIdentity } from "jami-identity";

jest.setTimeout(60_000);
const VECTORS = resolve(__dirname, "../../../../shared/vectors/jami");
const PRIORITY = "SECURE192:-RSA:-GROUP-FFDHE4096:-GROUP-FFDHE6144:-GROUP-FFDHE8192:+GROUP-X25519:%SERVER_PRECEDENCE:%SAFE_RENEGOTIATION";
// jamid logs this session as "(TLS1.3)-(ECDHE-SECP384R1)-(RSA-PSS-RSAE-SHA384)-(AES-256-GCM)"; gnutls-cli adds the certificate type.
const JAMI_SESSION = "(TLS1.3-X.509)-(ECDHE-SECP384R1)-(RSA-PSS-RSAE-SHA384)-(AES-256-GCM)";

function identity(name: string): DeviceIdentity {
  const [certificate, ...issuers] = Certificate.chainFromPem(readFileSync(join(VECTORS, `${name}.device-chain.pem`), "utf8"));
  return { key: PrivateKey.fromPem(readFileSync(join(VECTORS, `${name}.device.key.pem`), "utf8")), certificate: certificate!, issuers };
}

function waitOutput(child: ChildProcessWithoutNullStreams, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  let seen = "";
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in: ${seen.slice(-2000)}`)), timeoutMs);
    const on = (d: Buffer): void => {
      seen += d.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolvePromise(seen);
      }
    };
    child.stdout.on("data", on);
    child.stderr.on("data", on);
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe("TLS with GnuTLS and Jami's priority string", () => {
  const alice = identity("alice");
  const bob = identity("bob");

  it("gnutls-serv (certificate required) accepts our client; TLS 1.3, P-384, RSA-PSS-SHA384, AES-256-GCM", async () => {
    const port = await freePort();
    const server = spawn("gnutls-serv", [
      "--echo", "-p", String(port), "--priority", PRIORITY, "--require-client-cert", "--verify-client-cert",
      "--x509cafile", join(VECTORS, "bob.device-chain.pem"),
      "--x509certfile", join(VECTORS, "alice.device-chain.pem"), "--x509keyfile", join(VECTORS, "alice.device.key.pem"),
    ]);
    try {
      await waitOutput(server, /listening|Echo Server ready/i);
      const socket = createConnection({ host: "127.0.0.1", port });
      await new Promise((r) => socket.once("connect", r));
      const link = await secureLink({ transport: socket, role: "client", identity: bob, verifyPeer: (p) => void expect(p.jamiId.toString()).toBe(alice.issuers[0]!.jamiId.toString()) });
      expect(link.protocol).toBe("TLSv1.3");
      expect(link.cipher).toBe("TLS_AES_256_GCM_SHA384");
      const echoed = new Promise<string>((r) => link.socket.once("data", (d: Buffer) => r(d.toString())));
      link.socket.write("ping over GnuTLS\n");
      expect(await echoed).toBe("ping over GnuTLS\n");
      link.socket.destroy();
    } finally {
      server.kill();
    }
  });

  it("gnutls-cli with a client certificate connects to our server; we verify its chain", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as AddressInfo).port;
    const linked = new Promise<Awaited<ReturnType<typeof secureLink>>>((resolveLink, reject) =>
      server.once("connection", (socket) => secureLink({ transport: socket, role: "server", identity: alice, verifyPeer: () => undefined }).then(resolveLink, reject)),
    );
    const client = spawn("gnutls-cli", [
      "-p", String(port), "--priority", PRIORITY, "--insecure",
      "--x509certfile", join(VECTORS, "bob.device-chain.pem"), "--x509keyfile", join(VECTORS, "bob.device.key.pem"), "127.0.0.1",
    ]);
    try {
      const out = await waitOutput(client, /Description: .*\n/);
      expect(out).toContain(`Description: ${JAMI_SESSION}`);
      const link = await linked;
      expect(link.peer.jamiId.toString()).toBe(bob.issuers[0]!.jamiId.toString());
      expect(link.peerChain).toHaveLength(3);
      const fromCli = new Promise<string>((r) => link.socket.once("data", (d: Buffer) => r(d.toString())));
      client.stdin.write("hello from gnutls-cli\n");
      expect(await fromCli).toBe("hello from gnutls-cli\n");
      link.socket.destroy();
    } finally {
      client.kill();
      server.close();
    }
  });
});
