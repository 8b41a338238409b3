import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { IceError } from "./errors.js";
import { frame, FrameReader } from "./framing.js";
import { decodeStun, isStun, StunClass, type StunMessage, type TransportAddress } from "./stun.js";

const MAX_EARLY_BYTES = 256 * 1024;

/**
 * One TCP connection of an ICE-TCP session: RFC 4571 frames both ways, STUN requests matched to their answers
 * by transaction id, other STUN messages and application packets handed to the owner.
 */
export class StunLink extends EventEmitter<{
  request: [StunMessage];
  indication: [StunMessage];
  close: [];
}> {
  private readonly reader = new FrameReader();
  private readonly pending = new Map<string, { resolve: (m: StunMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  closed = false;
  /**
   * Application packets that came before anyone read them: the controlling peer starts TLS as soon as it has
   * nominated the pair, possibly before our own check of it has succeeded (bounded; the peer waits for answers).
   */
  private early: Uint8Array[] = [];
  private earlyBytes = 0;
  private consumer?: (packet: Uint8Array) => void;
  /** The peer: the socket's far end, or for a relayed connection the peer behind the TURN server. */
  readonly remoteAddress: TransportAddress;
  /** Our end of the socket (for a relayed connection, our end towards the TURN server). */
  readonly localAddress: TransportAddress;

  constructor(
    readonly socket: Socket,
    peer?: TransportAddress,
  ) {
    super();
    // Captured now: a closed socket forgets its remote address, and a check may still be answered after.
    this.remoteAddress = peer ?? { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0, family: socket.remoteFamily === "IPv6" ? 6 : 4 };
    this.localAddress = { address: socket.localAddress ?? "", port: socket.localPort ?? 0, family: socket.localFamily === "IPv6" ? 6 : 4 };
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      for (const packet of this.reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))) this.onPacket(packet);
    });
    socket.on("close", () => this.onClose());
    socket.on("error", () => this.onClose());
  }

  send(packet: Uint8Array): void {
    if (this.closed) throw new IceError("CLOSED", "ICE connection closed");
    this.socket.write(frame(packet));
  }

  /** Like `send`, without copying the packet (length prefix and packet written together); false when buffered. */
  sendFramed(packet: Uint8Array): boolean {
    if (this.closed) throw new IceError("CLOSED", "ICE connection closed");
    if (packet.length > 0xffff) throw new IceError("INVALID_ARGUMENT", "packet exceeds 65535 bytes");
    this.socket.cork();
    this.socket.write(Buffer.from([packet.length >> 8, packet.length & 0xff]));
    const flushed = this.socket.write(packet);
    this.socket.uncork();
    return flushed;
  }

  /** Sends a STUN request and waits for its success or error response. */
  request(message: StunMessage, bytes: Uint8Array, timeoutMs: number): Promise<StunMessage> {
    const key = Buffer.from(message.transactionId).toString("hex");
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(new IceError("ICE_TIMEOUT", "no answer to a STUN request"));
      }, timeoutMs);
      this.pending.set(key, { resolve, reject, timer });
      try {
        this.send(bytes);
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(key);
        reject(e as Error);
      }
    });
  }

  close(): void {
    this.socket.destroy();
    this.onClose();
  }

  /** Hands every application packet to `consumer`, starting with those that arrived before it. */
  readData(consumer: (packet: Uint8Array) => void): void {
    this.consumer = consumer;
    const early = this.early;
    this.early = [];
    this.earlyBytes = 0;
    for (const packet of early) consumer(packet);
  }

  private onPacket(packet: Uint8Array): void {
    if (!isStun(packet)) {
      if (this.consumer) this.consumer(packet);
      else if (this.earlyBytes + packet.length <= MAX_EARLY_BYTES) {
        this.early.push(packet);
        this.earlyBytes += packet.length;
      }
      return;
    }
    let message: StunMessage;
    try {
      message = decodeStun(packet);
    } catch {
      return; // malformed STUN is dropped
    }
    if (message.cls === StunClass.Request) return void this.emit("request", message);
    if (message.cls === StunClass.Indication) return void this.emit("indication", message);
    const key = Buffer.from(message.transactionId).toString("hex");
    const waiter = this.pending.get(key);
    if (!waiter) return;
    this.pending.delete(key);
    clearTimeout(waiter.timer);
    waiter.resolve(message);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.pending.values()) {
      clearTimeout(w.timer);
      w.reject(new IceError("CLOSED", "ICE connection closed"));
    }
    this.pending.clear();
    this.emit("close");
  }
}
