import { JamiError } from "jami-core";

/** Every failure the DHT layer reports: `code` is stable, `message` is for people. */
export type DhtErrorCode =
  | "ENCODE"
  | "DECODE"
  | "MESSAGE_INVALID"
  | "VALUE_INVALID"
  | "VALUE_TOO_LARGE"
  | "SIGNATURE_INVALID"
  | "NOT_RECIPIENT"
  | "DECRYPT_FAILED"
  | "OWNER_MISMATCH"
  | "TIMEOUT"
  | "ABORTED"
  | "NOT_RUNNING"
  | "REMOTE_ERROR"
  | "NO_NODES"
  | "NOT_FOUND"
  | "BIND_FAILED"
  | "PROXY_HTTP"
  | "INVALID_ARGUMENT";

export class DhtError extends JamiError<DhtErrorCode> {
  override name = "DhtError";
}

export function isDhtError(e: unknown, code?: DhtErrorCode): e is DhtError {
  return e instanceof DhtError && (code === undefined || e.code === code);
}
