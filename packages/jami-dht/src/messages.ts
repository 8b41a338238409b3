/**
 * OpenDHT datagrams: parsing into one flat typed record, and builders that write each message with the key order
 * OpenDHT 2.4.12 uses (so our packets are byte-identical to a real node's).
 */
import { DhtError } from "./errors.js";
import { InfoHash } from "./infohash.js";
import { decodeMsgpack as decode, decodeArrayItems, decodeMapEntries, encodeMsgpack as encode, RawMsg, type MsgValue } from "jami-core";
import { decodeCompactNodes, encodeCompactNodes, ipBytes, ipFromBytes, type NodeEntry } from "./node-entry.js";
import { Value, type ValueFieldId } from "./value.js";

export const QUERY_NAMES = ["ping", "find", "get", "put", "listen", "refresh", "update"] as const;
export type QueryName = (typeof QUERY_NAMES)[number];
export const USER_AGENT = "RNG1";
export const AF_INET = 2;
export const AF_INET6 = 10;

export const ErrorCode = {
  NonAuthoritative: 203,
  Unauthorized: 401,
  NotFound: 404,
  InvalidTidSize: 421,
  UnknownTid: 422,
  WrongNodeInfoBufLen: 423,
} as const;

/** `{f, v}` of a where clause. */
export interface FieldValue {
  field: ValueFieldId;
  value: number | bigint | Uint8Array;
}

/** A get/listen filter (`q` argument): select fields, where field == value. */
export interface ValueQuery {
  select: ValueFieldId[];
  where: FieldValue[];
}

/** The `fileds` answer to a query with a select: per value, one item per field id. */
export interface FieldsReply {
  fields: ValueFieldId[];
  rows: MsgValue[][];
}

export type MessageKind = "query" | "reply" | "error" | "valueData" | "valueUpdate";

export interface ParsedMessage {
  kind: MessageKind;
  tid: number;
  network: number;
  userAgent?: string;
  isClient: boolean;
  query?: QueryName;
  error?: { code: number; message: string };
  id?: InfoHash;
  hash?: InfoHash;
  target?: InfoHash;
  token?: Uint8Array;
  vid?: bigint;
  sid?: number;
  version?: number;
  created?: number;
  filter?: ValueQuery;
  want?: number[];
  requesterIp?: string;
  nodes4: NodeEntry[];
  nodes6: NodeEntry[];
  values: Value[];
  /** When values are fragmented: each value's byte length; the bytes follow in `valueData` datagrams. */
  valueSizes?: number[];
  fields?: FieldsReply;
  refreshed: bigint[];
  expired: bigint[];
  /** `valueData`: value index → fragment. */
  parts?: Map<number, { offset: number; data: Uint8Array }>;
  /** Values in this message that could not be parsed (counted, then ignored). */
  badValues: number;
}

type Entries = Map<string, { value: MsgValue; raw: Uint8Array }>;

function hashField(v: MsgValue | undefined, what: string): InfoHash | undefined {
  if (v === undefined) return undefined;
  if (!(v instanceof Uint8Array) || v.length !== 20) throw new DhtError("MESSAGE_INVALID", `${what} must be bin(20)`);
  return new InfoHash(v);
}

function uintField(v: MsgValue | undefined, max: bigint): bigint | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" && typeof v !== "bigint") return undefined;
  const b = BigInt(v);
  return b >= 0n && b <= max ? b : undefined;
}

function idList(v: MsgValue | undefined): bigint[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((x) => ((typeof x === "number" || typeof x === "bigint") && BigInt(x) >= 0n ? [BigInt(x)] : []));
}

function parseFilter(v: MsgValue | undefined): ValueQuery | undefined {
  if (typeof v !== "object" || v === null || v instanceof Uint8Array || Array.isArray(v) || v instanceof Map) return undefined;
  const select = Array.isArray(v.s) ? v.s.filter((f): f is number => typeof f === "number" && f >= 0 && f <= 5) : [];
  const where: FieldValue[] = [];
  if (Array.isArray(v.w)) {
    for (const fv of v.w) {
      if (typeof fv !== "object" || fv === null || fv instanceof Uint8Array || Array.isArray(fv) || fv instanceof Map) continue;
      const f = fv.f;
      const value = fv.v;
      if (typeof f !== "number" || f < 1 || f > 5) continue;
      if (typeof value === "number" || typeof value === "bigint" || value instanceof Uint8Array) {
        where.push({ field: f as ValueFieldId, value });
      }
    }
  }
  return { select: select as ValueFieldId[], where };
}

