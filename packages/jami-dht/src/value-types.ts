import { createHash, X509Certificate } from "node:crypto";
import { InfoHash } from "./infohash.js";
import { decodeMsgpack as decode, encodeMsgpack as encode } from "jami-core";
import { ipBytes, ipFromBytes } from "./node-entry.js";
import { Value } from "./value.js";

/** Value type ids of OpenDHT's default types (`default_types.h`) and the certificate type. */
export const ValueType = {
  UserData: 0,
  DhtMessage: 1,
  IpServiceAnnouncement: 2,
  ImMessage: 3,
  TrustRequest: 4,
  IceCandidates: 5,
  Certificate: 8,
} as const;

const MINUTE = 60_000;

export interface ValueTypeRule {
  id: number;
  name: string;
  expirationMs: number;
  /**
   * The type's store policy for a value put at `key` by `sourceIp` (absent for our own puts): the value to keep
   * (possibly rewritten), or `undefined` to refuse it.
   */
  storePolicy(key: InfoHash, value: Value, sourceIp?: string): Value | undefined;
  /** Whether an unsigned value may replace another with the same id (default: no). */
  editPolicy?(key: InfoHash, old: Value, next: Value): boolean;
}

const keep = (_key: InfoHash, value: Value): Value => value;
const only =
  (check: (key: InfoHash, value: Value) => boolean) =>
  (key: InfoHash, value: Value): Value | undefined =>
    check(key, value) ? value : undefined;

/** The certificate a type-8 value carries: its `data` is msgpack bin(PEM chain) — the first certificate counts. */
export function certificatePemOf(value: Value): string | undefined {
  try {
    const inner = value.data[0] === 0x2d ? value.data : decode(value.data);
    if (!(inner instanceof Uint8Array)) return undefined;
    return Buffer.from(inner).toString("latin1");
  } catch {
    return undefined;
  }
}

function certificateSpki(value: Value): Buffer | undefined {
  const pem = certificatePemOf(value);
  if (!pem) return undefined;
  try {
    return new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });
  } catch {
    return undefined;
  }
}

/** The key id (SHA-1 of the SPKI) of the certificate a type-8 value carries. */
export function certificateKeyId(value: Value): InfoHash | undefined {
  const spki = certificateSpki(value);
  return spki ? InfoHash.get(spki) : undefined;
}

/** Where a certificate may be stored: at its key id, or (OpenDHT ≥ 3.5) at SHA-1 of its 32-byte long id. */
function certificateKeys(value: Value): InfoHash[] {
  const spki = certificateSpki(value);
  return spki ? [InfoHash.get(spki), InfoHash.get(createHash("sha256").update(spki).digest())] : [];
}

/**
 * An IP service announcement's data: msgpack bin of a Linux `sockaddr_in` / `sockaddr_in6` (family in host byte
 * order, port and address in network order), as OpenDHT writes `SockAddr`.
 */
export function encodeServiceAddress(ip: string, port: number): Uint8Array {
  const v4 = !ip.includes(":");
  const sa = Buffer.alloc(v4 ? 16 : 28);
  sa.writeUInt16LE(v4 ? 2 : 10, 0);
  sa.writeUInt16BE(port, 2);
  sa.set(ipBytes(ip), v4 ? 4 : 8);
  return encode(sa);
}

export function decodeServiceAddress(data: Uint8Array): { ip: string; port: number } | undefined {
  try {
    const sa = decode(data);
    if (!(sa instanceof Uint8Array) || sa.length < 8) return undefined;
    const b = Buffer.from(sa);
    const family = b.readUInt16LE(0);
    const port = b.readUInt16BE(2);
    if (family === 2 && b.length >= 8) return { ip: ipFromBytes(b.subarray(4, 8)), port };
    if (family === 10 && b.length >= 24) return { ip: ipFromBytes(b.subarray(8, 24)), port };
    return undefined;
  } catch {
    return undefined;
  }
}

/** OpenDHT's rule: the announced port is kept, the address becomes the one the put came from. */
function ipServicePolicy(_key: InfoHash, value: Value, sourceIp?: string): Value | undefined {
  const announced = decodeServiceAddress(value.data);
  if (!announced || announced.port === 0) return undefined;
  if (!sourceIp) return value;
  return new Value({ id: value.id, type: value.type, data: encodeServiceAddress(sourceIp, announced.port) });
}

function dhtMessageValid(_key: InfoHash, value: Value): boolean {
  try {
    const m = decode(value.data);
    return Array.isArray(m) && typeof m[0] === "string" && m[0].length > 0;
  } catch {
    return false;
  }
}

const RULES: ValueTypeRule[] = [
  { id: ValueType.UserData, name: "User Data", expirationMs: 10 * MINUTE, storePolicy: keep },
  { id: ValueType.DhtMessage, name: "DHT message", expirationMs: 5 * MINUTE, storePolicy: only(dhtMessageValid) },
  { id: ValueType.IpServiceAnnouncement, name: "Internet Service Announcement", expirationMs: 15 * MINUTE, storePolicy: ipServicePolicy },
  { id: ValueType.ImMessage, name: "IM message", expirationMs: 5 * MINUTE, storePolicy: keep },
  { id: ValueType.TrustRequest, name: "Certificate trust request", expirationMs: 7 * 24 * 60 * MINUTE, storePolicy: keep },
  { id: ValueType.IceCandidates, name: "ICE candidates", expirationMs: 1 * MINUTE, storePolicy: keep },
  {
    id: ValueType.Certificate,
    name: "Certificate",
    expirationMs: 7 * 24 * 60 * MINUTE,
    storePolicy: only((key, value) => certificateKeys(value).some((k) => k.equals(key))),
    // A renewed certificate of the same key replaces the old one.
    editPolicy: (_key, old, next) => {
      const a = certificateSpki(old);
      const b = certificateSpki(next);
      return a !== undefined && b !== undefined && a.equals(b);
    },
  },
];

const BY_ID = new Map(RULES.map((r) => [r.id, r]));

/** The rule for a type id; unknown types follow User Data's rules, as in OpenDHT. */
export function valueTypeRule(type: number): ValueTypeRule {
  return BY_ID.get(type) ?? { ...RULES[0]!, id: type, name: `unknown type ${type}` };
}
