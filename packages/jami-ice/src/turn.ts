import createDebug from "debug";
import { onAbort, type AbortOptions } from "jami-core";
import { EventEmitter } from "node:events";
import { connect, type Socket } from "node:net";
import { IceError } from "./errors.js";
import { Attr, decodeStun, StunClass, StunMessage, StunMethod, type TransportAddress } from "./stun.js";
import { TurnAllocation, type StunServer, type TurnServer } from "./turn-allocation.js";

export type { StunServer, TurnServer } from "./turn-allocation.js";

const log = createDebug("jami:ice:turn");

const TCP_TRANSPORT = 6;
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * One TCP connection to a STUN/TURN server carrying STUN messages (RFC 8489 §6.2.2: back to back, no RFC 4571
 * framing, each one's length from its header). A data connection stops reading STUN after its ConnectionBind
 * answer: what follows is the peer's bytes (`handOff`).
 */
class ServerConnection {
  private buffered: Uint8Array = new Uint8Array(0);
  private readonly pending = new Map<string, (m: StunMessage) => void>();
  private handOffAfter?: string;
  private readonly onData = (chunk: Buffer): void => this.read(chunk);
  readonly indications = new EventEmitter<{ indication: [StunMessage] }>();

  private constructor(readonly socket: Socket) {
    socket.on("data", this.onData);
    socket.on("error", () => undefined);
  }

  private read(chunk: Uint8Array): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    while (this.buffered.length >= 20) {
      const length = 20 + ((this.buffered[2]! << 8) | this.buffered[3]!);
      if (this.buffered.length < length) return;
      const packet = Uint8Array.from(this.buffered.subarray(0, length));
      this.buffered = this.buffered.subarray(length);
      let m: StunMessage;
      try {
        m = decodeStun(packet);
      } catch {
        continue;
      }
      if (m.cls === StunClass.Indication) {
        this.indications.emit("indication", m);
        continue;
      }
      const key = Buffer.from(m.transactionId).toString("hex");
      if (key === this.handOffAfter) {
        // The rest belongs to the peer: stop reading, put it back for the next reader.
        this.socket.off("data", this.onData);
        this.socket.pause();
        if (this.buffered.length) this.socket.unshift(Buffer.from(this.buffered));
        this.buffered = new Uint8Array(0);
      }
      this.pending.get(key)?.(m);
      if (key === this.handOffAfter) return;
    }
  }

  /** The answer to this request is the last STUN message read on this connection. */
  handOff(message: StunMessage): void {
    this.handOffAfter = Buffer.from(message.transactionId).toString("hex");
  }

  static open(server: StunServer, options: { signal?: AbortSignal } = {}): Promise<ServerConnection> {
    const signal = options.signal;
    return new Promise((resolve, reject) => {
      const socket = connect({ host: server.host, port: server.port });
      const stopListening = onAbort(signal, () => (socket.destroy(), reject(new IceError("ABORTED", "aborted"))));
      socket.once("connect", () => (stopListening(), resolve(new ServerConnection(socket))));
      socket.once(
        "error",
        (e) => (stopListening(), reject(new IceError("TURN_FAILED", `cannot reach ${server.host}:${server.port}: ${e.message}`, { cause: e }))),
      );
    });
  }

  request(message: StunMessage, bytes: Uint8Array): Promise<StunMessage> {
    const key = Buffer.from(message.transactionId).toString("hex");
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(new IceError("TURN_FAILED", "no answer from the STUN/TURN server"));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(key, (m) => {
        clearTimeout(timer);
        this.pending.delete(key);
        resolve(m);
      });
      this.socket.write(bytes);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Our address as a STUN server sees it over TCP (a server-reflexive candidate's address). */
export async function stunMappedAddress(server: StunServer, options: AbortOptions = {}): Promise<TransportAddress> {
  const { signal } = options;
  const conn = await ServerConnection.open(server, { signal });
  try {
    const request = StunMessage.request(StunMethod.Binding);
    const answer = await conn.request(request, request.encode({ fingerprint: true }));
    const mapped = answer.xorAddress(Attr.XorMappedAddress);
    if (answer.cls !== StunClass.Success || !mapped) throw new IceError("TURN_FAILED", "the STUN server gave no mapped address");
    return mapped;
  } finally {
    conn.close();
  }
}

/**
 * A TURN allocation with a TCP relay (RFC 6062, over RFC 8656's long-term credentials): peers connect to
 * `relayed`, and each such connection comes out as a socket (`connection` event) carrying that peer's bytes.
 */
export class TurnTcpAllocation extends TurnAllocation<{ connection: [Socket, TransportAddress] }> {
  private constructor(
    server: TurnServer,
    private readonly control: ServerConnection,
  ) {
    super(server);
    control.indications.on("indication", (m) => {
      if (m.method === StunMethod.ConnectionAttempt) void this.onConnectionAttempt(m);
    });
  }

  static async allocate(server: TurnServer, options: AbortOptions = {}): Promise<TurnTcpAllocation> {
    const { signal } = options;
    const control = await ServerConnection.open(server, { signal });
    const allocation = new TurnTcpAllocation(server, control);
    try {
      await allocation.allocateRelay(TCP_TRANSPORT);
      return allocation;
    } catch (e) {
      control.close();
      throw e;
    }
  }

  protected transact(message: StunMessage, bytes: Uint8Array): Promise<StunMessage> {
    return this.control.request(message, bytes);
  }

  protected release(): void {
    this.control.close();
  }

  /**
   * A TCP connection from our relayed address to `peer` (RFC 6062 §4.3: Connect, then ConnectionBind on a new
   * server connection): the socket carries the peer's bytes. It comes paused: attach a reader, then resume it.
   */
  async connect(peer: TransportAddress): Promise<Socket> {
    if (this.closed) throw new IceError("CLOSED", "TURN allocation closed");
    await this.permit([peer.address]);
    const answer = await this.authenticated(() => StunMessage.request(StunMethod.Connect).addXorAddress(Attr.XorPeerAddress, peer));
    const id = answer.u32(Attr.ConnectionId);
    if (id === undefined) throw new IceError("TURN_FAILED", "the TURN server's Connect answer has no connection id");
    const socket = await this.bind(id);
    log("relayed connection to %s:%d", peer.address, peer.port);
    return socket;
  }

  /** A peer connected to our relayed address: bind a new server connection to it (ConnectionBind). */
  private async onConnectionAttempt(m: StunMessage): Promise<void> {
    const id = m.u32(Attr.ConnectionId);
    const peer = m.xorAddress(Attr.XorPeerAddress);
    if (id === undefined || !peer || this.closed) return;
    try {
      const socket = await this.bind(id);
      log("relayed connection from %s:%d", peer.address, peer.port);
      this.emit("connection", socket, peer);
      // Paused at the hand-off so no peer byte was lost; the new reader is attached now.
      socket.resume();
    } catch (e) {
      log("ConnectionBind failed: %s", (e as Error).message);
    }
  }

  /** A new server connection bound to connection `id`; paused right after the bind answer. */
  private async bind(id: number): Promise<Socket> {
    const data = await ServerConnection.open(this.server);
    try {
      // The answer is the last STUN message on this connection: what follows is the peer's.
      await this.auth.request(
        () => StunMessage.request(StunMethod.ConnectionBind).addU32(Attr.ConnectionId, id),
        (message, bytes) => (data.handOff(message), data.request(message, bytes)),
      );
      return data.socket;
    } catch (e) {
      data.close();
      throw e;
    }
  }
}
