import { SwarmError } from "./errors.js";
import { jsoncppStringify, type JsonValue } from "./json.js";

/** 0 one-to-one, 1 admin invites only, 2 invites only (jamid's default for groups), 3 public. */
export type ConversationMode = 0 | 1 | 2 | 3;
export const ConversationMode = { ONE_TO_ONE: 0, ADMIN_INVITES_ONLY: 1, INVITES_ONLY: 2, PUBLIC: 3 } as const;

export type MemberAction = "add" | "join" | "remove" | "ban" | "unban";

/** A commit message as jamid writes it, one typed variant per kind. Field names are ours; JSON names are jamid's. */
export type CommitBody =
  | { type: "initial"; mode: ConversationMode; invited?: string }
  | { type: "text/plain"; body: string; replyTo?: string; reactTo?: string; edit?: string }
  | { type: "application/edited-message"; body: string; edit: string }
  | { type: "member"; action: MemberAction; uri: string }
  | { type: "vote"; uri: string }
  | { type: "application/update-profile" }
  | FileBody
  | CallBody
  | { type: "merge"; message: string }
  /** Any other type (today's collab-doc, checkpoint, …): kept and shown as jamid does. */
  | { type: "unknown"; jsonType: string; fields: Record<string, string> };

export interface FileBody {
  type: "application/data-transfer+json";
  displayName: string;
  /** Lowercase hex SHA3-512 of the file (128 chars). */
  sha3sum: string;
  /** Random u64 as a decimal string. */
  tid: string;
  totalSize: number;
  replyTo?: string;
}

export interface CallBody {
  type: "application/call-history+json";
  /** Milliseconds, when the call has ended. */
  duration?: number;
  /** One-to-one: the peer's URI. */
  to?: string;
  /** Hosted conference: its id, host device and host URI. */
  confId?: string;
  device?: string;
  uri?: string;
  /** Today's daemon: e.g. `declined`. */
  reason?: string;
}

const HEX40 = /^[0-9a-f]{40}$/;

/** The exact commit message jamid 13.7 writes for `body`. */
export function encodeBody(body: CommitBody): string {
  switch (body.type) {
    case "initial":
      return json({ invited: body.invited, mode: body.mode, type: "initial" });
    case "text/plain":
      return json({ body: body.body, "react-to": body.reactTo, "reply-to": body.replyTo, edit: body.edit, type: body.type });
    case "application/edited-message":
      return json({ body: body.body, edit: body.edit, type: body.type });
    case "member":
      return json({ action: body.action, type: "member", uri: body.uri });
    case "vote":
      return json({ type: "vote", uri: body.uri });
    case "application/update-profile":
      return json({ type: body.type });
    case "application/data-transfer+json":
      return json({
        displayName: body.displayName,
        "reply-to": body.replyTo,
        sha3sum: body.sha3sum,
        tid: body.tid,
        totalSize: String(body.totalSize),
        type: body.type,
      });
    case "application/call-history+json":
      return json({
        confId: body.confId,
        device: body.device,
        duration: body.duration === undefined ? undefined : String(body.duration),
        reason: body.reason,
        to: body.to,
        type: body.type,
        uri: body.uri,
      });
    case "merge":
      return body.message;
    case "unknown":
      return json({ ...body.fields, type: body.jsonType });
  }
}

function json(fields: Record<string, JsonValue | undefined>): string {
  const defined: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) defined[k] = v;
  return jsoncppStringify(defined);
}

/**
 * jamid's message map (`convCommitToMap`): every JSON member as a string (non-strings through jsoncpp's
 * `asString`), or undefined when the message is not a JSON object with a string `type` (jamid hides those).
 */
export function messageFields(message: string): Record<string, string> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof value === "string") fields[key] = value;
    else if (typeof value === "number" || typeof value === "boolean") fields[key] = String(value);
    else if (value === null) fields[key] = "";
    else fields[key] = JSON.stringify(value);
  }
  return typeof (parsed as { type?: unknown }).type === "string" ? fields : undefined;
}

/** The typed body of a non-merge commit message; throws `OBJECT_INVALID` when jamid would not show it. */
export function decodeBody(message: string): CommitBody {
  const f = messageFields(message);
  if (!f) throw new SwarmError("OBJECT_INVALID", "commit message is not a JSON object with a type");
  const opt = (k: string): string | undefined => f[k];
  const num = (k: string): number | undefined => (f[k] === undefined || f[k] === "" ? undefined : Number(f[k]));
  switch (f.type) {
    case "initial": {
      const mode = Number(f.mode);
      return { type: "initial", mode: mode as ConversationMode, ...(f.invited !== undefined ? { invited: f.invited } : {}) };
    }
    case "text/plain":
      return strip({ type: "text/plain", body: f.body ?? "", replyTo: opt("reply-to"), reactTo: opt("react-to"), edit: opt("edit") });
    case "application/edited-message":
      return { type: "application/edited-message", body: f.body ?? "", edit: f.edit ?? "" };
    case "member":
      return { type: "member", action: (f.action ?? "") as MemberAction, uri: f.uri ?? "" };
    case "vote":
      return { type: "vote", uri: f.uri ?? "" };
    case "application/update-profile":
      return { type: "application/update-profile" };
    case "application/data-transfer+json":
      return strip({
        type: "application/data-transfer+json",
        displayName: f.displayName ?? "",
        sha3sum: f.sha3sum ?? "",
        tid: f.tid ?? "",
        totalSize: num("totalSize") ?? 0,
        replyTo: opt("reply-to"),
      });
    case "application/call-history+json":
      return strip({
        type: "application/call-history+json",
        duration: num("duration"),
        to: opt("to"),
        confId: opt("confId"),
        device: opt("device"),
        uri: opt("uri"),
        reason: opt("reason"),
      });
    default: {
      const { type, ...rest } = f;
      return { type: "unknown", jsonType: type!, fields: rest };
    }
  }
}

function strip<T extends object>(value: T): T {
  for (const key of Object.keys(value) as Array<keyof T>) if (value[key] === undefined) delete value[key];
  return value;
}

export function isCommitId(value: string): boolean {
  return HEX40.test(value);
}
