/**
 * STUN messages (RFC 5389 / 8489) with the attributes ICE (RFC 8445) and TURN (RFC 8656) use.
 *
 * Why our own: the codec is small, must be exact (MESSAGE-INTEGRITY and FINGERPRINT are computed over the
 * message as it is being built), and is checked against RFC 5769's test vectors in the tests.
 */
import { createHash, createHmac, randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";
import { IceError } from "./errors.js";

export const MAGIC_COOKIE = 0x2112a442;
const HEADER = 20;
const FINGERPRINT_XOR = 0x5354554e;

export const StunClass = { Request: 0, Indication: 1, Success: 2, Error: 3 } as const;
export type StunClass = (typeof StunClass)[keyof typeof StunClass];

export const StunMethod = {
  Binding: 0x001,
  Allocate: 0x003,
  Refresh: 0x004,
  Send: 0x006,
  Data: 0x007,
  CreatePermission: 0x008,
  ChannelBind: 0x009,
  Connect: 0x00a,
  ConnectionBind: 0x00b,
  ConnectionAttempt: 0x00c,
} as const;

export const Attr = {
  MappedAddress: 0x0001,
  Username: 0x0006,
  MessageIntegrity: 0x0008,
  MessageIntegritySha256: 0x001c,
  ErrorCode: 0x0009,
  UnknownAttributes: 0x000a,
  ChannelNumber: 0x000c,
  Lifetime: 0x000d,
  XorPeerAddress: 0x0012,
  Data: 0x0013,
  Realm: 0x0014,
  Nonce: 0x0015,
  XorRelayedAddress: 0x0016,
  RequestedTransport: 0x0019,
  XorMappedAddress: 0x0020,
  Priority: 0x0024,
  UseCandidate: 0x0025,
  ConnectionId: 0x002a,
  Software: 0x8022,
  Fingerprint: 0x8028,
  IceControlled: 0x8029,
  IceControlling: 0x802a,
} as const;

export interface TransportAddress {
  family: 4 | 6;
  address: string;
  port: number;
}

export interface StunAttribute {
  type: number;
  value: Uint8Array;
}

/** A decoded STUN message; `raw` keeps the received bytes for integrity checks. */
export class StunMessage {
  constructor(
    readonly method: number,
    readonly cls: StunClass,
    readonly transactionId: Uint8Array,
    readonly attributes: StunAttribute[] = [],
    readonly raw?: Uint8Array,
  ) {}

  static request(method: number, transactionId: Uint8Array = randomBytes(12)): StunMessage {
    return new StunMessage(method, StunClass.Request, transactionId);
  }

  get(type: number): Uint8Array | undefined {
    return this.attributes.find((a) => a.type === type)?.value;
  }

  has(type: number): boolean {
    return this.attributes.some((a) => a.type === type);
  }

  add(type: number, value: Uint8Array): this {
    this.attributes.push({ type, value });
    return this;
  }

  addString(type: number, text: string): this {
    return this.add(type, new TextEncoder().encode(text));
  }

  addU32(type: number, n: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n >>> 0);
    return this.add(type, b);
  }

  addU64(type: number, n: bigint): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, n);
    return this.add(type, b);
  }

  addXorAddress(type: number, addr: TransportAddress): this {
    return this.add(type, encodeXorAddress(addr, this.transactionId));
  }

  addErrorCode(code: number, reason: string): this {
    const text = new TextEncoder().encode(reason);
    const b = new Uint8Array(4 + text.length);
    b[2] = Math.floor(code / 100);
    b[3] = code % 100;
    b.set(text, 4);
    return this.add(Attr.ErrorCode, b);
  }

  string(type: number): string | undefined {
    const v = this.get(type);
    return v ? new TextDecoder().decode(v) : undefined;
  }

  u32(type: number): number | undefined {
    const v = this.get(type);
    return v && v.length >= 4 ? new DataView(v.buffer, v.byteOffset, 4).getUint32(0) : undefined;
  }

  u64(type: number): bigint | undefined {
    const v = this.get(type);
    return v && v.length >= 8 ? new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0) : undefined;
  }

  xorAddress(type: number): TransportAddress | undefined {
    const v = this.get(type);
    return v ? decodeXorAddress(v, this.transactionId) : undefined;
  }

  errorCode(): { code: number; reason: string } | undefined {
    const v = this.get(Attr.ErrorCode);
    if (!v || v.length < 4) return undefined;
    return { code: (v[2]! & 7) * 100 + v[3]!, reason: new TextDecoder().decode(v.subarray(4)) };
  }

  /**
   * The wire bytes; with `integrityKey`, MESSAGE-INTEGRITY (HMAC-SHA1) is appended, then with `fingerprint`
   * FINGERPRINT (CRC-32 ^ 0x5354554e), each over the message with its length field already covering it.
   */
  encode(options: { integrityKey?: Uint8Array; fingerprint?: boolean } = {}): Uint8Array {
    const parts: Uint8Array[] = [];
    for (const a of this.attributes) parts.push(encodeAttribute(a.type, a.value));
    let body = concat(parts);
    if (options.integrityKey) {
      const withIntegrity = header(this.method, this.cls, body.length + 24, this.transactionId);
      const mac = createHmac("sha1", options.integrityKey).update(withIntegrity).update(body).digest();
      body = concat([body, encodeAttribute(Attr.MessageIntegrity, mac)]);
    }
    if (options.fingerprint) {
      const withFingerprint = concat([header(this.method, this.cls, body.length + 8, this.transactionId), body]);
      const fp = new Uint8Array(4);
      new DataView(fp.buffer).setUint32(0, (crc32(withFingerprint) ^ FINGERPRINT_XOR) >>> 0);
      body = concat([body, encodeAttribute(Attr.Fingerprint, fp)]);
    }
    return concat([header(this.method, this.cls, body.length, this.transactionId), body]);
  }

  /** Whether MESSAGE-INTEGRITY verifies with `key` (over the received bytes up to that attribute). */
  checkIntegrity(key: Uint8Array): boolean {
    const raw = this.raw;
    if (!raw) return false;
    let offset = HEADER;
    while (offset + 4 <= raw.length) {
      const type = (raw[offset]! << 8) | raw[offset + 1]!;
      const len = (raw[offset + 2]! << 8) | raw[offset + 3]!;
      if (type === Attr.MessageIntegrity) {
        if (len !== 20) return false;
        const head = Uint8Array.from(raw.subarray(0, HEADER));
        new DataView(head.buffer).setUint16(2, offset + 24 - HEADER);
        const mac = createHmac("sha1", key).update(head).update(raw.subarray(HEADER, offset)).digest();
        return timingSafeEqual(mac, raw.subarray(offset + 4, offset + 24));
      }
      offset += 4 + ((len + 3) & ~3);
    }
    return false;
  }

  /** Whether FINGERPRINT is present and right. */
  checkFingerprint(): boolean {
    const raw = this.raw;
    if (!raw || raw.length < HEADER + 8) return false;
    const at = raw.length - 8;
    if (((raw[at]! << 8) | raw[at + 1]!) !== Attr.Fingerprint) return false;
    const expected = (crc32(raw.subarray(0, at)) ^ FINGERPRINT_XOR) >>> 0;
    return new DataView(raw.buffer, raw.byteOffset + at + 4, 4).getUint32(0) === expected;
  }
}

