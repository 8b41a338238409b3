/** Failures of the Account layer: `code` is stable, `message` is for people. */
export type AccountErrorCode = "NOT_STARTED" | "NO_TRUST_REQUEST" | "NO_DEVICES" | "INVALID_ARGUMENT" | "PEER_REFUSED" | "NOT_CONNECTED";

export class AccountError extends Error {
  override readonly name = "AccountError";
  constructor(
    readonly code: AccountErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
