import { IceError } from "./errors.js";

/** RFC 4571 framing, used by ICE-TCP for every packet (STUN and application data): a 2-byte length, then the packet. */
export const MAX_FRAME = 65535;

export function frame(packet: Uint8Array): Uint8Array {
  if (packet.length > MAX_FRAME) throw new IceError("INVALID_ARGUMENT", `packet of ${packet.length} bytes exceeds 65535`);
  const out = new Uint8Array(2 + packet.length);
  out[0] = packet.length >> 8;
  out[1] = packet.length & 0xff;
  out.set(packet, 2);
  return out;
}

/** Cuts a TCP byte stream into RFC 4571 packets, whatever the chunking (each byte copied at most once). */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private size = 0;

  push(chunk: Uint8Array): Uint8Array[] {
    this.chunks.push(chunk);
    this.size += chunk.length;
    const packets: Uint8Array[] = [];
    for (;;) {
      if (this.size < 2) break;
      const head = this.peek(2);
      const len = (head[0]! << 8) | head[1]!;
      if (this.size < 2 + len) break;
      this.take(2);
      packets.push(this.take(len));
    }
    return packets;
  }

  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let o = 0;
    for (const c of this.chunks) {
      const part = c.subarray(0, n - o);
      out.set(part, o);
      o += part.length;
      if (o === n) break;
    }
    return out;
  }

  private take(n: number): Uint8Array {
    this.size -= n;
    const first = this.chunks[0];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return out;
    }
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const c = this.chunks[0]!;
      const part = c.subarray(0, n - o);
      out.set(part, o);
      o += part.length;
      if (part.length === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(part.length);
    }
    return out;
  }
}
