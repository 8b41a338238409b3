/**
 * A small, exact MessagePack codec for OpenDHT's wire format.
 *
 * Why our own: OpenDHT's bytes are canonical msgpack (smallest headers, `str` for text, `bin` for bytes), value ids
 * are full u64 (so some integers must be bigint and still take their smallest encoding), fragment maps use integer
 * keys, and signatures are checked over the exact received bytes of a sub-map — `decodeMapEntries` gives those spans.
 */
import { CodecError } from "./errors.js";

/** What a decoded msgpack item can be. Maps with only string keys decode to plain objects, others to `Map`. */
export type MsgValue = null | boolean | number | bigint | string | Uint8Array | MsgValue[] | MsgMap | Map<MsgValue, MsgValue>;
export interface MsgMap {
  [key: string]: MsgValue | undefined;
}

const MAX_DEPTH = 32;
const textDecoder = new TextDecoder("utf-8", { fatal: true });
const textEncoder = new TextEncoder();

class Writer {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.reserve(1);
    this.buf[this.length++] = v;
  }
  u16(v: number): void {
    this.reserve(2);
    this.view.setUint16(this.length, v);
    this.length += 2;
  }
  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v);
    this.length += 4;
  }
  u64(v: bigint): void {
    this.reserve(8);
    this.view.setBigUint64(this.length, v);
    this.length += 8;
  }
  i64(v: bigint): void {
    this.reserve(8);
    this.view.setBigInt64(this.length, v);
    this.length += 8;
  }
  f64(v: number): void {
    this.reserve(8);
    this.view.setFloat64(this.length, v);
    this.length += 8;
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function writeInt(w: Writer, v: bigint): void {
  if (v >= 0n) {
    if (v < 0x80n) w.u8(Number(v));
    else if (v < 0x100n) {
      w.u8(0xcc);
      w.u8(Number(v));
    } else if (v < 0x10000n) {
      w.u8(0xcd);
      w.u16(Number(v));
    } else if (v < 0x100000000n) {
      w.u8(0xce);
      w.u32(Number(v));
    } else if (v < 1n << 64n) {
      w.u8(0xcf);
      w.u64(v);
    } else throw new CodecError("ENCODE", `integer ${v} does not fit in 64 bits`);
    return;
  }
  if (v >= -32n) w.u8(Number(v) & 0xff);
  else if (v >= -128n) {
    w.u8(0xd0);
    w.u8(Number(v) & 0xff);
  } else if (v >= -32768n) {
    w.u8(0xd1);
    w.u16(Number(v) & 0xffff);
  } else if (v >= -2147483648n) {
    w.u8(0xd2);
    w.u32(Number(v) >>> 0);
  } else if (v >= -(1n << 63n)) {
    w.u8(0xd3);
    w.i64(v);
  } else throw new CodecError("ENCODE", `integer ${v} does not fit in 64 bits`);
}

function writeLength(w: Writer, n: number, fix: number | null, fixMax: number, c8: number | null, c16: number, c32: number): void {
  if (fix !== null && n <= fixMax) w.u8(fix | n);
  else if (c8 !== null && n < 0x100) {
    w.u8(c8);
    w.u8(n);
  } else if (n < 0x10000) {
    w.u8(c16);
    w.u16(n);
  } else {
    w.u8(c32);
    w.u32(n);
  }
}

/** Bytes that are already msgpack, written verbatim (e.g. a signed body kept exactly as received). */
export class RawMsg {
  constructor(readonly bytes: Uint8Array) {}
}

function writeItem(w: Writer, v: unknown, depth: number): void {
  if (depth > MAX_DEPTH) throw new CodecError("ENCODE", "structure too deep");
  if (v instanceof RawMsg) return w.bytes(v.bytes);
  if (v === null || v === undefined) return w.u8(0xc0);
  if (v === true) return w.u8(0xc3);
  if (v === false) return w.u8(0xc2);
  if (typeof v === "bigint") return writeInt(w, v);
  if (typeof v === "number") {
    if (Number.isInteger(v)) return writeInt(w, BigInt(v));
    w.u8(0xcb);
    return w.f64(v);
  }
  if (typeof v === "string") {
    const b = textEncoder.encode(v);
    writeLength(w, b.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
    return w.bytes(b);
  }
  if (v instanceof Uint8Array) {
    writeLength(w, v.length, null, 0, 0xc4, 0xc5, 0xc6);
    return w.bytes(v);
  }
  if (Array.isArray(v)) {
    writeLength(w, v.length, 0x90, 15, null, 0xdc, 0xdd);
    for (const item of v) writeItem(w, item, depth + 1);
    return;
  }
  if (v instanceof Map) {
    writeLength(w, v.size, 0x80, 15, null, 0xde, 0xdf);
    for (const [k, item] of v) {
      writeItem(w, k, depth + 1);
      writeItem(w, item, depth + 1);
    }
    return;
  }
  if (typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, item]) => item !== undefined);
    writeLength(w, entries.length, 0x80, 15, null, 0xde, 0xdf);
    for (const [k, item] of entries) {
      writeItem(w, k, depth + 1);
      writeItem(w, item, depth + 1);
    }
    return;
  }
  throw new CodecError("ENCODE", `cannot encode a ${typeof v}`);
}

