import { X509Certificate } from "node:crypto";
import { InfoHash } from "./infohash.js";
import { decode } from "./msgpack.js";
import type { Value } from "./value.js";

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
  /** Extra checks on a new value stored at `key` (beyond size and signature). */
  accepts(key: InfoHash, value: Value): boolean;
}

const always = (): boolean => true;

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

export function certificateKeyId(value: Value): InfoHash | undefined {
  const pem = certificatePemOf(value);
  if (!pem) return undefined;
  try {
    const spki = new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });
    return InfoHash.get(spki);
  } catch {
    return undefined;
  }
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
  { id: ValueType.UserData, name: "User Data", expirationMs: 10 * MINUTE, accepts: always },
  { id: ValueType.DhtMessage, name: "DHT message", expirationMs: 5 * MINUTE, accepts: dhtMessageValid },
  { id: ValueType.IpServiceAnnouncement, name: "Internet Service Announcement", expirationMs: 15 * MINUTE, accepts: always },
  { id: ValueType.ImMessage, name: "IM message", expirationMs: 5 * MINUTE, accepts: always },
  { id: ValueType.TrustRequest, name: "Certificate trust request", expirationMs: 7 * 24 * 60 * MINUTE, accepts: always },
  { id: ValueType.IceCandidates, name: "ICE candidates", expirationMs: 1 * MINUTE, accepts: always },
  {
    id: ValueType.Certificate,
    name: "Certificate",
    expirationMs: 7 * 24 * 60 * MINUTE,
    accepts: (key, value) => certificateKeyId(value)?.equals(key) ?? false,
  },
];

const BY_ID = new Map(RULES.map((r) => [r.id, r]));

/** The rule for a type id; unknown types follow User Data's rules, as in OpenDHT. */
export function valueTypeRule(type: number): ValueTypeRule {
  return BY_ID.get(type) ?? { ...RULES[0]!, id: type, name: `unknown type ${type}` };
}
