import { SwarmError } from "./errors.js";

/**
 * git's pkt-lines: 4 hex digits of length (including themselves), then the data; `0000` is a flush. Our own
 * framing (isomorphic-git has no server side), strict about sizes so a peer cannot make us buffer without end.
 */
export const FLUSH = "flush" as const;
export type Pkt = Uint8Array | typeof FLUSH;

/** The largest pkt-line git allows: 65520 bytes in all. */
export const MAX_PKT = 65520;
const encoder = new TextEncoder();

export function pkt(data: string | Uint8Array): Uint8Array {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  if (bytes.byteLength + 4 > MAX_PKT) throw new SwarmError("PROTOCOL", `pkt-line of ${bytes.byteLength} bytes is too long`);
  const out = new Uint8Array(bytes.byteLength + 4);
  out.set(encoder.encode((bytes.byteLength + 4).toString(16).padStart(4, "0")), 0);
  out.set(bytes, 4);
  return out;
}

export const flushPkt = (): Uint8Array => encoder.encode("0000");

/** Reads bytes from any async byte source (a Node stream, a channel) with a bounded buffer. */
export class ByteReader {
  private buffer = new Uint8Array(0);
  private readonly source: AsyncIterator<Uint8Array | string>;
  private ended = false;

  constructor(source: AsyncIterable<Uint8Array | string>) {
    this.source = source[Symbol.asyncIterator]();
  }

  /** Exactly `n` bytes, or undefined at a clean end of stream before any of them; throws on a truncated read. */
  async read(n: number): Promise<Uint8Array | undefined> {
    while (this.buffer.byteLength < n) {
      if (this.ended) {
        if (this.buffer.byteLength === 0) return undefined;
        throw new SwarmError("PROTOCOL", `stream ended inside a pkt-line (${this.buffer.byteLength} of ${n} bytes)`);
      }
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        continue;
      }
      const chunk = typeof next.value === "string" ? encoder.encode(next.value) : next.value;
      const joined = new Uint8Array(this.buffer.byteLength + chunk.byteLength);
      joined.set(this.buffer, 0);
      joined.set(chunk, this.buffer.byteLength);
      this.buffer = joined;
    }
    const out = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    return out;
  }

  /** Gives the source a chance to clean up (a stream's iterator destroys it). */
  async close(): Promise<void> {
    await this.source.return?.();
  }
}

/** Reads pkt-lines from a `ByteReader`. */
export class PktReader {
  constructor(readonly bytes: ByteReader) {}

  /** The next pkt (data, or `flush`), or undefined at end of stream. */
  async next(): Promise<Pkt | undefined> {
    const head = await this.bytes.read(4);
    if (!head) return undefined;
    const text = String.fromCharCode(...head);
    if (!/^[0-9a-f]{4}$/.test(text)) throw new SwarmError("PROTOCOL", `bad pkt-line length "${text.replace(/[^\x20-\x7e]/g, "?")}"`);
    const length = parseInt(text, 16);
    if (length === 0) return FLUSH;
    if (length < 4 || length > MAX_PKT) throw new SwarmError("PROTOCOL", `pkt-line length ${length} out of range`);
    const data = await this.bytes.read(length - 4);
    if (!data) throw new SwarmError("PROTOCOL", "stream ended inside a pkt-line");
    return Uint8Array.from(data);
  }

  /** The next pkt as text without its trailing newline; `flush` or undefined as `next`. */
  async line(): Promise<string | typeof FLUSH | undefined> {
    const p = await this.next();
    if (p === undefined || p === FLUSH) return p;
    const text = new TextDecoder().decode(p);
    return text.endsWith("\n") ? text.slice(0, -1) : text;
  }
}
