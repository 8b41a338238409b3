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

/** Cuts a TCP byte stream into RFC 4571 packets, whatever the chunking. */
export class FrameReader {
  private buffered = new Uint8Array(0);

  push(chunk: Uint8Array): Uint8Array[] {
    const data = this.buffered.length ? concat(this.buffered, chunk) : chunk;
    const packets: Uint8Array[] = [];
    let offset = 0;
    while (data.length - offset >= 2) {
      const len = (data[offset]! << 8) | data[offset + 1]!;
      if (data.length - offset - 2 < len) break;
      packets.push(data.slice(offset + 2, offset + 2 + len));
      offset += 2 + len;
    }
    this.buffered = data.slice(offset);
    return packets;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
