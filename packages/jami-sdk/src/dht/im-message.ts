import { decodeMsgpack, encodeMsgpack, isMsgMap, type MsgValue } from "jami-core";

/** OpenDHT's ImMessage value type (5 minutes): jamid 13.7's text messages over the DHT inbox. */
export const IM_MESSAGE_TYPE = 3;

/**
 * jamid 13.7's `dht::ImMessage` (spec jami-identity-connection.md §3.4): a text message, or a git notice or an
 * invitation as text, put encrypted at the recipient device's inbox when no `sip` channel is up. The recipient
 * confirms with the same `id`, empty `msg` and `datatype`, at its own inbox, encrypted to the sender.
 */
export interface ImMessage {
  /** The message token (1..2^53). */
  id: bigint;
  msg: string;
  /** The MIME type of `msg` (empty: text/plain). */
  datatype: string;
  /** Unix seconds. */
  date: number;
  status: number;
  metadatas: Record<string, string>;
}

/** msgpack map in OpenDHT's member order (`MSGPACK_DEFINE_MAP(id, msg, date, status, datatype, metadatas)`). */
export function encodeImMessage(m: ImMessage): Uint8Array {
  return encodeMsgpack({ id: m.id, msg: m.msg, date: m.date, status: m.status, datatype: m.datatype, metadatas: m.metadatas });
}

/** `undefined` for anything that is not an ImMessage (as OpenDHT's unpack fails). */
export function decodeImMessage(data: Uint8Array): ImMessage | undefined {
  let map: MsgValue;
  try {
    map = decodeMsgpack(data);
  } catch {
    return undefined;
  }
  if (!isMsgMap(map)) return undefined;
  const m = map as Record<string, MsgValue>;
  const id = typeof m.id === "bigint" ? m.id : typeof m.id === "number" && Number.isSafeInteger(m.id) && m.id >= 0 ? BigInt(m.id) : undefined;
  if (id === undefined || typeof m.msg !== "string") return undefined;
  const metadatas: Record<string, string> = {};
  if (isMsgMap(m.metadatas)) for (const [k, v] of Object.entries(m.metadatas)) if (typeof v === "string") metadatas[k] = v;
  return {
    id,
    msg: m.msg,
    datatype: typeof m.datatype === "string" ? m.datatype : "",
    date: typeof m.date === "number" ? m.date : typeof m.date === "bigint" ? Number(m.date) : 0,
    status: typeof m.status === "number" ? m.status : 0,
    metadatas,
  };
}
