import { AlertDescription, DtlsAlert } from "./alert.js";

/** Reads TLS presentation-language fields; running past the end is a `decode_error`. */
export class Reader {
  private offset = 0;

  constructor(private readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  take(n: number): Uint8Array {
    if (n > this.remaining) throw new DtlsAlert(AlertDescription.decode_error, "message shorter than its fields");
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  uint(width: 1 | 2 | 3 | 6): number {
    let value = 0;
    for (const byte of this.take(width)) value = value * 256 + byte;
    return value;
  }

  u8(): number {
    return this.uint(1);
  }

  u16(): number {
    return this.uint(2);
  }

  vector(lengthWidth: 1 | 2 | 3): Uint8Array {
    return this.take(this.uint(lengthWidth));
  }

  /** A vector of 16-bit values (cipher suites, groups, signature schemes). */
  u16List(lengthWidth: 1 | 2): number[] {
    const body = new Reader(this.vector(lengthWidth));
    if (body.remaining % 2) throw new DtlsAlert(AlertDescription.decode_error, "odd length in a list of 16-bit values");
    const out: number[] = [];
    while (body.remaining) out.push(body.u16());
    return out;
  }

  end(): void {
    if (this.remaining) throw new DtlsAlert(AlertDescription.decode_error, "trailing bytes after a message");
  }
}

/** Builds TLS presentation-language fields. */
export class Writer {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  bytes(b: Uint8Array): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }

  uint(width: 1 | 2 | 3 | 6, value: number): this {
    const out = new Uint8Array(width);
    for (let i = width - 1; i >= 0; i--) {
      out[i] = value % 256;
      value = Math.floor(value / 256);
    }
    return this.bytes(out);
  }

  u8(value: number): this {
    return this.uint(1, value);
  }

  u16(value: number): this {
    return this.uint(2, value);
  }

  vector(lengthWidth: 1 | 2 | 3, body: Uint8Array): this {
    return this.uint(lengthWidth, body.length).bytes(body);
  }

  u16List(lengthWidth: 1 | 2, values: readonly number[]): this {
    const body = new Writer();
    for (const v of values) body.u16(v);
    return this.vector(lengthWidth, body.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}
