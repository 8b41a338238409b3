import { PublicKey } from "jami-identity";
import { DhtError } from "./errors.js";
import { InfoHash } from "./infohash.js";
import { Value } from "./value.js";

/** A value as the DHT proxy REST API carries it (`Value::toJson` / `Value(Json)`). */
export interface ValueJson {
  id: string;
  cypher?: string;
  data?: string;
  owner?: string;
  prio?: number;
  pt?: string;
  seq?: number;
  sig?: string;
  to?: string;
  type?: number;
  utype?: string;
  expired?: boolean;
}

function pemPublicKey(spki: Uint8Array): string {
  const b64 = Buffer.from(spki).toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN PUBLIC KEY-----\n${b64}\n-----END PUBLIC KEY-----\n`;
}

/** Keys sorted as OpenDHT's JsonCpp writes them. The owner PEM ends with a NUL, byte for byte as 2.4.12 sends it. */
export function valueToJson(v: Value): ValueJson {
  const out: Record<string, unknown> = {};
  if (v.cypher) {
    out.cypher = Buffer.from(v.cypher).toString("base64");
    out.id = v.id.toString();
    return out as unknown as ValueJson;
  }
  out.data = Buffer.from(v.data).toString("base64");
  out.id = v.id.toString();
  if (v.owner) out.owner = `${pemPublicKey(v.owner.spki)}\u0000`;
  if (v.priority) out.prio = v.priority;
  if (v.pushType) out.pt = v.pushType;
  if (v.owner) {
    out.seq = v.seq;
    out.sig = Buffer.from(v.signature ?? new Uint8Array()).toString("base64");
    if (v.recipient) out.to = v.recipient.toString();
  }
  out.type = v.type;
  if (v.userType) out.utype = v.userType;
  return out as unknown as ValueJson;
}

function b64(field: unknown, name: string): Uint8Array {
  if (typeof field !== "string" || !/^[A-Za-z0-9+/=\s]*$/.test(field)) throw new DhtError("VALUE_INVALID", `${name} is not base64`);
  return Buffer.from(field, "base64");
}

/** Reads a proxy JSON value. Throws `VALUE_INVALID` on anything malformed. */
export function valueFromJson(json: unknown): Value {
  if (typeof json !== "object" || json === null) throw new DhtError("VALUE_INVALID", "value JSON must be an object");
  const j = json as Record<string, unknown>;
  let id: bigint;
  try {
    id = BigInt(j.id as string | number);
  } catch {
    throw new DhtError("VALUE_INVALID", "value JSON needs a numeric id");
  }
  if (id < 0n || id >= 1n << 64n) throw new DhtError("VALUE_INVALID", "value id is not a u64");
  const v = new Value({ id });
  if (j.cypher !== undefined) {
    v.cypher = b64(j.cypher, "cypher");
    return v;
  }
  if (j.data !== undefined) v.data = b64(j.data, "data");
  if (j.type !== undefined) {
    if (!Number.isInteger(j.type) || (j.type as number) < 0 || (j.type as number) > 0xffff) throw new DhtError("VALUE_INVALID", "type is not a u16");
    v.type = j.type as number;
  }
  if (typeof j.utype === "string") v.userType = j.utype;
  if (typeof j.prio === "number") v.priority = j.prio;
  if (typeof j.pt === "string") v.pushType = j.pt;
  if (j.owner !== undefined) {
    if (typeof j.owner !== "string") throw new DhtError("VALUE_INVALID", "owner is not a PEM string");
    // OpenDHT's JSON carries the PEM with its C string terminator(s).
    // eslint-disable-next-line no-control-regex
    const pem = j.owner.replace(/\u0000+$/, "");
    const body = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(pem)?.[1];
    if (!body) throw new DhtError("VALUE_INVALID", "owner is not a PEM public key");
    try {
      v.owner = PublicKey.fromSpki(Buffer.from(body.replace(/\s+/g, ""), "base64"));
    } catch (cause) {
      throw new DhtError("VALUE_INVALID", "owner is not a public key", { cause });
    }
    if (!Number.isInteger(j.seq)) throw new DhtError("VALUE_INVALID", "signed value without seq");
    v.seq = j.seq as number;
    v.signature = b64(j.sig, "sig");
    if (j.to !== undefined) v.recipient = InfoHash.fromHex(String(j.to));
  }
  return v;
}

/** JSON with object keys sorted (JsonCpp's order), for responses that match OpenDHT's byte for byte. */
export function sortedJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