/** Canonical msgpack. Object properties that are `undefined` are left out; key order is insertion order. */
export function encode(value: unknown): Uint8Array {
  const w = new Writer();
  writeItem(w, value, 0);
  return w.result();
}

/** A cursor over msgpack bytes; every read checks bounds and throws `CodecError("DECODE")`. */
export class Reader {
  pos: number;
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    start = 0,
  ) {
    this.pos = start;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(n: number): void {
    if (this.pos + n > this.bytes.length) throw new TruncatedError();
  }
  private u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }
  private uint(n: 1 | 2 | 4): number {
    this.need(n);
    const v = n === 1 ? this.view.getUint8(this.pos) : n === 2 ? this.view.getUint16(this.pos) : this.view.getUint32(this.pos);
    this.pos += n;
    return v;
  }
  private take(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Reads a map header and returns its entry count, or throws if the next item is not a map. */
  readMapHeader(): number {
    const b = this.u8();
    if ((b & 0xf0) === 0x80) return b & 0x0f;
    if (b === 0xde) return this.uint(2);
    if (b === 0xdf) return this.uint(4);
    throw new CodecError("DECODE", "expected a map");
  }

  readArrayHeader(): number {
    const b = this.u8();
    if ((b & 0xf0) === 0x90) return b & 0x0f;
    if (b === 0xdc) return this.uint(2);
    if (b === 0xdd) return this.uint(4);
    throw new CodecError("DECODE", "expected an array");
  }

  read(depth = 0): MsgValue {
    if (depth > MAX_DEPTH) throw new CodecError("DECODE", "msgpack nested too deep");
    const b = this.u8();
    if (b < 0x80) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xf0) === 0x80) return this.readMap(b & 0x0f, depth);
    if ((b & 0xf0) === 0x90) return this.readArray(b & 0x0f, depth);
    if ((b & 0xe0) === 0xa0) return this.readString(b & 0x1f);
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.take(this.uint(1)).slice();
      case 0xc5:
        return this.take(this.uint(2)).slice();
      case 0xc6:
        return this.take(this.uint(4)).slice();
      case 0xca: {
        this.need(4);
        const v = this.view.getFloat32(this.pos);
        this.pos += 4;
        return v;
      }
      case 0xcb: {
        this.need(8);
        const v = this.view.getFloat64(this.pos);
        this.pos += 8;
        return v;
      }
      case 0xcc:
        return this.uint(1);
      case 0xcd:
        return this.uint(2);
      case 0xce:
        return this.uint(4);
      case 0xcf: {
        this.need(8);
        const v = this.view.getBigUint64(this.pos);
        this.pos += 8;
        return smallest(v);
      }
      case 0xd0: {
        this.need(1);
        const v = this.view.getInt8(this.pos);
        this.pos += 1;
        return v;
      }
      case 0xd1: {
        this.need(2);
        const v = this.view.getInt16(this.pos);
        this.pos += 2;
        return v;
      }
      case 0xd2: {
        this.need(4);
        const v = this.view.getInt32(this.pos);
        this.pos += 4;
        return v;
      }
      case 0xd3: {
        this.need(8);
        const v = this.view.getBigInt64(this.pos);
        this.pos += 8;
        return smallest(v);
      }
      case 0xd9:
        return this.readString(this.uint(1));
      case 0xda:
        return this.readString(this.uint(2));
      case 0xdb:
        return this.readString(this.uint(4));
      case 0xdc:
        return this.readArray(this.uint(2), depth);
      case 0xdd:
        return this.readArray(this.uint(4), depth);
      case 0xde:
        return this.readMap(this.uint(2), depth);
      case 0xdf:
        return this.readMap(this.uint(4), depth);
      default:
        throw new CodecError("DECODE", `unsupported msgpack type 0x${b.toString(16)}`);
    }
  }

  private readString(n: number): string {
    try {
      return textDecoder.decode(this.take(n));
    } catch (cause) {
      if (cause instanceof CodecError) throw cause;
      throw new CodecError("DECODE", "invalid UTF-8 in msgpack str", { cause });
    }
  }

  private readArray(n: number, depth: number): MsgValue[] {
    // Each item takes at least one byte: refuse counts the buffer cannot hold before allocating.
    this.need(n);
    const out: MsgValue[] = [];
    for (let i = 0; i < n; i++) out.push(this.read(depth + 1));
    return out;
  }

  private readMap(n: number, depth: number): MsgMap | Map<MsgValue, MsgValue> {
    this.need(2 * n);
    const obj: MsgMap = Object.create(null) as MsgMap;
    let map: Map<MsgValue, MsgValue> | undefined;
    for (let i = 0; i < n; i++) {
      const k = this.read(depth + 1);
      const v = this.read(depth + 1);
      if (map) map.set(k, v);
      else if (typeof k === "string") obj[k] = v;
      else {
        map = new Map(Object.entries(obj) as [MsgValue, MsgValue][]);
        map.set(k, v);
      }
    }
    return map ?? obj;
  }

  /** Skips one item and returns its exact bytes. */
  readRaw(): Uint8Array {
    const start = this.pos;
    this.read();
    return this.bytes.subarray(start, this.pos);
  }
}

