/**
 * TLS and DTLS 1.2 links between Jami devices with device certificates checked both ways, and jamid's
 * multiplexed channels.
 * @packageDocumentation
 * @module jami-dtls
 */
export { LinkError, type LinkErrorCode } from "./errors.js";
export { secureLink, JAMI_TLS, type SecureLink, type SecureLinkOptions } from "./tls-link.js";
export {
  MultiplexedSocket,
  type Channel,
  CONTROL_CHANNEL,
  PROTOCOL_CHANNEL,
  MULTIPLEXED_SOCKET_VERSION,
  MAX_CHANNEL_FRAME,
  MAX_OPEN_CHANNELS,
  MAX_PENDING_CHANNEL_REQUESTS,
  type ChannelRequestHandler,
  type MultiplexedSocketEvents,
} from "./multiplexer.js";
export { dtlsLink, DtlsLink, type DtlsLinkOptions, type DtlsLinkEvents, type DatagramTransport } from "./dtls-link.js";
