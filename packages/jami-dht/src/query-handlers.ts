import createDebug from "debug";
import type { RemoteListener } from "./dht-node.js";
import type { InfoHash } from "./infohash.js";
import type { Family } from "./node-entry.js";
import type { RoutingTable } from "./routing-table.js";
import type { Rpc } from "./rpc.js";
import type { Storage } from "./storage.js";
import type { TokenIssuer } from "./tokens.js";
import {
  AF_INET,
  AF_INET6,
  buildError,
  buildReply,
  ErrorCode,
  fragmentDatagrams,
  splitValues,
  type Envelope,
  type FieldsReply,
  type ParsedMessage,
} from "./messages.js";
import { addressKey, type NodeEntry, type SocketAddress } from "./node-entry.js";
import { TARGET_NODES } from "./routing-table.js";
import { ValueField, type Value } from "./value.js";

const log = createDebug("jami:dht:server");

/** What answering a query needs of the node (`DhtNode` builds one; its other members stay private). */
export interface QueryContext {
  readonly id: InfoHash;
  now(): number;
  readonly rpc: Pick<Rpc, "send" | "envelope">;
  readonly tokens: Pick<TokenIssuer, "issue" | "check">;
  readonly storage: Pick<Storage, "get" | "refresh">;
  readonly tables: ReadonlyMap<Family, RoutingTable>;
  /** Remote listeners per key, per listening node (kept by the node, filled by `listen` queries). */
  readonly remoteListeners: Map<string, Map<string, RemoteListener>>;
  amongClosest(key: InfoHash): boolean;
  storeLocal(key: InfoHash, value: Value, created: number, source: string): boolean;
  pushValues(key: InfoHash, listener: RemoteListener, values: Value[]): void;
  notifyRefreshed(key: InfoHash, ids: bigint[]): void;
  deliverUpdate(msg: ParsedMessage): boolean;
}

function closestNodes(
  node: QueryContext,
  msg: ParsedMessage,
  from: SocketAddress,
  target = msg.target ?? msg.hash!,
): { nodes4?: NodeEntry[]; nodes6?: NodeEntry[] } {
  const want = msg.want?.length ? msg.want : [from.family === 4 ? AF_INET : AF_INET6];
  const now = node.now();
  const pick = (family: 4 | 6): NodeEntry[] | undefined =>
    node.tables
      .get(family)
      ?.closest(target, TARGET_NODES, now)
      .map((n) => n.toEntry());
  return {
    nodes4: want.includes(AF_INET) ? pick(4) : undefined,
    // Windows and macOS builds send their own AF_INET6 constants (23, 30).
    nodes6: want.some((w) => w === AF_INET6 || w === 23 || w === 30) ? pick(6) : undefined,
  };
}

/** The `fileds` answer: one row per value, the selected fields in id order. */
function fieldsOf(values: Value[], select: number[]): FieldsReply {
  const fields = [...new Set(select)].sort((a, b) => a - b) as FieldsReply["fields"];
  const rows = values.map((v) =>
    fields.map((f) => {
      switch (f) {
        case ValueField.Id:
          return v.id;
        case ValueField.ValueType:
          return v.type;
        case ValueField.OwnerPk:
          return v.owner ? v.owner.spki : new Uint8Array(20);
        case ValueField.SeqNum:
          return v.seq;
        case ValueField.UserType:
          return v.userType;
        default:
          return null;
      }
    }),
  );
  return { fields, rows: rows as FieldsReply["rows"] };
}

function reply(node: QueryContext, env: Envelope, to: SocketAddress, bytes: Uint8Array, fragments: Uint8Array[] = []): void {
  node.rpc.send(bytes, to);
  for (const d of fragmentDatagrams(env, fragments)) node.rpc.send(d, to);
}

function error(node: QueryContext, env: Envelope, to: SocketAddress, code: number, message: string): void {
  node.rpc.send(buildError(env, node.id, code, message), to);
}