function smallest(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

/** Decodes exactly one msgpack item filling all of `bytes`. */
class TruncatedError extends CodecError {
  constructor() {
    super("DECODE", "truncated msgpack");
  }
}

/**
 * The first msgpack item of `bytes` and how many bytes it took, or `undefined` when the bytes end before the item
 * does (a stream decoder waits for more); malformed input throws.
 */
export function decodePrefix(bytes: Uint8Array): { value: MsgValue; length: number } | undefined {
  const r = new Reader(bytes);
  try {
    return { value: r.read(), length: r.pos };
  } catch (e) {
    if (e instanceof TruncatedError) return undefined;
    throw e;
  }
}

/** Several msgpack items written one after the other (jamid's channel-0 payloads). */
export function decodeSequence(bytes: Uint8Array): MsgValue[] {
  const out: MsgValue[] = [];
  let rest = bytes;
  while (rest.length) {
    const item = decodePrefix(rest);
    if (!item) throw new CodecError("DECODE", "truncated msgpack");
    out.push(item.value);
    rest = rest.subarray(item.length);
  }
  return out;
}

export function decode(bytes: Uint8Array): MsgValue {
  const r = new Reader(bytes);
  const v = r.read();
  if (r.pos !== bytes.length) throw new CodecError("DECODE", "trailing bytes after msgpack item");
  return v;
}

/** The entries of a string-keyed map with each value's exact bytes, for signatures over received bytes. */
export function decodeMapEntries(bytes: Uint8Array): Map<string, { value: MsgValue; raw: Uint8Array }> {
  const r = new Reader(bytes);
  const n = r.readMapHeader();
  const out = new Map<string, { value: MsgValue; raw: Uint8Array }>();
  for (let i = 0; i < n; i++) {
    const key = r.read();
    const start = r.pos;
    const value = r.read(1);
    if (typeof key === "string") out.set(key, { value, raw: bytes.subarray(start, r.pos) });
  }
  if (r.pos !== bytes.length) throw new CodecError("DECODE", "trailing bytes after msgpack map");
  return out;
}

/** The exact bytes of each item of a msgpack array. */
export function decodeArrayItems(bytes: Uint8Array): Uint8Array[] {
  const r = new Reader(bytes);
  const n = r.readArrayHeader();
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) out.push(r.readRaw());
  if (r.pos !== bytes.length) throw new CodecError("DECODE", "trailing bytes after msgpack array");
  return out;
}

export function isMsgMap(v: MsgValue | undefined): v is MsgMap {
  return typeof v === "object" && v !== null && !(v instanceof Uint8Array) && !Array.isArray(v) && !(v instanceof Map);
}