function parseFields(v: MsgValue | undefined): FieldsReply | undefined {
  if (typeof v !== "object" || v === null || v instanceof Uint8Array || Array.isArray(v) || v instanceof Map) return undefined;
  if (!Array.isArray(v.f) || !Array.isArray(v.v)) return undefined;
  const fields = v.f.filter((f): f is number => typeof f === "number") as ValueFieldId[];
  if (fields.length === 0 || v.v.length % fields.length !== 0) return undefined;
  const rows: MsgValue[][] = [];
  for (let i = 0; i < v.v.length; i += fields.length) rows.push(v.v.slice(i, i + fields.length));
  return { fields, rows };
}

function parseValues(raw: Uint8Array, msg: ParsedMessage): void {
  for (const item of decodeArrayItems(raw)) {
    const first = item[0]!;
    if (first < 0x80 || (first >= 0xcc && first <= 0xcf)) {
      const size = decode(item);
      if (typeof size !== "number") throw new DhtError("MESSAGE_INVALID", "bad value size");
      (msg.valueSizes ??= []).push(size);
      continue;
    }
    try {
      msg.values.push(Value.decode(item));
    } catch {
      msg.badValues++;
    }
  }
  if (msg.valueSizes && msg.values.length > 0) throw new DhtError("MESSAGE_INVALID", "values mix sizes and inline values");
}

function parseBody(entries: Entries, msg: ParsedMessage): void {
  const get = (k: string): MsgValue | undefined => entries.get(k)?.value;
  msg.id = hashField(get("id"), "id");
  msg.hash = hashField(get("h"), "h");
  msg.target = hashField(get("target"), "target");
  const token = get("token");
  if (token instanceof Uint8Array) msg.token = token;
  msg.vid = uintField(get("vid"), (1n << 64n) - 1n);
  const sid = uintField(get("sid"), 0xffffffffn);
  if (sid !== undefined) msg.sid = Number(sid);
  const ve = get("ve");
  if (typeof ve === "number") msg.version = ve;
  const c = get("c");
  if (typeof c === "number") msg.created = c;
  msg.filter = parseFilter(get("q"));
  const w = get("w");
  if (Array.isArray(w)) msg.want = w.filter((x): x is number => typeof x === "number");
  const sa = get("sa");
  if (sa instanceof Uint8Array && (sa.length === 4 || sa.length === 16)) msg.requesterIp = ipFromBytes(sa);
  const n4 = get("n4");
  if (n4 instanceof Uint8Array) msg.nodes4 = decodeCompactNodes(n4, 4);
  const n6 = get("n6");
  if (n6 instanceof Uint8Array) msg.nodes6 = decodeCompactNodes(n6, 6);
  const values = entries.get("values");
  if (values && Array.isArray(values.value)) parseValues(values.raw, msg);
  msg.fields = parseFields(get("fileds"));
  msg.refreshed = idList(get("re"));
  msg.expired = idList(get("exp"));
}

function parseParts(v: MsgValue | undefined): Map<number, { offset: number; data: Uint8Array }> {
  const out = new Map<number, { offset: number; data: Uint8Array }>();
  const entries: [MsgValue, MsgValue | undefined][] =
    v instanceof Map ? [...v.entries()] : typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) ? Object.entries(v) : [];
  for (const [k, part] of entries) {
    const index = typeof k === "number" ? k : typeof k === "string" && /^\d+$/.test(k) ? Number(k) : -1;
    if (index < 0 || typeof part !== "object" || part === null || part instanceof Uint8Array || Array.isArray(part) || part instanceof Map) continue;
    if (typeof part.o === "number" && part.o >= 0 && part.d instanceof Uint8Array) out.set(index, { offset: part.o, data: part.d });
  }
  return out;
}

/**
 * Parses one datagram as OpenDHT's `ParsedMessage` does. Throws `DhtError` (`DECODE` / `MESSAGE_INVALID`) for
 * anything a real node would drop; unknown keys are ignored.
 */
