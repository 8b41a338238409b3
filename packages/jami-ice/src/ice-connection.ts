import createDebug from "debug";
import { Duplex } from "node:stream";
import { IceError } from "./errors.js";
import { MAX_FRAME } from "./framing.js";
import { candidatePriority, type IceDescription } from "./candidate.js";
import { buildCheck } from "./checks.js";
import { StunClass } from "./stun.js";
import type { StunLink } from "./stun-link.js";

const log = createDebug("jami:ice");

/** RFC 7675: a consent check every 5 s; consent is lost after 30 s without an answer. */
const CONSENT_INTERVAL_MS = 5_000;
const CONSENT_TIMEOUT_MS = 30_000;
/** Other TCP connections of the negotiation kept alongside the chosen one, at most. */
export const MAX_SPARE_CONNECTIONS = 16;

/**
 * The application byte stream over the nominated ICE-TCP connection: what is written goes out in RFC 4571
 * frames of at most 65535 bytes, STUN on the same connection keeps being answered, and consent freshness
 * (RFC 7675) closes the stream with ICE_FAILED when the peer stops answering.
 */
export class IceConnection extends Duplex {
  private consentTimer?: NodeJS.Timeout;
  private lastConsent = Date.now();

  constructor(
    private readonly link: StunLink,
    readonly local: IceDescription,
    readonly remote: IceDescription,
    readonly controlling: boolean,
    /**
     * The negotiation's other TCP connections, kept open (idle) as long as this one: jamid 13.7's pjnath keeps every
     * connection of the negotiation in its event loop, and one the peer closes stays readable (end of stream) there
     * for good — its ICE thread then sleeps 500 ms on every poll, which made each exchange with jamid half a second
     * slow. pjnath never closes them either.
     */
    private readonly spares: StunLink[] = [],
  ) {
    // TLS writes 16 KiB records; a larger buffer lets several frames go out per socket write.
    super({ highWaterMark: 256 * 1024 });
    // A reader that does not keep up (TLS paused by a slow channel reader) pauses the TCP socket: the peer's
    // bytes wait in the kernel and TCP's window, not in this process.
    link.readData((packet) => {
      if (!this.push(Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength))) link.socket.pause();
    });
    link.on("close", () => {
      for (const spare of this.spares) spare.close();
      clearInterval(this.consentTimer);
      this.push(null);
      if (!this.destroyed) this.destroy();
    });
    this.consentTimer = setInterval(() => void this.checkConsent(), CONSENT_INTERVAL_MS);
    this.consentTimer.unref();
  }

  /** A connection of the negotiation that came up after this one was chosen: kept open with the others. */
  keepSpare(link: StunLink): void {
    // bounded: a peer cannot make us hold connections without end (jamid opens one per candidate pair, a handful)
    if (this.destroyed || this.spares.filter((s) => !s.closed).length >= MAX_SPARE_CONNECTIONS) return link.close();
    this.spares.push(link);
  }

  /** How many of the negotiation's other TCP connections are kept open alongside this one. */
  get idleConnections(): number {
    return this.spares.filter((s) => !s.closed).length;
  }

  get remoteAddress(): { address: string; port: number; family: 4 | 6 } {
    return this.link.remoteAddress;
  }

  /** Our end of the chosen TCP connection. */
  get localAddress(): { address: string; port: number; family: 4 | 6 } {
    return this.link.localAddress;
  }

  override _read(): void {
    // data is pushed as frames arrive; a reader asking for more lets a paused socket go on
    if (this.link.socket.isPaused()) this.link.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      let flushed = true;
      for (let offset = 0; offset < chunk.length; offset += MAX_FRAME) {
        flushed = this.link.sendFramed(chunk.subarray(offset, offset + MAX_FRAME));
      }
      // Back-pressure from the TCP socket reaches our writer.
      if (flushed) callback();
      else this.link.socket.once("drain", () => callback());
    } catch (e) {
      callback(e as Error);
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.link.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    clearInterval(this.consentTimer);
    this.link.close();
    for (const spare of this.spares) spare.close();
    callback(error);
  }

  private async checkConsent(): Promise<void> {
    if (Date.now() - this.lastConsent > CONSENT_TIMEOUT_MS) {
      log("consent lost");
      this.destroy(new IceError("ICE_FAILED", "the peer stopped answering consent checks"));
      return;
    }
    const { request, bytes, key } = buildCheck(
      this.local,
      this.remote,
      { controlling: this.controlling, tieBreaker: 0n },
      candidatePriority("prflx", "TCP", "active"),
      false,
    );
    try {
      const answer = await this.link.request(request, bytes, CONSENT_INTERVAL_MS);
      if (answer.cls === StunClass.Success && answer.checkIntegrity(key)) this.lastConsent = Date.now();
    } catch {
      /* counted by the timeout above */
    }
  }
}