/** Whether bytes look like a STUN message (top bits 00, magic cookie); used to tell STUN from other traffic. */
export function isStun(bytes: Uint8Array): boolean {
  return bytes.length >= HEADER && (bytes[0]! & 0xc0) === 0 && new DataView(bytes.buffer, bytes.byteOffset + 4, 4).getUint32(0) === MAGIC_COOKIE;
}

export function decodeStun(bytes: Uint8Array): StunMessage {
  if (!isStun(bytes)) throw new IceError("STUN_MALFORMED", "not a STUN message");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint16(0);
  const length = view.getUint16(2);
  if (length % 4 !== 0 || HEADER + length !== bytes.length) throw new IceError("STUN_MALFORMED", "STUN length does not match");
  const method = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
  const cls = (((type & 0x0010) >> 4) | ((type & 0x0100) >> 7)) as StunClass;
  const attributes: StunAttribute[] = [];
  let offset = HEADER;
  let afterIntegrity = false;
  while (offset < bytes.length) {
    if (offset + 4 > bytes.length) throw new IceError("STUN_MALFORMED", "truncated STUN attribute");
    const t = view.getUint16(offset);
    const len = view.getUint16(offset + 2);
    if (offset + 4 + len > bytes.length) throw new IceError("STUN_MALFORMED", "STUN attribute overruns the message");
    // RFC 8489 §14.5: what follows MESSAGE-INTEGRITY is not covered by it and is ignored, FINGERPRINT aside (an
    // on-path party could append USE-CANDIDATE or ICE-CONTROLLING and recompute the keyless FINGERPRINT).
    if (!afterIntegrity || t === Attr.Fingerprint || t === Attr.MessageIntegritySha256)
      attributes.push({ type: t, value: bytes.slice(offset + 4, offset + 4 + len) });
    if (t === Attr.MessageIntegrity) afterIntegrity = true;
    offset += 4 + ((len + 3) & ~3);
  }
  return new StunMessage(method, cls, bytes.slice(8, 20), attributes, bytes);
}