export function parseMessage(bytes: Uint8Array): ParsedMessage {
  let top: Entries;
  try {
    top = decodeMapEntries(bytes);
  } catch (cause) {
    throw new DhtError("DECODE", `not a msgpack map: ${(cause as Error).message}`, { cause });
  }
  const get = (k: string): MsgValue | undefined => top.get(k)?.value;
  const tidRaw = get("t");
  let tid: number;
  if (typeof tidRaw === "number" && tidRaw >= 0 && tidRaw <= 0xffffffff) tid = tidRaw;
  else if (tidRaw instanceof Uint8Array && tidRaw.length === 4) tid = new DataView(tidRaw.buffer, tidRaw.byteOffset).getUint32(0);
  else throw new DhtError("MESSAGE_INVALID", "missing or invalid transaction id");
  const n = get("n");
  const v = get("v");
  const msg: ParsedMessage = {
    kind: "query",
    tid,
    network: typeof n === "number" ? n : 0,
    userAgent: typeof v === "string" ? v : undefined,
    isClient: get("s") === true,
    nodes4: [],
    nodes6: [],
    values: [],
    refreshed: [],
    expired: [],
    badValues: 0,
  };
  const e = get("e");
  const bodyOf = (k: string): Entries | undefined => {
    const entry = top.get(k);
    if (!entry) return undefined;
    try {
      return decodeMapEntries(entry.raw);
    } catch {
      throw new DhtError("MESSAGE_INVALID", `'${k}' is not a map`);
    }
  };
  if (e !== undefined) {
    msg.kind = "error";
    if (!Array.isArray(e) || e.length < 1 || typeof e[0] !== "number") throw new DhtError("MESSAGE_INVALID", "malformed error");
    msg.error = { code: e[0], message: typeof e[1] === "string" ? e[1] : "" };
    const r = bodyOf("r");
    if (r) parseBody(r, msg);
    return msg;
  }
  const r = bodyOf("r");
  if (r) {
    msg.kind = "reply";
    parseBody(r, msg);
  } else if (top.has("p")) {
    msg.kind = "valueData";
    msg.parts = parseParts(get("p"));
    return msg;
  } else if (top.has("u")) {
    msg.kind = "valueUpdate";
    const u = bodyOf("u");
    if (u) parseBody(u, msg);
  } else {
    const y = get("y");
    const q = get("q");
    if (y !== "q" || typeof q !== "string" || !(QUERY_NAMES as readonly string[]).includes(q)) {
      throw new DhtError("MESSAGE_INVALID", "not a known query");
    }
    msg.query = q as QueryName;
    const a = bodyOf("a");
    if (!a) throw new DhtError("MESSAGE_INVALID", "query without arguments");
    parseBody(a, msg);
  }
  if (!msg.id || msg.id.isZero()) throw new DhtError("MESSAGE_INVALID", "message without sender id");
  return msg;
}

// ---- builders -------------------------------------------------------------------------------------------------

/** What every outgoing message carries. */
export interface Envelope {
  tid: number;
  network: number;
  userAgent?: string;
}

function withEnvelope(env: Envelope, body: Record<string, unknown>, order: "aqtyv" | "rtyv" | "ertyv" | "ayvqt"): Uint8Array {
  const ua = env.userAgent ?? USER_AGENT;
  const n = env.network ? env.network : undefined;
  switch (order) {
    case "aqtyv":
      return encode({ a: body.a, q: body.q, t: env.tid, y: "q", v: ua, n });
    case "ayvqt":
      return encode({ a: body.a, y: "q", v: ua, q: body.q, t: env.tid, n });
    case "rtyv":
      return encode({ r: body.r, t: env.tid, y: "r", v: ua, n });
    case "ertyv":
      return encode({ e: body.e, r: body.r, t: env.tid, y: "e", v: ua, n });
  }
}

export function encodeFilter(q: ValueQuery): Record<string, unknown> {
  return { s: q.select, w: q.where.map((fv) => ({ f: fv.field, v: fv.value })) };
}

const hasFilter = (q?: ValueQuery): q is ValueQuery => q !== undefined && (q.select.length > 0 || q.where.length > 0);

export function buildPing(env: Envelope, id: InfoHash): Uint8Array {
  return withEnvelope(env, { a: { id: id.bytes }, q: "ping" }, "aqtyv");
}

export function buildFind(env: Envelope, id: InfoHash, target: InfoHash, want?: number[]): Uint8Array {
  return withEnvelope(env, { a: { id: id.bytes, target: target.bytes, w: want }, q: "find" }, "aqtyv");
}

export function buildGet(env: Envelope, id: InfoHash, hash: InfoHash, filter?: ValueQuery, want?: number[]): Uint8Array {
  const a = { id: id.bytes, h: hash.bytes, q: hasFilter(filter) ? encodeFilter(filter) : undefined, w: want };
  return withEnvelope(env, { a, q: "get" }, "aqtyv");
}

