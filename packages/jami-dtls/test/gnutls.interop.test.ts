/**
 * TLS and DTLS with GnuTLS using Jami's priority strings (what jamid's TLS stack is): gnutls-serv accepts our
 * client, gnutls-cli connects to our server; certificates both ways, the real device chains jamid made (shared
 * vectors).
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readFileSync } from "node:fs";
import { createConnection, createServer, type AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { dtlsLink, secureLink } from "jami-dtls";
import { Certificate, PrivateKey, type DeviceIdentity } from "jami-identity";
import { UdpTransport } from "./helpers.js";

jest.setTimeout(60_000);
const VECTORS = resolve(__dirname, "../../../../shared/vectors/jami");
// jami-daemon's tls_session.cpp: the certificate priority string for DTLS sessions.
const DTLS_PRIORITY = "SECURE192:-VERS-TLS-ALL:+VERS-DTLS-ALL:-RSA:%SERVER_PRECEDENCE:%SAFE_RENEGOTIATION";
const DTLS_SESSION = "(DTLS1.2-X.509)-(ECDHE-SECP384R1)-(RSA-PSS-RSAE-SHA384)-(AES-256-GCM)";
const PRIORITY = "SECURE192:-RSA:-GROUP-FFDHE4096:-GROUP-FFDHE6144:-GROUP-FFDHE8192:+GROUP-X25519:%SERVER_PRECEDENCE:%SAFE_RENEGOTIATION";
// jamid logs this session as "(TLS1.3)-(ECDHE-SECP384R1)-(RSA-PSS-RSAE-SHA384)-(AES-256-GCM)"; gnutls-cli adds the certificate type.
const JAMI_SESSION = "(TLS1.3-X.509)-(ECDHE-SECP384R1)-(RSA-PSS-RSAE-SHA384)-(AES-256-GCM)";

function identity(name: string): DeviceIdentity {
  const [certificate, ...issuers] = Certificate.chainFromPem(readFileSync(join(VECTORS, `${name}.device-chain.pem`), "utf8"));
  return { key: PrivateKey.fromPem(readFileSync(join(VECTORS, `${name}.device.key.pem`), "utf8")), certificate: certificate!, issuers };
}

/** gnutls-serv prints "… listening on IPv4 0.0.0.0 port N..." before it binds, and "done" once it listens. */
const LISTENING = /listening on IPv4 [^\n]*done/i;

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
      "--echo",
      "-p",
      String(port),
      "--priority",
      PRIORITY,
      "--require-client-cert",
      "--verify-client-cert",
      "--x509cafile",
      join(VECTORS, "bob.device-chain.pem"),
      "--x509certfile",
      join(VECTORS, "alice.device-chain.pem"),
      "--x509keyfile",
      join(VECTORS, "alice.device.key.pem"),
    ]);
    try {
      await waitOutput(server, LISTENING);
      const socket = createConnection({ host: "127.0.0.1", port });
      await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
      const link = await secureLink({
        transport: socket,
        role: "client",
        identity: bob,
        verifyPeer: (p) => void expect(p.jamiId.toString()).toBe(alice.issuers[0]!.jamiId.toString()),
      });
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
      server.once("connection", (socket) =>
        secureLink({ transport: socket, role: "server", identity: alice, verifyPeer: () => undefined }).then(resolveLink, reject),
      ),
    );
    const client = spawn("gnutls-cli", [
      "-p",
      String(port),
      "--priority",
      PRIORITY,
      "--insecure",
      "--x509certfile",
      join(VECTORS, "bob.device-chain.pem"),
      "--x509keyfile",
      join(VECTORS, "bob.device.key.pem"),
      "127.0.0.1",
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

describe("DTLS 1.2 with GnuTLS and Jami's DTLS priority string", () => {
  const alice = identity("alice");
  const bob = identity("bob");
  const chain = (name: string): string => join(VECTORS, `${name}.device-chain.pem`);
  const key = (name: string): string => join(VECTORS, `${name}.device.key.pem`);

  it("gnutls-serv --udp (certificate required) accepts our client and echoes through the link", async () => {
    const port = await freePort();
    const server = spawn("gnutls-serv", [
      "--udp",
      "--echo",
      "-p",
      String(port),
      "--priority",
      DTLS_PRIORITY,
      "--require-client-cert",
      "--verify-client-cert",
      "--x509cafile",
      chain("bob"),
      "--x509certfile",
      chain("alice"),
      "--x509keyfile",
      key("alice"),
    ]);
    const log = waitOutput(server, /Processing \d+ bytes command/);
    try {
      await waitOutput(server, LISTENING);
      const transport = await UdpTransport.open(port);
      const link = await dtlsLink({
        transport,
        role: "client",
        identity: bob,
        verifyPeer: (p) => void expect(p.jamiId.toString()).toBe(alice.issuers[0]!.jamiId.toString()),
      });
      expect(link.cipher).toBe("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
      expect(link.group).toBe("secp384r1");
      expect(link.signatureScheme).toBe("RSA-PSS-RSAE-SHA384");
      expect(link.extendedMasterSecret).toBe(true);
      expect(link.peerChain).toHaveLength(3);
      const echoed = new Promise<string>((r) => link.once("message", (m) => r(Buffer.from(m).toString())));
      link.send(Buffer.from("ping over DTLS\n"));
      expect(await echoed).toBe("ping over DTLS\n");
      await log;
      link.close();
    } finally {
      server.kill();
    }
  });

  it("gnutls-cli --udp with a client certificate connects to our server; data both ways; our close_notify is seen", async () => {
    const transport = await UdpTransport.listen();
    const linked = dtlsLink({ transport, role: "server", identity: alice, verifyPeer: () => undefined });
    const client = spawn("gnutls-cli", [
      "--udp",
      "-p",
      String(transport.port),
      "--priority",
      DTLS_PRIORITY,
      "--insecure",
      "--x509certfile",
      chain("bob"),
      "--x509keyfile",
      key("bob"),
      "127.0.0.1",
    ]);
    try {
      const out = await waitOutput(client, /Handshake was completed/);
      expect(out).toContain(`Description: ${DTLS_SESSION}`);
      expect(out).toMatch(/Options: .*extended master secret, safe renegotiation/);
      const link = await linked;
      expect(link.peer.jamiId.toString()).toBe(bob.issuers[0]!.jamiId.toString());
      expect(link.peerChain).toHaveLength(3);
      const fromCli = new Promise<string>((r) => link.once("message", (m) => r(Buffer.from(m).toString())));
      client.stdin.write("hello from gnutls-cli\n");
      expect(await fromCli).toBe("hello from gnutls-cli\n");
      const atCli = waitOutput(client, /hello back/);
      link.send(Buffer.from("hello back\n"));
      await atCli;
      const closed = waitOutput(client, /Peer has closed the GnuTLS connection/);
      link.close();
      await closed;
    } finally {
      client.kill();
    }
  });

  it("gnutls-cli --udp without a certificate is refused (handshake_failure alert) and our server says PEER_REFUSED", async () => {
    const transport = await UdpTransport.listen();
    const linked = dtlsLink({ transport, role: "server", identity: alice, verifyPeer: () => undefined });
    linked.catch(() => undefined);
    const client = spawn("gnutls-cli", ["--udp", "-p", String(transport.port), "--priority", DTLS_PRIORITY, "--insecure", "127.0.0.1"]);
    try {
      await expect(linked).rejects.toMatchObject({ code: "PEER_REFUSED", message: expect.stringContaining("no certificate") });
      expect(await waitOutput(client, /Received alert \[\d+\]: .*\n/)).toContain("Received alert [40]: Handshake failed");
    } finally {
      client.kill();
      transport.close();
    }
  });
});
