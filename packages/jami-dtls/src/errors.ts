import { JamiError } from "jami-core";

/** Failures of the secure link layer: `code` is stable, `message` is for people. */
export type LinkErrorCode = "TLS_FAILED" | "PEER_REFUSED" | "TIMEOUT" | "ABORTED" | "PROTOCOL" | "CHANNEL_DECLINED" | "LINK_CLOSED" | "INVALID_ARGUMENT";

export class LinkError extends JamiError<LinkErrorCode> {
  override name = "LinkError";
}
