import { JamiError } from "jami-core";

/** Every failure the swarm layer reports: `code` is stable, `message` is for people. */
export type SwarmErrorCode =
  /** A fetched or opened commit broke a rule of jamid's validator; `rule` and `commit` say which. */
  | "COMMIT_REJECTED"
  /** The repository is not a conversation (no `main`, no initial commit, bad mode). */
  | "NOT_A_CONVERSATION"
  | "OBJECT_NOT_FOUND"
  | "OBJECT_INVALID"
  /** A pack that is truncated, lies about its objects, or inflates past its limits. */
  | "PACK_INVALID"
  | "PACK_TOO_LARGE"
  /** The git wire dialect was not followed (pkt-lines, refs, want/have, side-band). */
  | "PROTOCOL"
  | "MERGE_CONFLICT"
  /** The local device may not do this (not a member, not an admin, one-to-one rules). */
  | "NOT_PERMITTED"
  | "INVALID_ARGUMENT"
  | "ABORTED";

export class SwarmError extends JamiError<SwarmErrorCode> {
  override name = "SwarmError";
}

/**
 * The rule of jamid's validator (spec §4.2, plus the signature and chain checks of today's daemon) a commit broke.
 * Stable strings, meant for programs and logs.
 */
export type SwarmRule =
  | "initial-commit"
  | "mode"
  | "signature"
  | "device-certificate"
  | "member-certificate"
  | "user-at-commit"
  | "user-diff"
  | "vote"
  | "add"
  | "join"
  | "remove"
  | "vote-resolution"
  | "member-action"
  | "profile-update"
  | "edit"
  | "merge"
  | "parents"
  | "commit-format";

/** jamid's `OnConversationError` codes (conversationrepository.h). */
export const JAMID_ERROR = { EFETCH: 1, EINVALIDMODE: 2, EVALIDFETCH: 3, EUNAUTHORIZED: 4 } as const;

/** A commit refused by validation: which commit, which rule; nothing stored changed. */
export class CommitRejectedError extends SwarmError {
  override name = "CommitRejectedError";
  constructor(
    readonly commit: string,
    readonly rule: SwarmRule,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("COMMIT_REJECTED", `commit ${commit} refused (${rule}): ${message}`, options);
  }

  /** The code jamid would emit in `onConversationError` for this refusal. */
  get jamidCode(): number {
    return this.rule === "mode" ? JAMID_ERROR.EINVALIDMODE : JAMID_ERROR.EVALIDFETCH;
  }

  override toJSON(): ReturnType<SwarmError["toJSON"]> & { commit: string; rule: SwarmRule } {
    return { ...super.toJSON(), commit: this.commit, rule: this.rule };
  }
}

export function isSwarmError(error: unknown, code?: SwarmErrorCode): error is SwarmError {
  return error instanceof SwarmError && (code === undefined || error.code === code);
}