/** RFC 8489 §9.2: the long-term credential key, MD5(username ":" realm ":" password). */
export function longTermKey(username: string, realm: string, password: string): Uint8Array {
  return createHash("md5").update(`${username}:${realm}:${password}`).digest();
}

function header(method: number, cls: number, length: number, tid: Uint8Array): Uint8Array {
  const type = (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | ((cls & 1) << 4) | ((cls & 2) << 7);
  const b = new Uint8Array(HEADER);
  const v = new DataView(b.buffer);
  v.setUint16(0, type);
  v.setUint16(2, length);
  v.setUint32(4, MAGIC_COOKIE);
  b.set(tid, 8);
  return b;
}

function encodeAttribute(type: number, value: Uint8Array): Uint8Array {
  const padded = (value.length + 3) & ~3;
  const b = new Uint8Array(4 + padded);
  const v = new DataView(b.buffer);
  v.setUint16(0, type);
  v.setUint16(2, value.length);
  b.set(value, 4);
  return b;
}

function encodeXorAddress(addr: TransportAddress, tid: Uint8Array): Uint8Array {
  const ip = addr.family === 4 ? ipv4Bytes(addr.address) : ipv6Bytes(addr.address);
  const b = new Uint8Array(4 + ip.length);
  const v = new DataView(b.buffer);
  b[1] = addr.family === 4 ? 1 : 2;
  v.setUint16(2, addr.port ^ (MAGIC_COOKIE >>> 16));
  const mask = xorMask(tid);
  for (let i = 0; i < ip.length; i++) b[4 + i] = ip[i]! ^ mask[i]!;
  return b;
}

function decodeXorAddress(v: Uint8Array, tid: Uint8Array): TransportAddress | undefined {
  if (v.length < 8) return undefined;
  const family = v[1] === 1 ? 4 : v[1] === 2 ? 6 : undefined;
  if (!family || v.length !== (family === 4 ? 8 : 20)) return undefined;
  const port = ((v[2]! << 8) | v[3]!) ^ (MAGIC_COOKIE >>> 16);
  const mask = xorMask(tid);
  const ip = v.subarray(4).map((b, i) => b ^ mask[i]!);
  return { family, address: family === 4 ? [...ip].join(".") : ipv6Text(ip), port };
}

function xorMask(tid: Uint8Array): Uint8Array {
  const m = new Uint8Array(16);
  new DataView(m.buffer).setUint32(0, MAGIC_COOKIE);
  m.set(tid, 4);
  return m;
}

function ipv4Bytes(a: string): Uint8Array {
  const parts = a.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) throw new IceError("INVALID_ARGUMENT", `not an IPv4 address: ${a}`);
  return Uint8Array.from(parts);
}

function ipv6Bytes(a: string): Uint8Array {
  const [head = "", tail] = a.split("::");
  const groups = (s: string): string[] => (s ? s.split(":") : []);
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  if (all.length !== 8) throw new IceError("INVALID_ARGUMENT", `not an IPv6 address: ${a}`);
  const b = new Uint8Array(16);
  all.forEach((g, i) => new DataView(b.buffer).setUint16(i * 2, parseInt(g, 16)));
  return b;
}

function ipv6Text(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return groups
    .join(":")
    .replace(/(^|:)0(:0)+(:|$)/, "::")
    .replace(/:::+/, "::");
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