/** Answers one incoming query as an OpenDHT 2.4.12 node does. */
export function handleQuery(node: QueryContext, msg: ParsedMessage, from: SocketAddress): void {
  const env = node.rpc.envelope(msg.tid);
  const now = node.now();
  const sa = from.address;
  switch (msg.query) {
    case "ping":
      return reply(node, env, from, buildReply(env, node.id, { requesterIp: sa }));

    case "find": {
      if (!msg.target) return;
      const token = node.tokens.issue(from, now);
      return reply(node, env, from, buildReply(env, node.id, { requesterIp: sa, ...closestNodes(node, msg, from), token }));
    }

    case "get": {
      if (!msg.hash) return error(node, env, from, ErrorCode.NonAuthoritative, "Get_values with no info_hash");
      const token = node.tokens.issue(from, now);
      const stored = node.storage.get(msg.hash, msg.filter).map((s) => s.value);
      const nodes = closestNodes(node, msg, from);
      if (msg.filter?.select.length) {
        return reply(node, env, from, buildReply(env, node.id, { requesterIp: sa, ...nodes, token, fields: fieldsOf(stored, msg.filter.select) }));
      }
      const { field, fragments } = splitValues(stored);
      const values = stored.length ? field : undefined;
      return reply(node, env, from, buildReply(env, node.id, { requesterIp: sa, ...nodes, token, values }), fragments);
    }

    case "put": {
      if (!msg.hash) return error(node, env, from, ErrorCode.NonAuthoritative, "Put with no info_hash");
      if (!node.tokens.check(msg.token, from, now)) return error(node, env, from, ErrorCode.Unauthorized, "Put with wrong token");
      if (msg.values.length === 0 && msg.badValues === 0) return;
      const store = node.amongClosest(msg.hash);
      const created = msg.created !== undefined ? msg.created * 1000 : now;
      for (const v of msg.values) {
        if (v.id === 0n) {
          error(node, env, from, ErrorCode.NonAuthoritative, "Put with invalid id");
          continue;
        }
        if (store) node.storeLocal(msg.hash, v, created, from.address);
        // Success is sent even when the value is not kept: it only means "received" (as OpenDHT does).
        reply(node, env, from, buildReply(env, node.id, { vid: v.id, requesterIp: sa }));
      }
      return;
    }

    case "listen": {
      if (!msg.hash) return error(node, env, from, ErrorCode.NonAuthoritative, "Listen with no info_hash");
      if (!node.tokens.check(msg.token, from, now)) return error(node, env, from, ErrorCode.Unauthorized, "Listen with wrong token");
      const sid = msg.sid ?? msg.tid;
      const key = msg.hash.toString();
      const listeners = node.remoteListeners.get(key) ?? new Map<string, RemoteListener>();
      node.remoteListeners.set(key, listeners);
      const lk = `${addressKey(from)}/${sid}`;
      const existing = listeners.get(lk);
      listeners.set(lk, { address: from, nodeId: msg.id!, sid, filter: msg.filter, refreshed: now });
      reply(node, env, from, buildReply(env, node.id, { requesterIp: sa }));
      if (!existing) {
        const current = node.storage.get(msg.hash, msg.filter).map((s) => s.value);
        if (current.length) node.pushValues(msg.hash, listeners.get(lk)!, current);
      }
      return;
    }

    case "refresh": {
      if (!msg.hash || msg.vid === undefined) return error(node, env, from, ErrorCode.NonAuthoritative, "Refresh with no info_hash");
      if (!node.tokens.check(msg.token, from, now)) return error(node, env, from, ErrorCode.Unauthorized, "Refresh with wrong token");
      if (!node.storage.refresh(msg.hash, msg.vid, now)) return error(node, env, from, ErrorCode.NotFound, "Access operation for unknown storage");
      node.notifyRefreshed(msg.hash, [msg.vid]);
      return reply(node, env, from, buildReply(env, node.id, { vid: msg.vid, requesterIp: sa }));
    }

    case "update": {
      if (!node.deliverUpdate(msg)) {
        log("update for unknown listen %s from %s", msg.sid, addressKey(from));
        return error(node, env, from, ErrorCode.UnknownTid, "Unknown socket");
      }
      return reply(node, env, from, buildReply(env, node.id, { requesterIp: sa }));
    }
  }
}
