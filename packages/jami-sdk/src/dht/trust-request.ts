import { decodeMsgpack, encodeMsgpack } from "jami-core";

/** The only service jamid accepts trust requests for. */
export const TRUST_REQUEST_SERVICE = "cx.ring";
/** OpenDHT's TrustRequest value type (7 days). */
export const TRUST_REQUEST_TYPE = 4;

export interface TrustRequestBody {
  conversationId: string;
  /** The sender's vCard (may be empty). */
  payload: Uint8Array;
  /** true when accepting a request we received. */
  confirm: boolean;
  /** Today's daemon adds the invitation time; 13.7 ignores it. */
  invitedMs?: number;
}

/** The inner `data` of a TrustRequest value, keys in jamid's order (spec §3.3). */
export function encodeTrustRequest(body: TrustRequestBody): Uint8Array {
  return encodeMsgpack({
    service: TRUST_REQUEST_SERVICE,
    conversationId: body.conversationId,
    payload: body.payload,
    confirm: body.confirm,
    invitedMs: body.invitedMs,
  });
}

/** `undefined` for anything that is not a `cx.ring` trust request (as jamid ignores it). */
export function decodeTrustRequest(data: Uint8Array): TrustRequestBody | undefined {
  let map: unknown;
  try {
    map = decodeMsgpack(data);
  } catch {
    return undefined;
  }
  if (typeof map !== "object" || map === null || Array.isArray(map) || map instanceof Uint8Array || map instanceof Map) return undefined;
  const m = map as Record<string, unknown>;
  if (m.service !== TRUST_REQUEST_SERVICE || typeof m.conversationId !== "string") return undefined;
  const payload = m.payload instanceof Uint8Array ? m.payload : new Uint8Array();
  const invitedMs = typeof m.invitedMs === "number" ? m.invitedMs : typeof m.invitedMs === "bigint" ? Number(m.invitedMs) : undefined;
  return { conversationId: m.conversationId, payload, confirm: m.confirm === true, invitedMs };
}
