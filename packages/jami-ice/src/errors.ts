/** Failures of the ICE layer: `code` is stable, `message` is for people. */
export type IceErrorCode =
  | "STUN_MALFORMED"
  | "INVALID_ARGUMENT"
  | "ICE_MSG_MALFORMED"
  | "ICE_FAILED"
  | "ICE_TIMEOUT"
  | "ABORTED"
  | "CLOSED"
  | "TURN_FAILED";

export class IceError extends Error {
  override readonly name = "IceError";
  constructor(
    readonly code: IceErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
