import { JamiError } from "jami-core";

export type SipErrorCode =
  /** Bytes that are not a SIP message (start line, header syntax, Content-Length). */
  | "MALFORMED"
  /** Over a limit: header section, header count, body size. */
  | "TOO_LARGE"
  /** A request got a final response other than 2xx. */
  | "REJECTED"
  | "TIMEOUT"
  | "ABORTED"
  /** The stream under the endpoint ended. */
  | "CLOSED"
  | "INVALID_ARGUMENT";

export class SipError extends JamiError<SipErrorCode> {
  override name = "SipError";
}

export function isSipError(error: unknown, code?: SipErrorCode): error is SipError {
  return error instanceof SipError && (code === undefined || error.code === code);
}
