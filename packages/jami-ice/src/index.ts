/**
 * ICE for links between Jami devices: TCP (RFC 6544, framed RFC 4571) and UDP agents, STUN, TURN relays, and
 * Jami's `ice_msg`.
 * @packageDocumentation
 * @module jami-ice
 */
export { IceError, type IceErrorCode } from "./errors.js";
export {
  StunMessage,
  StunClass,
  StunMethod,
  Attr as StunAttr,
  decodeStun,
  isStun,
  longTermKey,
  MAGIC_COOKIE,
  type StunAttribute,
  type TransportAddress,
} from "./stun.js";
export {
  candidatePriority,
  formatCandidate,
  parseCandidate,
  encodeIceMessage,
  decodeIceMessage,
  type Candidate,
  type CandidateType,
  type TcpType,
  type IceDescription,
} from "./candidate.js";
export { frame, FrameReader, MAX_FRAME } from "./framing.js";
export { IceTcpAgent, type IceAgentOptions } from "./tcp-agent.js";
export { IceUdpAgent, IceUdpConnection, type IceUdpAgentOptions } from "./udp-agent.js";
export { hostAddresses, iceCredentials } from "./host.js";
export { IceConnection, MAX_SPARE_CONNECTIONS } from "./ice-connection.js";
export { TurnTcpAllocation, stunMappedAddress, type StunServer, type TurnServer } from "./turn.js";
export { TurnUdpAllocation } from "./turn-udp.js";
