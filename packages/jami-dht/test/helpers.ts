import { createSocket, type Socket } from "node:dgram";
import { DhtNode, InfoHash, parseMessage, type ParsedMessage } from "jami-dht";

export const LOOPBACK = { host: "127.0.0.1", port: 0, rateLimit: false } as const;

export function addressOf(node: DhtNode): string {
  return `127.0.0.1:${node.addresses[0]!.port}`;
}

/** n of our nodes on 127.0.0.1, bootstrapped from the first one. */
export async function loopbackNetwork(n: number): Promise<DhtNode[]> {
  const first = await DhtNode.create(LOOPBACK);
  const rest = await Promise.all(Array.from({ length: n - 1 }, () => DhtNode.create({ ...LOOPBACK, bootstrap: [addressOf(first)] })));
  await Promise.all(rest.map((node) => node.bootstrap().catch(() => {})));
  await Promise.all([first, ...rest].map((node) => node.findNodes(node.id)));
  return [first, ...rest];
}

export async function eventually(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A bare UDP socket that sends hand-made datagrams and collects what comes back. */
export class RawPeer {
  readonly id = InfoHash.random();
  readonly received: ParsedMessage[] = [];
  private constructor(readonly socket: Socket) {
    socket.on("message", (m) => {
      try {
        this.received.push(parseMessage(m));
      } catch {
        /* not for us */
      }
    });
  }

  static async open(): Promise<RawPeer> {
    const s = createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
    return new RawPeer(s);
  }

  send(bytes: Uint8Array, to: DhtNode): void {
    this.socket.send(bytes, to.addresses[0]!.port, "127.0.0.1");
  }

  async reply(tid: number, timeoutMs = 2000): Promise<ParsedMessage> {
    await eventually(() => this.received.some((m) => m.tid === tid), timeoutMs);
    return this.received.find((m) => m.tid === tid)!;
  }

  close(): Promise<void> {
    return new Promise((r) => this.socket.close(() => r()));
  }
}
