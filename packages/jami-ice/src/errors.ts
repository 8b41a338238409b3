import { JamiError } from "jami-core";

/** Failures of the ICE layer: `code` is stable, `message` is for people. */
export type IceErrorCode = "STUN_MALFORMED" | "INVALID_ARGUMENT" | "ICE_MSG_MALFORMED" | "ICE_FAILED" | "ICE_TIMEOUT" | "ABORTED" | "CLOSED" | "TURN_FAILED";

export class IceError extends JamiError<IceErrorCode> {
  override name = "IceError";
}
