import { createSocket, type Socket } from "node:dgram";
import { DhtError } from "./errors.js";
import { socketAddress, type Family, type SocketAddress } from "./node-entry.js";

/** How a node sends and receives datagrams: UDP sockets in production, anything in memory for tests. */
export interface DatagramTransport {
  /** The bound local endpoints, one per family. */
  readonly addresses: SocketAddress[];
  send(data: Uint8Array, to: SocketAddress): void;
  onDatagram(handler: (data: Uint8Array, from: SocketAddress) => void): void;
  close(): Promise<void>;
}

export interface UdpTransportOptions {
  /** IPv4 address to bind (default 0.0.0.0, as OpenDHT), or `false` for no IPv4 socket. */
  host4?: string | false;
  /** IPv6 address to bind, or `false` (the default) for no IPv6 socket. */
  host6?: string | false;
  /** Port for both sockets; 0 picks a free one (then the IPv6 socket reuses the IPv4 port when it can). */
  port?: number;
}

/** IPv4 and/or IPv6 UDP sockets: two independent DHTs sharing one node id, as OpenDHT runs them. */
export class UdpTransport implements DatagramTransport {
  private readonly sockets = new Map<Family, Socket>();
  private handler: (data: Uint8Array, from: SocketAddress) => void = () => {};
  addresses: SocketAddress[] = [];

  private constructor() {}

  static async bind(options: UdpTransportOptions = {}): Promise<UdpTransport> {
    const t = new UdpTransport();
    let port = options.port ?? 0;
    const wanted: [Family, string][] = [];
    if (options.host4 !== false) wanted.push([4, options.host4 ?? "0.0.0.0"]);
    if (options.host6) wanted.push([6, options.host6]);
    if (wanted.length === 0) throw new DhtError("INVALID_ARGUMENT", "no address family to bind");
    try {
      for (const [family, host] of wanted) {
        const socket = createSocket({ type: family === 4 ? "udp4" : "udp6", ipv6Only: family === 6 });
        await new Promise<void>((resolve, reject) => {
          socket.once("error", reject);
          socket.bind(port, host, () => {
            socket.off("error", reject);
            resolve();
          });
        });
        socket.on("error", () => {});
        socket.on("message", (msg, rinfo) => {
          let from: SocketAddress;
          try {
            from = socketAddress(rinfo.address.replace(/%.*$/, ""), rinfo.port);
          } catch {
            return;
          }
          t.handler(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength), from);
        });
        const local = socket.address();
        port = local.port;
        t.sockets.set(family, socket);
        t.addresses.push({ address: local.address, port: local.port, family });
      }
    } catch (cause) {
      await t.close();
      throw new DhtError("BIND_FAILED", `cannot bind UDP port ${port}: ${(cause as Error).message}`, { cause });
    }
    return t;
  }

  send(data: Uint8Array, to: SocketAddress): void {
    const socket = this.sockets.get(to.family);
    if (!socket) return;
    socket.send(data, to.port, to.address, () => {});
  }

  onDatagram(handler: (data: Uint8Array, from: SocketAddress) => void): void {
    this.handler = handler;
  }

  async close(): Promise<void> {
    const all = [...this.sockets.values()];
    this.sockets.clear();
    await Promise.all(all.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
