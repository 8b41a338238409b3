import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { EventEmitter, once } from "node:events";
import { createServer, connect, type Socket as TcpSocket } from "node:net";
import type { DatagramTransport } from "jami-dtls";
import { certifyDevice, createAccountKeys, PrivateKey, type AccountKeys, type DeviceIdentity } from "jami-identity";
import { IceTcpAgent, type IceConnection } from "jami-ice";

export const BITS = 2048;

export async function newDevice(account?: AccountKeys, now?: Date): Promise<{ account: AccountKeys; device: DeviceIdentity }> {
  const keys = account ?? (await createAccountKeys({ bits: BITS }));
  return { account: keys, device: certifyDevice(keys, await PrivateKey.generate(BITS), now) };
}

/** Two ICE-TCP endpoints on 127.0.0.1: [controlled (TLS server in Jami), controlling (TLS client)]. */
export async function icePair(): Promise<[IceConnection, IceConnection]> {
  const [a, b] = await Promise.all([
    IceTcpAgent.create({ addresses: ["127.0.0.1"], controlling: false }),
    IceTcpAgent.create({ addresses: ["127.0.0.1"], controlling: true }),
  ]);
  return Promise.all([a.connect(b.local), b.connect(a.local)]);
}

/** A UDP socket on 127.0.0.1 talking to one peer, as a DTLS transport (what `gnutls-serv --udp` is reached by). */
export class UdpTransport extends EventEmitter<{ message: [Uint8Array]; close: [] }> implements DatagramTransport {
  /** Every transport a test opened: `closeTransports()` (afterEach) closes those a failed handshake left open. */
  static readonly opened = new Set<UdpTransport>();
  private closed = false;

  private constructor(readonly socket: Socket) {
    super();
    socket.on("message", (m: Buffer) => this.emit("message", new Uint8Array(m)));
    UdpTransport.opened.add(this);
  }

  static async open(port?: number): Promise<UdpTransport> {
    const socket = createSocket("udp4");
    await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
    if (port !== undefined) await new Promise<void>((r) => socket.connect(port, "127.0.0.1", () => r()));
    return new UdpTransport(socket);
  }

  /** Bound on 127.0.0.1 and answering whoever sends first (a DTLS server waiting for its client). */
  static async listen(): Promise<UdpTransport> {
    const transport = await UdpTransport.open();
    const { socket } = transport;
    const first = (m: Buffer, from: RemoteInfo): void => {
      socket.off("message", first);
      socket.removeAllListeners("message");
      socket.connect(from.port, from.address, () => {
        socket.on("message", (d: Buffer) => transport.emit("message", new Uint8Array(d)));
        transport.emit("message", new Uint8Array(m));
      });
    };
    socket.removeAllListeners("message");
    socket.on("message", first);
    return transport;
  }

  get port(): number {
    return this.socket.address().port;
  }

  connect(port: number): Promise<void> {
    return new Promise((r) => this.socket.connect(port, "127.0.0.1", () => r()));
  }

  send(datagram: Uint8Array): void {
    this.socket.send(datagram);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    UdpTransport.opened.delete(this);
    this.socket.close();
    this.emit("close");
  }
}

/** A failed `dtlsLink` leaves its transport to the caller: tests close what is left after each test. */
export function closeTransports(): void {
  for (const t of [...UdpTransport.opened]) t.close();
}

/** Two UDP transports on 127.0.0.1 connected to each other. */
export async function udpPair(): Promise<[UdpTransport, UdpTransport]> {
  const [a, b] = await Promise.all([UdpTransport.open(), UdpTransport.open()]);
  await Promise.all([a.connect(b.port), b.connect(a.port)]);
  return [a, b];
}

/** Wraps a transport so `drop(n)` decides, for the n-th datagram sent, whether the network loses it. */
export function lossy(inner: UdpTransport, drop: (n: number, datagram: Uint8Array) => boolean): DatagramTransport {
  let n = 0;
  return {
    send: (d) => void (drop(n++, d) || inner.send(d)),
    on: (event: "message" | "close", listener: never) => inner.on(event, listener),
    off: (event: "message" | "close", listener: never) => inner.off(event, listener),
    close: () => inner.close(),
  } as DatagramTransport;
}

/** Two ends of a TCP connection on 127.0.0.1 (a multiplexer's stream and a raw peer). */
export async function tcpPair(): Promise<[TcpSocket, TcpSocket]> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  const accepted = once(server, "connection") as Promise<[TcpSocket]>;
  const client = connect(port, "127.0.0.1");
  const [[ours]] = await Promise.all([accepted, once(client, "connect")]);
  server.close();
  return [ours, client];
}
