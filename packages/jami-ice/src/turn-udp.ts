import createDebug from "debug";
import { createSocket, type Socket } from "node:dgram";
import { EventEmitter } from "node:events";
import { IceError } from "./errors.js";
import { Attr, decodeStun, isStun, StunClass, StunMessage, StunMethod, type TransportAddress } from "./stun.js";
import { createPermissions, LIFETIME_S, TurnAuth, type TurnServer } from "./turn.js";

const log = createDebug("jami:ice:turn");

const UDP_TRANSPORT = 17;
/** RFC 8489 §6.2.1 over UDP: RTO 500 ms doubling, 7 transmissions. */
const RTO_MS = 500;
const TRANSMISSIONS = 7;

/**
 * A TURN allocation with a UDP relay (RFC 8656): datagrams to and from peers at `relayed` travel between us and
 * the server in Send and Data indications. Peers must be permitted (`permit`) before their datagrams pass.
 */
export class TurnUdpAllocation extends EventEmitter<{ data: [Uint8Array, TransportAddress] }> {
  private readonly auth: TurnAuth;
  private readonly waiting = new Map<string, (m: StunMessage) => void>();
  private readonly permitted = new Set<string>();
  private refreshTimer?: NodeJS.Timeout;
  private closed = false;
  relayed!: TransportAddress;
  mapped?: TransportAddress;

  private constructor(
    private readonly server: TurnServer,
    private readonly socket: Socket,
  ) {
    super();
    this.auth = new TurnAuth(server);
    socket.on("message", (packet: Buffer) => this.onPacket(new Uint8Array(packet)));
  }

  static async allocate(server: TurnServer, signal?: AbortSignal): Promise<TurnUdpAllocation> {
    const socket = createSocket(server.host.includes(":") ? "udp6" : "udp4");
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.connect(server.port, server.host, () => (socket.off("error", reject), resolve()));
    });
    socket.on("error", (e) => log("TURN socket: %s", e.message));
    const allocation = new TurnUdpAllocation(server, socket);
    const onAbort = (): void => allocation.close();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const answer = await allocation.authenticated(() =>
        StunMessage.request(StunMethod.Allocate).addU32(Attr.RequestedTransport, UDP_TRANSPORT << 24).addU32(Attr.Lifetime, LIFETIME_S),
      );
      const relayed = answer.xorAddress(Attr.XorRelayedAddress);
      if (!relayed) throw new IceError("TURN_FAILED", "the TURN server gave no relayed address");
      allocation.relayed = relayed;
      allocation.mapped = answer.xorAddress(Attr.XorMappedAddress);
      const lifetime = answer.u32(Attr.Lifetime) ?? LIFETIME_S;
      allocation.refreshTimer = setInterval(() => void allocation.refresh(lifetime), Math.max(30, lifetime - 60) * 1000);
      allocation.refreshTimer.unref();
      log("allocated UDP relay %s:%d on %s:%d", relayed.address, relayed.port, server.host, server.port);
      return allocation;
    } catch (e) {
      allocation.close();
      throw signal?.aborted ? new IceError("ABORTED", "TURN allocation aborted") : e;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Lets these peer addresses send to us through the relay (permissions last 5 minutes; refreshed with the allocation). */
  async permit(addresses: string[]): Promise<void> {
    const fresh = addresses.filter((a) => !this.permitted.has(a));
    await createPermissions(fresh, this.relayed, (build) => this.authenticated(build));
    for (const a of fresh) this.permitted.add(a);
  }

  /** A datagram to a peer, relayed from our relayed address (a Send indication). */
  send(data: Uint8Array, to: TransportAddress): void {
    if (this.closed) throw new IceError("CLOSED", "TURN allocation closed");
    const indication = new StunMessage(StunMethod.Send, StunClass.Indication, StunMessage.request(StunMethod.Send).transactionId)
      .addXorAddress(Attr.XorPeerAddress, to)
      .add(Attr.Data, data);
    this.socket.send(indication.encode({ fingerprint: false }));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.refreshTimer);
    const release = this.relayed
      ? this.authenticated(() => StunMessage.request(StunMethod.Refresh).addU32(Attr.Lifetime, 0)).catch(() => undefined)
      : Promise.resolve();
    void release.finally(() => this.socket.close());
  }

  private async refresh(lifetime: number): Promise<void> {
    try {
      await this.authenticated(() => StunMessage.request(StunMethod.Refresh).addU32(Attr.Lifetime, lifetime));
      await createPermissions([...this.permitted], this.relayed, (build) => this.authenticated(build));
    } catch (e) {
      log("refresh failed: %s", (e as Error).message);
    }
  }

  private authenticated(build: () => StunMessage): Promise<StunMessage> {
    return this.auth.request(build, (message, bytes) => this.transact(message, bytes));
  }

  private transact(message: StunMessage, bytes: Uint8Array): Promise<StunMessage> {
    const id = Buffer.from(message.transactionId).toString("hex");
    return new Promise((resolve, reject) => {
      let sent = 0;
      let timer: NodeJS.Timeout | undefined;
      const send = (): void => {
        if (sent++ >= TRANSMISSIONS || (this.closed && message.method !== StunMethod.Refresh)) {
          this.waiting.delete(id);
          return reject(new IceError("TURN_FAILED", `no answer from the TURN server ${this.server.host}:${this.server.port}`));
        }
        this.socket.send(bytes);
        timer = setTimeout(send, RTO_MS * 2 ** (sent - 1));
        timer.unref();
      };
      this.waiting.set(id, (m) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(m);
      });
      send();
    });
  }

  private onPacket(packet: Uint8Array): void {
    if (!isStun(packet)) return;
    let m: StunMessage;
    try {
      m = decodeStun(packet);
    } catch {
      return;
    }
    if (m.cls === StunClass.Indication && m.method === StunMethod.Data) {
      const from = m.xorAddress(Attr.XorPeerAddress);
      const data = m.get(Attr.Data);
      if (from && data) this.emit("data", data, from);
      return;
    }
    if (m.cls === StunClass.Success || m.cls === StunClass.Error) this.waiting.get(Buffer.from(m.transactionId).toString("hex"))?.(m);
  }
}
