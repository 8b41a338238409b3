/**
 * The bottom of the jami-* packages: the error base every package's errors extend, msgpack, the typed event
 * emitter, abort helpers and byte helpers. No dependency on any other jami-* package.
 * @packageDocumentation
 * @module jami-core
 */
export { JamiError, isJamiError, CodecError } from "./errors.js";
export { withTimeout, abortable, onAbort, deadline, sleep, lifetimeController, type AbortOptions, type DeadlineEnd } from "./abort.js";
export { TypedEmitter } from "./typed-emitter.js";
export {
  encode as encodeMsgpack,
  decode as decodeMsgpack,
  decodePrefix as decodeMsgpackPrefix,
  decodeSequence as decodeMsgpackSequence,
  isMsgMap,
  type MsgValue,
  type MsgMap,
  // Building blocks for the codecs above msgpack (DHT values and messages keep the raw bytes they signed).
  decodeMapEntries,
  decodeArrayItems,
  RawMsg,
} from "./msgpack.js";
export { toHex, fromHex, toBase64, fromBase64, sha1, sha256, bytesEqual, asBytes, utf8, fromUtf8 } from "./bytes.js";
