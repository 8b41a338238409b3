import { SipError } from "./errors.js";
import { SipHeaders } from "./headers.js";
import type { SipMessage } from "./message.js";

export interface SipLimits {
  /** Start line and headers, up to the blank line. */
  maxHeaderBytes: number;
  maxHeaders: number;
  maxBodyBytes: number;
}

export const DEFAULT_SIP_LIMITS: SipLimits = { maxHeaderBytes: 64 * 1024, maxHeaders: 256, maxBodyBytes: 1024 * 1024 };

const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const malformed = (message: string): SipError => new SipError("MALFORMED", message);

/** Where the header section of `bytes` ends: the index after its blank line, with the blank line's length. */
function headerEnd(bytes: Uint8Array, from: number): { end: number; body: number } | undefined {
  for (let i = from; i + 1 < bytes.length; i++) {
    if (bytes[i] !== 0x0a) continue;
    // `end` excludes the line's own CR
    const end = i > 0 && bytes[i - 1] === 0x0d ? i - 1 : i;
    if (bytes[i + 1] === 0x0a) return { end, body: i + 2 };
    if (bytes[i + 1] === 0x0d && bytes[i + 2] === 0x0a) return { end, body: i + 3 };
  }
  return undefined;
}

function parseHead(text: string, limits: SipLimits): { start: string; headers: SipHeaders } {
  const lines = text.split(/\r?\n/);
  const start = lines.shift() ?? "";
  if (start.includes("\r")) throw malformed("a bare CR in the start line");
  const unfolded: string[] = [];
  for (const line of lines) {
    if (line === "") continue;
    if ((line[0] === " " || line[0] === "\t") && unfolded.length > 0) unfolded[unfolded.length - 1] += " " + line.trim();
    else unfolded.push(line);
  }
  if (unfolded.length > limits.maxHeaders) throw new SipError("TOO_LARGE", `${unfolded.length} headers (at most ${limits.maxHeaders})`);
  const headers = new SipHeaders();
  for (const line of unfolded) {
    if (line.includes("\r")) throw malformed("a bare CR in a header line");
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon).trim() : "";
    if (!TOKEN.test(name)) throw malformed(`bad header line "${line.slice(0, 60)}"`);
    headers.append(name, line.slice(colon + 1).trim());
  }
  return { start, headers };
}

function startLine(start: string): { kind: "request"; method: string; uri: string } | { kind: "response"; status: number; reason: string } {
  const response = /^SIP\/2\.0 ([1-6]\d\d) ?(.*)$/.exec(start);
  if (response) return { kind: "response", status: Number(response[1]), reason: response[2]! };
  const request = /^([A-Za-z]+) (\S+) SIP\/2\.0$/.exec(start);
  if (request && TOKEN.test(request[1]!)) return { kind: "request", method: request[1]!, uri: request[2]! };
  throw malformed(`bad start line "${start.slice(0, 80)}"`);
}

function contentLength(headers: SipHeaders, limits: SipLimits): number {
  const values = headers.getAll("Content-Length");
  if (values.length === 0) return 0;
  if (values.length > 1 || !/^\d{1,10}$/.test(values[0]!)) throw malformed(`bad Content-Length "${values.join(",").slice(0, 40)}"`);
  const length = Number(values[0]);
  if (length > limits.maxBodyBytes) throw new SipError("TOO_LARGE", `a body of ${length} bytes (at most ${limits.maxBodyBytes})`);
  return length;
}

/**
 * Splits a byte stream into SIP messages as a TCP/TLS transport does (RFC 3261 §18.3): the header section up to
 * the blank line, then exactly Content-Length **bytes** of body. Keep-alive CRLFs between messages are skipped.
 * A framing error leaves the stream unusable (there is no way to find the next message): the caller closes it.
 */
export class SipStreamParser {
  /** Received bytes live in `store[start, end)`; the store grows by doubling, so trickled bytes cost O(1) each. */
  private store = new Uint8Array(4096);
  private start = 0;
  private end = 0;
  /** How far the search for the blank line got: bytes arriving one at a time must not be rescanned each time. */
  private scanned = 0;
  /** A message whose headers are read and whose body is still arriving. */
  private waiting: { message: SipMessage; bodyStart: number; length: number } | undefined;
  private readonly limits: SipLimits;

