import type { IceDescription } from "./candidate.js";
import { Attr, StunClass, StunMessage, StunMethod, type TransportAddress } from "./stun.js";

/** A connectivity check (RFC 8445 §7.2.2): USERNAME remote:local, PRIORITY, our role and tie-breaker, USE-CANDIDATE. */
export function buildCheck(
  local: IceDescription,
  remote: IceDescription,
  role: { controlling: boolean; tieBreaker: bigint },
  priority: number,
  useCandidate: boolean,
): { request: StunMessage; bytes: Uint8Array; key: Uint8Array } {
  const request = StunMessage.request(StunMethod.Binding)
    .addString(Attr.Username, `${remote.ufrag}:${local.ufrag}`)
    .addU32(Attr.Priority, priority)
    .addU64(role.controlling ? Attr.IceControlling : Attr.IceControlled, role.tieBreaker);
  if (useCandidate) request.add(Attr.UseCandidate, new Uint8Array());
  const key = new TextEncoder().encode(remote.pwd);
  return { request, bytes: request.encode({ integrityKey: key, fingerprint: true }), key };
}

export type CheckVerdict =
  /** Answer with these bytes and stop (401 wrong credentials, 487 role conflict). */
  | { reply: Uint8Array; accepted: false }
  /** Answered (success); `controlling` is our role from now on (a conflict we lost switches it). */
  | { reply: Uint8Array; accepted: true; controlling: boolean; useCandidate: boolean };

/**
 * Our answer to a peer's check (RFC 8445 §7.3): credentials (USERNAME local:remote, MESSAGE-INTEGRITY with our
 * password, FINGERPRINT) or 401; role conflicts settled by the tie-breakers (§7.3.1.1) or 487; else a success
 * with XOR-MAPPED-ADDRESS.
 */
export function answerCheck(m: StunMessage, local: IceDescription, role: { controlling: boolean; tieBreaker: bigint }, from: TransportAddress): CheckVerdict {
  const key = new TextEncoder().encode(local.pwd);
  // A 487 is signed with our password (the peer acts on it only then); a 401 cannot be (RFC 8489 §9.1.3).
  const error = (code: number, reason: string): CheckVerdict => ({
    reply: new StunMessage(StunMethod.Binding, StunClass.Error, m.transactionId)
      .addErrorCode(code, reason)
      .encode({ integrityKey: code === 401 ? undefined : key, fingerprint: true }),
    accepted: false,
  });
  if (!(m.string(Attr.Username) ?? "").startsWith(`${local.ufrag}:`) || !m.checkIntegrity(key) || !m.checkFingerprint()) return error(401, "Unauthorized");
  let controlling = role.controlling;
  const theirControlling = m.u64(Attr.IceControlling);
  const theirControlled = m.u64(Attr.IceControlled);
  if (controlling && theirControlling !== undefined) {
    if (role.tieBreaker >= theirControlling) return error(487, "Role Conflict");
    controlling = false;
  } else if (!controlling && theirControlled !== undefined) {
    if (role.tieBreaker < theirControlled) return error(487, "Role Conflict");
    controlling = true;
  }
  const reply = new StunMessage(StunMethod.Binding, StunClass.Success, m.transactionId)
    .addXorAddress(Attr.XorMappedAddress, from)
    .encode({ integrityKey: key, fingerprint: true });
  return { reply, accepted: true, controlling, useCandidate: m.has(Attr.UseCandidate) };
}
