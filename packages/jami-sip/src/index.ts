/**
 * SIP as jamid speaks it on a `sip` channel: a byte-level stream parser and serializer (Content-Length framing,
 * folding, compact headers, multipart bodies on receive), an endpoint with MESSAGE transactions (200 OK,
 * Message-ID de-duplication) general enough for INVITE, and jamid's payloads (git notices, invitations,
 * composing, displayed, text).
 * @packageDocumentation
 * @module jami-sip
 */
export { SipError, isSipError, type SipErrorCode } from "./errors.js";
export { SipHeaders } from "./headers.js";
export { type SipMessage, type SipRequest, type SipResponse } from "./message.js";
export { SipStreamParser, parseSipMessage, serializeSipMessage, DEFAULT_SIP_LIMITS, type SipLimits } from "./codec.js";
export { parseSipUri, formatSipUri, parseSipAddress, formatSipAddress, type SipUri, type SipAddress } from "./address.js";
export { parseMultipart, multipartBoundary, type MimePart } from "./multipart.js";
export { MIME, encodePayload, decodePayload, type JamiPayload, type GitNotice, type ConversationInvitation } from "./payloads.js";
export { SipEndpoint, type SipEndpointOptions, type IncomingSipMessage } from "./endpoint.js";
