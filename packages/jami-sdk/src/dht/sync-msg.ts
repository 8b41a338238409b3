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

/**
 * Where one member stands in a conversation, as today's daemons sync it between devices of one account (`ms`): the
 * newest commit a device of that member fetched, and the last one it displayed, each with its time (Unix seconds).
 */
export interface MemberStatus {
  fetched?: string;
  fetchedAt?: number;
  read?: string;
  readAt?: number;
}

/** Per conversation, per member account. */
export type MemberStatuses = Record<string, Record<string, MemberStatus>>;

/** What a `sync://` message carries for conversations (its `ds` DeviceSync part is the devices feature's: `encodeSyncMsg`'s `deviceSync`). */
export interface SyncMsg {
  conversations: Record<string, ConvInfo>;
  requests: Record<string, SyncedConversationRequest>;
  /** Today's `ms` (absent from 13.7's messages, which stop at `p`). */
  statuses?: MemberStatuses;
}

/** A default-constructed DeviceSync, as 13.7 packs it in the messages that only carry conversations. */
const EMPTY_DEVICE_SYNC: MsgMap = { date: 0, device_name: "", devices_known: {}, devices: {}, peers: {}, trust_requests: {} };

/**
 * jamid's `SyncMsg`: a msgpack array (`MSGPACK_DEFINE`, positional), maps in the members' order of jamid's
 * `MSGPACK_DEFINE_MAP`. `[ds, c, cr, p]`, or with member statuses `[ds, c, cr, p, ld, ms]`: 13.7 reads the displayed
 * marks in `ld`, today's daemons read `ms` (and ignore `ld`); msgpack-c's `define_array` converts the elements it
 * knows and ignores the rest, so one message serves both.
 */
export function encodeSyncMsg(msg: Partial<SyncMsg> & { deviceSync?: Uint8Array }): Uint8Array {
  const c: MsgMap = {};
  for (const [id, info] of Object.entries(msg.conversations ?? {}))
    c[id] = { id: info.id, created: info.created, removed: info.removed, erased: info.erased, members: info.members, lastDisplayed: info.lastDisplayed };
  const cr: MsgMap = {};
  for (const [id, r] of Object.entries(msg.requests ?? {}))
    cr[id] = { from: r.from, conversationId: r.conversationId, metadatas: r.metadatas, received: r.received, declined: r.declined };
  const ds = msg.deviceSync ? new RawMsg(msg.deviceSync) : EMPTY_DEVICE_SYNC;
  const ms = encodeStatuses(msg.statuses ?? {});
  return encodeMsgpack(Object.keys(ms).length ? [ds, c, cr, {}, encodeDisplayed(msg.statuses ?? {}), ms] : [ds, c, cr, {}]);
}

/** jamid 13.7's `ld`: per conversation `{<member>: <displayed commit>, …, "lastModified": "<seconds>"}` (its `displayed()`). */
function encodeDisplayed(statuses: MemberStatuses): MsgMap {
  const out: MsgMap = {};
  for (const [conversationId, members] of Object.entries(statuses)) {
    const marks: Record<string, string> = {};
    let lastModified = 0;
    for (const [uri, status] of Object.entries(members))
      if (status.read && status.readAt !== undefined) {
        marks[uri] = status.read;
        lastModified = Math.max(lastModified, status.readAt);
      }
    if (Object.keys(marks).length) out[conversationId] = { ...marks, lastModified: String(lastModified) };
  }
  return out;
}

/** 13.7's `ld` as statuses: each member's mark dated by the map's `lastModified` (0 without one: older than any of ours). */
function readDisplayed(value: MsgValue | undefined, into: MemberStatuses): void {
  if (!isMsgMap(value)) return;
  for (const [conversationId, marks] of Object.entries(value)) {
    if (!HEX40.test(conversationId) || !isMsgMap(marks)) continue;
    const modified = str(marks.lastModified);
    const readAt = TIMESTAMP.test(modified) ? Number(modified) : 0;
    for (const [uri, commit] of Object.entries(marks))
      if (HEX40.test(uri) && typeof commit === "string" && HEX40.test(commit)) (into[conversationId] ??= {})[uri] = { read: commit, readAt };
  }
}

/** jamid's `messagesStatus_` layout: every value a string, a commit always with its time (its reader expects both). */
function encodeStatuses(statuses: MemberStatuses): MsgMap {
  const out: MsgMap = {};
  for (const [conversationId, members] of Object.entries(statuses)) {
    const byMember: MsgMap = {};
    for (const [uri, status] of Object.entries(members)) {
      const entry: MsgMap = {};
      if (status.fetched && status.fetchedAt !== undefined) Object.assign(entry, { fetched: status.fetched, fetched_ts: String(status.fetchedAt) });
      if (status.read && status.readAt !== undefined) Object.assign(entry, { read: status.read, read_ts: String(status.readAt) });
      if (Object.keys(entry).length) byMember[uri] = entry;
    }
    if (Object.keys(byMember).length) out[conversationId] = byMember;
  }
  return out;
}

/** Today's `ms` over `into`: entries with bad ids, commits or times are skipped (a commit without its time too, as jamid). */
function readStatuses(value: MsgValue | undefined, into: MemberStatuses): void {
  if (!isMsgMap(value)) return;
  for (const [conversationId, members] of Object.entries(value)) {
    if (!HEX40.test(conversationId) || !isMsgMap(members)) continue;
    for (const [uri, entry] of Object.entries(members)) {
      if (!HEX40.test(uri) || !isMsgMap(entry)) continue;
      const status: MemberStatus = {};
      const fetched = str(entry.fetched);
      const fetchedAt = str(entry.fetched_ts);
      if (HEX40.test(fetched) && TIMESTAMP.test(fetchedAt)) Object.assign(status, { fetched, fetchedAt: Number(fetchedAt) });
      const read = str(entry.read);
      const readAt = str(entry.read_ts);
      if (HEX40.test(read) && TIMESTAMP.test(readAt)) Object.assign(status, { read, readAt: Number(readAt) });
      if (Object.keys(status).length) (into[conversationId] ??= {})[uri] = { ...into[conversationId]?.[uri], ...status };
    }
  }
}

const HEX40 = /^[0-9a-f]{40}$/;
const TIMESTAMP = /^[0-9]{1,12}$/;
const int = (v: MsgValue | undefined): number => (typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : 0);
const str = (v: MsgValue | undefined): string => (typeof v === "string" ? v : "");

/** The conversation parts of a decoded `SyncMsg`; undefined when it is not one. Entries with bad ids are skipped. */
export function readSyncMsg(value: MsgValue): SyncMsg | undefined {
  if (!Array.isArray(value) || value.length < 3) return undefined;
  const [, c, cr, , ld, ms] = value;
  const out: SyncMsg = { conversations: {}, requests: {} };
  const statuses: MemberStatuses = {};
  readDisplayed(ld, statuses);
  readStatuses(ms, statuses);
  if (Object.keys(statuses).length) out.statuses = statuses;
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
