import { encodeMsgpack, isMsgMap, RawMsg, type MsgMap, type MsgValue } from "jami-core";

/** A conversation as jamid 13.7 tells its other devices about it (`ConvInfo`; times in Unix seconds, 0 = unset). */
export interface ConvInfo {
  id: string;
  created: number;
  removed: number;
  erased: number;
  members: string[];
  lastDisplayed: string;
}

/** An invitation as jamid 13.7 syncs it (`ConversationRequest`; times in Unix seconds, 0 = unset). */
export interface SyncedConversationRequest {
  from: string;
  conversationId: string;
  metadatas: Record<string, string>;
  received: number;
  declined: number;
}

/** What a `sync://` message carries for conversations (its `ds` DeviceSync part is the devices feature's: `encodeSyncMsg`'s `deviceSync`). */
export interface SyncMsg {
  conversations: Record<string, ConvInfo>;
  requests: Record<string, SyncedConversationRequest>;
}

/** A default-constructed DeviceSync, as 13.7 packs it in the messages that only carry conversations. */
const EMPTY_DEVICE_SYNC: MsgMap = { date: 0, device_name: "", devices_known: {}, devices: {}, peers: {}, trust_requests: {} };

/**
 * jamid 13.7's `SyncMsg`: a msgpack array `[ds, c, cr, p]` (`MSGPACK_DEFINE`, positional; later daemons add `ld`,
 * which 13.7's reader ignores and ours too), maps in the members' order of jamid's `MSGPACK_DEFINE_MAP`.
 */
export function encodeSyncMsg(msg: Partial<SyncMsg> & { deviceSync?: Uint8Array }): Uint8Array {
  const c: MsgMap = {};
  for (const [id, info] of Object.entries(msg.conversations ?? {}))
    c[id] = { id: info.id, created: info.created, removed: info.removed, erased: info.erased, members: info.members, lastDisplayed: info.lastDisplayed };
  const cr: MsgMap = {};
  for (const [id, r] of Object.entries(msg.requests ?? {}))
    cr[id] = { from: r.from, conversationId: r.conversationId, metadatas: r.metadatas, received: r.received, declined: r.declined };
  return encodeMsgpack([msg.deviceSync ? new RawMsg(msg.deviceSync) : EMPTY_DEVICE_SYNC, c, cr, {}]);
}

const HEX40 = /^[0-9a-f]{40}$/;
const int = (v: MsgValue | undefined): number => (typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : 0);
const str = (v: MsgValue | undefined): string => (typeof v === "string" ? v : "");

/** The conversation parts of a decoded `SyncMsg`; undefined when it is not one. Entries with bad ids are skipped. */
export function readSyncMsg(value: MsgValue): SyncMsg | undefined {
  if (!Array.isArray(value) || value.length < 3) return undefined;
  const [, c, cr] = value;
  const out: SyncMsg = { conversations: {}, requests: {} };
  if (isMsgMap(c)) {
    for (const entry of Object.values(c)) {
      if (!isMsgMap(entry) || !HEX40.test(str(entry.id))) continue;
      const members = Array.isArray(entry.members) ? entry.members.filter((m): m is string => typeof m === "string" && HEX40.test(m)) : [];
      const id = str(entry.id);
      out.conversations[id] = {
        id,
        created: int(entry.created),
        removed: int(entry.removed),
        erased: int(entry.erased),
        members,
        lastDisplayed: str(entry.lastDisplayed),
      };
    }
  }
  if (isMsgMap(cr)) {
    for (const entry of Object.values(cr)) {
      if (!isMsgMap(entry) || !HEX40.test(str(entry.conversationId)) || !HEX40.test(str(entry.from))) continue;
      const metadatas: Record<string, string> = {};
      if (isMsgMap(entry.metadatas)) for (const [k, v] of Object.entries(entry.metadatas)) if (typeof v === "string") metadatas[k] = v;
      const conversationId = str(entry.conversationId);
      out.requests[conversationId] = { from: str(entry.from), conversationId, metadatas, received: int(entry.received), declined: int(entry.declined) };
    }
  }
  return out;
}
