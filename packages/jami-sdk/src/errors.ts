import { JamiError } from "jami-core";

/** Failures of the Account layer: `code` is stable, `message` is for people. */
export type AccountErrorCode =
  | "NOT_STARTED"
  | "STOPPED"
  | "ABORTED"
  | "NO_TRUST_REQUEST"
  | "NO_REQUEST"
  | "NO_DEVICES"
  | "INVALID_ARGUMENT"
  | "PEER_REFUSED"
  | "NOT_CONNECTED"
  /** A message that is not a file was asked for as one. */
  | "NOT_A_FILE"
  /** This account is not (or no longer) a member of the conversation: it may neither send files nor fetch them. */
  | "NOT_MEMBER"
  /** No member device served the whole file. */
  | "NO_SOURCE"
  /** A file's bytes are not what its message says (wrong SHA3-512, or more than its size): deleted. */
  | "HASH_MISMATCH"
  /** A vCard that is not one, or over the bounds (size, lines). */
  | "BAD_VCARD";

export class AccountError extends JamiError<AccountErrorCode> {
  override name = "AccountError";
}
