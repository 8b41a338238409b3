import { AlertDescription, DtlsAlert } from "./alert.js";
import { Reader, Writer } from "./wire.js";

export const HandshakeType = {
  hello_request: 0,
  client_hello: 1,
  server_hello: 2,
  hello_verify_request: 3,
  certificate: 11,
  server_key_exchange: 12,
  certificate_request: 13,
  server_hello_done: 14,
  certificate_verify: 15,
  client_key_exchange: 16,
  finished: 20,
} as const;

export const HANDSHAKE_HEADER = 12;
/** Larger than any certificate chain Jami uses (three RSA-4096 certificates are about 5 KB). */
const MAX_MESSAGE = 64 * 1024;
/** What all partly received messages may announce together (each costs twice its length while reassembled). */
export const MAX_PARTIAL_BYTES = 128 * 1024;
/** The peer may reorder messages this far ahead of the one we wait for. */
const MAX_AHEAD = 16;

/** Which handshake messages are accepted for now (a server before the cookie: small ClientHellos only). */
export interface IncomingLimit {
  types: readonly number[];
  maxLength: number;
}

export interface HandshakeMessage {
  type: number;
  seq: number;
  body: Uint8Array;
}

interface Fragment extends HandshakeMessage {
  length: number;
  offset: number;
}

/** The message as one fragment: what the transcript hashes (RFC 6347 §4.2.6). */
export function encodeHandshake(m: HandshakeMessage): Uint8Array {
  return fragmentHeader(m.type, m.body.length, m.seq, 0, m.body.length).bytes(m.body).finish();
}

function fragmentHeader(type: number, length: number, seq: number, offset: number, fragmentLength: number): Writer {
  return new Writer().u8(type).uint(3, length).u16(seq).uint(3, offset).uint(3, fragmentLength);
}

/** Splits a message into fragments whose bodies are at most `maxBody` bytes. */
export function fragmentHandshake(m: HandshakeMessage, maxBody: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let offset = 0;
  do {
    const part = m.body.subarray(offset, offset + maxBody);
    out.push(fragmentHeader(m.type, m.body.length, m.seq, offset, part.length).bytes(part).finish());
    offset += part.length;
  } while (offset < m.body.length);
  return out;
}

function decodeFragments(plaintext: Uint8Array): Fragment[] {
  const r = new Reader(plaintext);
  const out: Fragment[] = [];
  while (r.remaining) {
    const type = r.u8();
    const length = r.uint(3);
    const seq = r.u16();
    const offset = r.uint(3);
    const body = r.vector(3);
    if (offset + body.length > length || length > MAX_MESSAGE) throw new DtlsAlert(AlertDescription.decode_error, "handshake fragment out of bounds");
    out.push({ type, length, seq, offset, body });
  }
  return out;
}

interface Partial {
  type: number;
  body: Uint8Array;
  have: Uint8Array;
  missing: number;
}

/**
 * Puts handshake fragments back together and hands out whole messages in `message_seq` order. A fragment of a
 * message already handed out means the peer is retransmitting: it did not get our last flight.
 */
export class Reassembler {
  nextSeq = 0;
  limit?: IncomingLimit;
  private readonly partial = new Map<number, Partial>();
  private partialBytes = 0;

  /**
   * Adds a record's fragments (only noting retransmissions unless `accept`); returns the lowest `message_seq` among
   * them that was already handed out — the peer is retransmitting that flight — or undefined.
   */
  push(plaintext: Uint8Array, accept: (f: { type: number }) => boolean): number | undefined {
    let old: number | undefined;
    for (const f of decodeFragments(plaintext)) {
      if (f.seq < this.nextSeq) {
        old = Math.min(old ?? f.seq, f.seq);
        continue;
      }
      if (!accept(f) || f.seq > this.nextSeq + MAX_AHEAD) continue;
      if (this.limit && (!this.limit.types.includes(f.type) || f.length > this.limit.maxLength)) continue;
      let p = this.partial.get(f.seq);
      if (!p) {
        // Bounded: fragments announcing more than the budget are dropped (a genuine peer retransmits later).
        if (this.partialBytes + f.length > MAX_PARTIAL_BYTES) continue;
        p = { type: f.type, body: new Uint8Array(f.length), have: new Uint8Array(f.length), missing: f.length };
        this.partial.set(f.seq, p);
        this.partialBytes += f.length;
      }
      if (p.type !== f.type || p.body.length !== f.length) throw new DtlsAlert(AlertDescription.illegal_parameter, "handshake fragments disagree");
      p.body.set(f.body, f.offset);
      for (let i = f.offset; i < f.offset + f.body.length; i++) {
        if (!p.have[i]) {
          p.have[i] = 1;
          p.missing--;
        }
      }
    }
    return old;
  }

  /** The next whole message in order, if it has arrived. */
  next(): HandshakeMessage | undefined {
    const p = this.partial.get(this.nextSeq);
    if (!p || p.missing > 0) return undefined;
    this.partial.delete(this.nextSeq);
    this.partialBytes -= p.body.length;
    return { type: p.type, seq: this.nextSeq++, body: p.body };
  }

  /** Bytes held for messages not yet complete. */
  get pendingBytes(): number {
    return this.partialBytes;
  }
}
