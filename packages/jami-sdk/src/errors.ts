import { JamiError } from "jami-core";

/** Failures of the Account layer: `code` is stable, `message` is for people. */
export type AccountErrorCode =
  "NOT_STARTED" | "STOPPED" | "ABORTED" | "NO_TRUST_REQUEST" | "NO_REQUEST" | "NO_DEVICES" | "INVALID_ARGUMENT" | "PEER_REFUSED" | "NOT_CONNECTED";

export class AccountError extends JamiError<AccountErrorCode> {
  override name = "AccountError";
}
