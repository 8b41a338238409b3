import createDebug from "debug";
import { onAbort, type AbortOptions } from "jami-core";
import { createSocket, type Socket } from "node:dgram";
import { IceError } from "./errors.js";
import { familyOf } from "./host.js";
import { Attr, decodeStun, isStun, StunClass, StunMessage, StunMethod, type TransportAddress } from "./stun.js";
import { TurnAllocation, type TurnServer } from "./turn-allocation.js";

const log = createDebug("jami:ice:turn");

const UDP_TRANSPORT = 17;
/** RFC 8489 §6.2.1 over UDP: RTO 500 ms doubling, 7 transmissions. */
const RTO_MS = 500;
const TRANSMISSIONS = 7;
/**
 * Once closed, the release (Refresh, lifetime 0) is a courtesy — the allocation expires by itself: two transmissions
 * (1.5 s) at most, so closing lets go of the socket promptly even when the server is gone (with seven it stayed open
 * 31.5 s, keeping a closed agent's process alive).
 */
const RELEASE_TRANSMISSIONS = 2;

/**
 * A TURN allocation with a UDP relay (RFC 8656): datagrams to and from peers at `relayed` travel between us and
 * the server in Send and Data indications. Peers must be permitted (`permit`) before their datagrams pass.
 */
export class TurnUdpAllocation extends TurnAllocation<{ data: [Uint8Array, TransportAddress] }> {
  private readonly waiting = new Map<string, (m: StunMessage) => void>();

  private constructor(
    server: TurnServer,
    private readonly socket: Socket,
  ) {
    super(server);
    socket.on("message", (packet: Buffer) => this.onPacket(new Uint8Array(packet)));
  }

  static async allocate(server: TurnServer, options: AbortOptions = {}): Promise<TurnUdpAllocation> {
    const { signal } = options;
    const socket = createSocket(familyOf(server.host) === 6 ? "udp6" : "udp4");
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.connect(server.port, server.host, () => (socket.off("error", reject), resolve()));
    });
    socket.on("error", (e) => log("TURN socket: %s", e.message));
    const allocation = new TurnUdpAllocation(server, socket);
    const stopListening = onAbort(signal, () => allocation.close());
    try {
      await allocation.allocateRelay(UDP_TRANSPORT);
      return allocation;
    } catch (e) {
      allocation.close();
      throw signal?.aborted ? new IceError("ABORTED", "TURN allocation aborted") : e;
    } finally {
      stopListening();
    }
  }

  protected release(): void {
    this.socket.close();
  }

  /** A datagram to a peer, relayed from our relayed address (a Send indication). */
  send(data: Uint8Array, to: TransportAddress): void {
    if (this.closed) throw new IceError("CLOSED", "TURN allocation closed");
    const indication = new StunMessage(StunMethod.Send, StunClass.Indication, StunMessage.request(StunMethod.Send).transactionId)
      .addXorAddress(Attr.XorPeerAddress, to)
      .add(Attr.Data, data);
    this.socket.send(indication.encode({ fingerprint: false }));
  }

  protected transact(message: StunMessage, bytes: Uint8Array): Promise<StunMessage> {
    const id = Buffer.from(message.transactionId).toString("hex");
    return new Promise((resolve, reject) => {
      let sent = 0;
      let timer: NodeJS.Timeout | undefined;
      const send = (): void => {
        if (sent++ >= (this.closed ? RELEASE_TRANSMISSIONS : TRANSMISSIONS) || (this.closed && message.method !== StunMethod.Refresh)) {
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
