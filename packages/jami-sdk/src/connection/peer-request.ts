import { decodeMsgpack, encodeMsgpack, isMsgMap } from "jami-core";
import { Value } from "jami-dht";

/** The user type jamid filters connection requests on. */
export const PEER_REQUEST_USER_TYPE = "peer_request";

/** jamid's PeerConnectionRequest (spec §3.6): a type-0 value, encrypted to the target device. */
export interface PeerConnectionRequest {
  /** Random in 1..2^53; the answer carries the same id. */
  id: bigint;
  /** `ice_msg` text (ufrag, pwd, candidates). */
  iceMessage: string;
  isAnswer: boolean;
  /** A push-notification hint ("", "sync", "audioCall", "videoCall", "text/plain", …). */
  connType: string;
}

export function peerRequestValue(r: PeerConnectionRequest): Value {
  const data = encodeMsgpack({ id: r.id, ice_msg: r.iceMessage, isAnswer: r.isAnswer, connType: r.connType });
  return new Value({ type: 0, userType: PEER_REQUEST_USER_TYPE, data });
}

/** `undefined` for anything that is not a connection request. */
export function readPeerRequest(v: Value): PeerConnectionRequest | undefined {
  if (v.userType !== PEER_REQUEST_USER_TYPE) return undefined;
  let m: unknown;
  try {
    m = decodeMsgpack(v.data);
  } catch {
    return undefined;
  }
  if (!isMsgMap(m as never)) return undefined;
  const { id, ice_msg, isAnswer, connType } = m as Record<string, unknown>;
  const n = typeof id === "bigint" ? id : typeof id === "number" && Number.isInteger(id) ? BigInt(id) : undefined;
  if (n === undefined || n <= 0n || typeof ice_msg !== "string") return undefined;
  return { id: n, iceMessage: ice_msg, isAnswer: isAnswer === true, connType: typeof connType === "string" ? connType : "" };
}