  constructor(limits: Partial<SipLimits> = {}) {
    this.limits = { ...DEFAULT_SIP_LIMITS, ...limits };
  }

  private append(chunk: Uint8Array): void {
    if (this.end + chunk.byteLength > this.store.byteLength) {
      const live = this.end - this.start;
      let size = this.store.byteLength;
      while (size < live + chunk.byteLength) size *= 2;
      const next = size === this.store.byteLength ? this.store : new Uint8Array(size);
      next.set(this.store.subarray(this.start, this.end), 0);
      this.store = next;
      this.start = 0;
      this.end = live;
    }
    this.store.set(chunk, this.end);
    this.end += chunk.byteLength;
  }

  /** Adds bytes; returns every message they complete. Throws `MALFORMED` or `TOO_LARGE`. */
  push(chunk: Uint8Array): SipMessage[] {
    this.append(chunk);
    const out: SipMessage[] = [];
    for (;;) {
      const view = this.store.subarray(this.start, this.end);
      if (!this.waiting) {
        let at = 0;
        while (this.scanned === 0 && at < view.length && (view[at] === 0x0d || view[at] === 0x0a)) at++;
        if (at > 0) {
          this.start += at;
          continue;
        }
        const head = headerEnd(view, Math.max(0, this.scanned - 3));
        if (!head) {
          this.scanned = view.byteLength;
          if (view.byteLength > this.limits.maxHeaderBytes) throw new SipError("TOO_LARGE", `no end of headers within ${this.limits.maxHeaderBytes} bytes`);
          break;
        }
        if (head.end > this.limits.maxHeaderBytes) throw new SipError("TOO_LARGE", `a header section of ${head.end} bytes`);
        const message = parseWithoutBody(view.subarray(0, head.end), this.limits);
        this.waiting = { message, bodyStart: head.body, length: contentLength(message.headers, this.limits) };
      }
      const { message, bodyStart, length } = this.waiting;
      if (view.byteLength < bodyStart + length) break;
      message.body = Uint8Array.from(view.subarray(bodyStart, bodyStart + length));
      this.start += bodyStart + length;
      this.waiting = undefined;
      this.scanned = 0;
      out.push(message);
    }
    if (this.start === this.end) this.start = this.end = 0;
    return out;
  }

  /** Bytes received but not yet a whole message. */
  get pending(): number {
    return this.end - this.start;
  }
}

function parseWithoutBody(head: Uint8Array, limits: SipLimits): SipMessage {
  let text: string;
  try {
    text = decoder.decode(head);
  } catch {
    throw malformed("headers are not UTF-8");
  }
  const { start, headers } = parseHead(text, limits);
  const line = startLine(start);
  return line.kind === "request"
    ? { kind: "request", method: line.method, uri: line.uri, headers, body: new Uint8Array(0) }
    : { kind: "response", status: line.status, reason: line.reason, headers, body: new Uint8Array(0) };
}

/** One whole message (e.g. a datagram); the body is what Content-Length says, which must all be there. */
export function parseSipMessage(bytes: Uint8Array, limits: Partial<SipLimits> = {}): SipMessage {
  const parser = new SipStreamParser(limits);
  const [message, ...rest] = parser.push(bytes);
  if (!message || rest.length > 0 || parser.pending > 0) throw malformed(message ? "bytes after the message" : "an incomplete message");
  return message;
}

/** The exact bytes of a message: Content-Length set to the body's byte length (UTF-8 counted in bytes). */
export function serializeSipMessage(message: SipMessage): Uint8Array {
  const start = message.kind === "request" ? `${message.method} ${message.uri} SIP/2.0` : `SIP/2.0 ${message.status} ${message.reason}`;
  let head = start + "\r\n";
  for (const [name, value] of message.headers) if (name !== "Content-Length") head += `${name}: ${value}\r\n`;
  head += `Content-Length: ${message.body.byteLength}\r\n\r\n`;
  const headBytes = encoder.encode(head);
  const out = new Uint8Array(headBytes.byteLength + message.body.byteLength);
  out.set(headBytes, 0);
  out.set(message.body, headBytes.byteLength);
  return out;
}
