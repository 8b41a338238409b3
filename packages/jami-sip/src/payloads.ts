import { SipError } from "./errors.js";

/**
 * The payloads jamid 13.7 sends in MESSAGE bodies, by MIME type, and their exact text. Readers accept any
 * spacing (jamid writes the notice with jsoncpp's pretty writer, the XML with fixed templates).
 */
export const MIME = {
  gitNotice: "application/im-gitmessage-id",
  inviteJson: "application/invite+json",
  invite: "application/invite",
  composing: "application/im-iscomposing+xml",
  imdn: "message/imdn+xml",
  text: "text/plain",
} as const;

/** "Fetch this commit from my device": sent to every member device after a local commit. */
export interface GitNotice {
  conversationId: string;
  commit: string;
  deviceId: string;
}

/** A group invitation (`metadatas`: the conversation's profile fields and `mode`, all strings). */
export interface ConversationInvitation {
  conversationId: string;
  metadatas: Record<string, string>;
}

export type JamiPayload =
  | { type: "git-notice"; notice: GitNotice }
  | { type: "invitation"; invitation: ConversationInvitation }
  | { type: "invitation-request"; conversationId: string }
  | { type: "composing"; conversationId?: string; active: boolean }
  | { type: "displayed"; conversationId?: string; messageId: string }
  | { type: "text"; text: string }
  | { type: "other"; mimeType: string; body: string };

const HEX40 = /^[0-9a-f]{40}$/;
const HEX64 = /^[0-9a-f]{64}$/;

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The MIME type and body jamid uses for `payload`. */
export function encodePayload(payload: JamiPayload): { mimeType: string; body: string } {
  switch (payload.type) {
    case "git-notice": {
      const { conversationId, commit, deviceId } = payload.notice;
      // jsoncpp's default (styled) writer, as jamid: tab indent, " : ", sorted keys
      return {
        mimeType: MIME.gitNotice,
        body: `{\n\t"commit" : ${JSON.stringify(commit)},\n\t"deviceId" : ${JSON.stringify(deviceId)},\n\t"id" : ${JSON.stringify(conversationId)}\n}`,
      };
    }
    case "invitation": {
      const metadatas = Object.fromEntries(Object.entries(payload.invitation.metadatas).sort(([a], [b]) => (a < b ? -1 : 1)));
      return { mimeType: MIME.inviteJson, body: JSON.stringify({ conversationId: payload.invitation.conversationId, metadatas }) };
    }
    case "invitation-request":
      return { mimeType: MIME.invite, body: payload.conversationId };
    case "composing":
      return {
        mimeType: MIME.composing,
        body: `<?xml version="1.0" encoding="utf-8" ?>\n<isComposing><state>${payload.active ? "active" : "idle"}</state>${
          payload.conversationId ? `<conversation>${escapeXml(payload.conversationId)}</conversation>` : ""
        }</isComposing>`,
      };
    case "displayed":
      return {
        mimeType: MIME.imdn,
        body: `<?xml version="1.0" encoding="utf-8" ?>\n<imdn><message-id>${escapeXml(payload.messageId)}</message-id>\n${
          payload.conversationId ? `<conversation>${escapeXml(payload.conversationId)}</conversation>` : ""
        }<display-notification><status><displayed/></status></display-notification>\n</imdn>`,
      };
    case "text":
      return { mimeType: MIME.text, body: payload.text };
    case "other":
      return { mimeType: payload.mimeType, body: payload.body };
  }
}

function xmlElement(body: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>\\s*([^<]*?)\\s*</${name}>`).exec(body);
  return m
    ? m[1]!.replace(/&#(\d+);|&(lt|gt|amp|quot|apos);/g, (_, n: string, e: string) =>
        n ? String.fromCharCode(Number(n)) : { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" }[e]!,
      )
    : undefined;
}

/**
 * Reads one MIME part as jamid does. Throws `MALFORMED` for a known type whose body is not valid (a notice without
 * a 40-hex commit, an invitation without a conversation id…); unknown types come back as `other`.
 */
export function decodePayload(mimeType: string, body: string): JamiPayload {
  const type = mimeType.split(";")[0]!.trim().toLowerCase();
  const bad = (what: string): SipError => new SipError("MALFORMED", `${type}: ${what}`);
  switch (type) {
    case MIME.gitNotice: {
      const json = parseJson(body, bad) as Record<string, unknown>;
      const [id, commit, deviceId] = [json.id, json.commit, json.deviceId];
      if (
        typeof id !== "string" ||
        !HEX40.test(id) ||
        typeof commit !== "string" ||
        !HEX40.test(commit) ||
        typeof deviceId !== "string" ||
        !HEX64.test(deviceId)
      ) {
        throw bad("needs id (40 hex), commit (40 hex) and deviceId (64 hex)");
      }
      return { type: "git-notice", notice: { conversationId: id, commit, deviceId } };
    }
    case MIME.inviteJson: {
      const json = parseJson(body, bad) as Record<string, unknown>;
      if (typeof json.conversationId !== "string" || !HEX40.test(json.conversationId)) throw bad("no conversationId");
      const metadatas: Record<string, string> = {};
      if (typeof json.metadatas === "object" && json.metadatas !== null) {
        for (const [k, v] of Object.entries(json.metadatas as Record<string, unknown>)) if (typeof v === "string") metadatas[k] = v;
      }
      return { type: "invitation", invitation: { conversationId: json.conversationId, metadatas } };
    }
    case MIME.invite: {
      const id = body.trim();
      if (!HEX40.test(id)) throw bad("not a conversation id");
      return { type: "invitation-request", conversationId: id };
    }
    case MIME.composing: {
      const state = xmlElement(body, "state");
      if (state === undefined) throw bad("no <state>");
      const conversationId = xmlElement(body, "conversation");
      return { type: "composing", active: state === "active", ...(conversationId ? { conversationId } : {}) };
    }
    case MIME.imdn: {
      const messageId = xmlElement(body, "message-id");
      if (!messageId || !/<displayed\s*\/>/.test(body)) throw bad("only 'displayed' notifications with a message-id are understood");
      const conversationId = xmlElement(body, "conversation");
      return { type: "displayed", messageId, ...(conversationId ? { conversationId } : {}) };
    }
    case MIME.text:
      return { type: "text", text: body };
    default:
      return { type: "other", mimeType: type, body };
  }
}

function parseJson(body: string, bad: (what: string) => SipError): unknown {
  try {
    const value: unknown = JSON.parse(body);
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not an object");
    return value;
  } catch {
    throw bad("not a JSON object");
  }
}