/** `values` is either inline values or, when fragmented, their sizes (see `splitValues`). */
export function buildPut(env: Envelope, id: InfoHash, hash: InfoHash, values: unknown[], token: Uint8Array, created?: number): Uint8Array {
  return withEnvelope(env, { a: { id: id.bytes, h: hash.bytes, values, c: created, token }, q: "put" }, "aqtyv");
}

export function buildListen(env: Envelope, id: InfoHash, hash: InfoHash, token: Uint8Array, sid: number, filter?: ValueQuery): Uint8Array {
  const a = { id: id.bytes, ve: 1, h: hash.bytes, token, sid, q: hasFilter(filter) ? encodeFilter(filter) : undefined };
  return withEnvelope(env, { a, q: "listen" }, "aqtyv");
}

export function buildRefresh(env: Envelope, id: InfoHash, hash: InfoHash, vid: bigint, token: Uint8Array): Uint8Array {
  return withEnvelope(env, { a: { id: id.bytes, h: hash.bytes, vid, token }, q: "refresh" }, "aqtyv");
}

export function buildUpdateValues(
  env: Envelope,
  id: InfoHash,
  hash: InfoHash,
  sid: number,
  values: unknown[],
  token: Uint8Array,
  created?: number,
): Uint8Array {
  return withEnvelope(env, { a: { id: id.bytes, ve: 1, h: hash.bytes, sid, values, c: created, token }, q: "update" }, "aqtyv");
}

export function buildUpdateIds(env: Envelope, id: InfoHash, sid: number, token: Uint8Array, ids: bigint[], what: "re" | "exp"): Uint8Array {
  return withEnvelope(env, { a: { id: id.bytes, sid, token, [what]: ids }, q: "update" }, "ayvqt");
}

export interface ReplyFields {
  vid?: bigint;
  requesterIp?: string;
  nodes4?: NodeEntry[];
  nodes6?: NodeEntry[];
  token?: Uint8Array;
  values?: unknown[];
  fields?: FieldsReply;
}

export function buildReply(env: Envelope, id: InfoHash, f: ReplyFields = {}): Uint8Array {
  const r = {
    id: id.bytes,
    vid: f.vid,
    sa: f.requesterIp ? ipBytes(f.requesterIp) : undefined,
    n4: f.nodes4?.length ? encodeCompactNodes(f.nodes4, 4) : undefined,
    n6: f.nodes6?.length ? encodeCompactNodes(f.nodes6, 6) : undefined,
    token: f.token,
    values: f.values,
    fileds: f.fields ? { f: f.fields.fields, v: f.fields.rows.flat() } : undefined,
  };
  return withEnvelope(env, { r }, "rtyv");
}

export function buildError(env: Envelope, id: InfoHash, code: number, message: string): Uint8Array {
  return withEnvelope(env, { e: [code, message], r: { id: id.bytes } }, "ertyv");
}

export function buildValueData(env: Envelope, index: number, offset: number, data: Uint8Array): Uint8Array {
  return encode({ y: "p", t: env.tid, p: new Map([[index, { o: offset, d: data }]]), n: env.network || undefined });
}

/** Values ≥ this many bytes in total (or ≥ 50 values) travel as fragments. */
export const MAX_PACKET_VALUE_SIZE = 600;
export const MTU = 1280;

/**
 * OpenDHT's choice between inline values and sizes + ValueData fragments. Returns what goes in `values` and the
 * serialized values to fragment (empty when inline).
 */
export function splitValues(values: Value[]): { field: unknown[]; fragments: Uint8Array[] } {
  const encoded = values.map((v) => v.encode());
  const total = encoded.reduce((n, b) => n + b.length, 0);
  if (values.length < 50 && total < MAX_PACKET_VALUE_SIZE) return { field: encoded.map((b) => new RawMsg(b)), fragments: [] };
  return { field: encoded.map((b) => b.length), fragments: encoded };
}

/** The ValueData datagrams that follow a message with fragmented values. */
export function fragmentDatagrams(env: Envelope, fragments: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  fragments.forEach((bytes, index) => {
    for (let offset = 0; offset < bytes.length; offset += MTU) {
      out.push(buildValueData(env, index, offset, bytes.subarray(offset, offset + MTU)));
    }
  });
  return out;
}
