import type { Duplex } from "node:stream";
import { randomBytes } from "node:crypto";
import createDebug from "debug";
import { deadline, TypedEmitter, type AbortOptions } from "jami-core";
import { formatSipAddress, parseSipAddress, type SipAddress } from "./address.js";
import { SipStreamParser, serializeSipMessage, type SipLimits } from "./codec.js";
import { SipError } from "./errors.js";
import { SipHeaders } from "./headers.js";
import type { SipRequest, SipResponse } from "./message.js";
import { multipartBoundary, parseMultipart } from "./multipart.js";
import { decodePayload, encodePayload, type JamiPayload } from "./payloads.js";

const log = createDebug("jami:sip");

export interface SipEndpointOptions {
  /** Our Jami ID: `From: <sip:<id>@ring.dht>`. */
  localUser: string;
  displayName?: string;
  /** The peer's Jami ID: Request-URI and `To`. */
  remoteUser: string;
  /** The peer's transport address (`ip:port`, IPv6 in brackets): Request-URI, `To` (without the port) and the `received`/`rport` of our answers, as pjsip writes them for jamid; `ring.dht` when unknown. */
  remoteHost?: string;
  /** Our transport address (`ip:port`): the `Via` sent-by of our requests; `ring.dht` when unknown. */
  localHost?: string;
  userAgent?: string;
  /** How long a request waits for its final response (RFC 3261 Timer F: 32 s). */
  timeoutMs?: number;
  limits?: Partial<SipLimits>;
  /** Message-IDs remembered to drop retransmissions. */
  dedupSize?: number;
  now?: () => Date;
}

/** A MESSAGE received, answered (200 OK) and decoded. */
export interface IncomingSipMessage {
  from: SipAddress;
  /** The From user part: the sender's Jami ID as jamid reads it (it does not check it against the link). */
  sender: string;
  messageId?: string;
  payloads: JamiPayload[];
  request: SipRequest;
}

type Events = {
  message: [IncomingSipMessage];
  /** Requests other than MESSAGE (INVITE, BYE… for the calls layer); unanswered when nobody listens: 501. */
  request: [SipRequest, (status: number, reason: string, extra?: { headers?: Array<[string, string]>; body?: Uint8Array; contentType?: string }) => void];
  error: [Error];
  close: [];
};

const BRANCH_PREFIX = "z9hG4bK";
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `ctime` layout, as jamid's Date header. */
function ctime(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, " ")} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

const token = (bytes = 8): string => randomBytes(bytes).toString("hex");

/** `ip:port` or `[v6]:port` without the port. */
function hostOnly(hostPort: string): string {
  return hostPort.startsWith("[") ? hostPort.slice(0, hostPort.indexOf("]") + 1) : hostPort.replace(/:\d+$/, "");
}

/**
 * SIP over one `sip` channel, as pjsip runs it for jamid: messages framed by Content-Length on the stream,
 * MESSAGE requests answered 200 OK statelessly and de-duplicated by Message-ID, our requests matched to their
 * responses by Via branch. General enough for INVITE transactions later (`request()`, the `request` event).
 */
export class SipEndpoint extends TypedEmitter<Events> {
  private readonly parser: SipStreamParser;
  private readonly pending = new Map<string, { resolve: (r: SipResponse) => void; reject: (e: Error) => void; method: string }>();
  private readonly seen = new Set<string>();
  private cseq = Math.floor(Math.random() * 10000) + 1;
  private closed = false;
  private readonly callId = `${token(12)}`;

  constructor(
    private readonly stream: Duplex,
    private readonly options: SipEndpointOptions,
  ) {
    super();
    this.parser = new SipStreamParser(options.limits);
    stream.on("data", (chunk: Buffer) => this.receive(chunk));
    stream.on("end", () => this.close());
    stream.on("close", () => this.close());
    stream.on("error", (error: Error) => this.fail(error));
  }

  /**
   * Sends one payload in a MESSAGE (jamid sends exactly one part) and resolves with its Message-ID once the peer
   * answered 2xx. Rejects `REJECTED` (another final status), `TIMEOUT`, `ABORTED`, `CLOSED`.
   */
  async sendMessage(payload: JamiPayload, options: AbortOptions = {}): Promise<{ messageId: string }> {
    const { mimeType, body } = encodePayload(payload);
    const messageId = token(8);
    // jamid's order: Date, Message-ID, User-Agent, Content-Type
    const headers = new SipHeaders([
      ["Date", ctime(this.options.now?.() ?? new Date())],
      ["Message-ID", messageId],
      ...(this.options.userAgent ? [["User-Agent", this.options.userAgent] as [string, string]] : []),
      ["Content-Type", mimeType],
    ]);
    await this.request("MESSAGE", headers, new TextEncoder().encode(body), options);
    return { messageId };
  }

  /** Sends a request of `method` with our dialog-less headers added; resolves with its 2xx response. */
  request(method: string, extra: SipHeaders, body: Uint8Array, options: AbortOptions = {}): Promise<SipResponse> {
    if (this.closed) return Promise.reject(new SipError("CLOSED", "the sip channel is closed"));
    if (options.signal?.aborted) return Promise.reject(new SipError("ABORTED", "aborted", { cause: options.signal.reason }));
    const branch = BRANCH_PREFIX + token(8);
    const { remoteHost, localHost } = this.options;
    const remote = `${this.options.remoteUser}@${remoteHost ?? "ring.dht"}`;
    // as pjsip writes them for jamid: the To URI with the peer's address but no port nor transport, `alias` on Via
    const to = remoteHost ? `<sips:${this.options.remoteUser}@${hostOnly(remoteHost)}>` : `<sips:${remote};transport=tls>`;
    const headers = new SipHeaders([
      ["Via", localHost ? `SIP/2.0/TLS ${localHost};rport;branch=${branch};alias` : `SIP/2.0/TLS ring.dht;rport;branch=${branch}`],
      ["Max-Forwards", "70"],
      [
        "From",
        formatSipAddress({
          ...(this.options.displayName ? { displayName: this.options.displayName } : {}),
          uri: { scheme: "sip", user: this.options.localUser, host: "ring.dht", params: {} },
          params: { tag: token(6) },
        }),
      ],
      ["To", to],
      ["Call-ID", `${this.callId}-${token(4)}`],
      ["CSeq", `${this.cseq++} ${method}`],
      ...extra,
    ]);
    const request: SipRequest = { kind: "request", method, uri: `sips:${remote};transport=tls`, headers, body };
    const timeoutMs = this.options.timeoutMs ?? 32_000;
    return new Promise<SipResponse>((resolve, reject) => {
      let cancel = (): void => undefined;
      const settle = (result: SipResponse | Error): void => {
        cancel();
        this.pending.delete(branch);
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      this.pending.set(branch, { resolve: settle, reject: settle, method });
      cancel = deadline(timeoutMs, options.signal, (why) =>
        settle(
          why === "aborted"
            ? new SipError("ABORTED", "aborted", { cause: options.signal?.reason })
            : new SipError("TIMEOUT", `no final response to ${method} within ${timeoutMs} ms`),
        ),
      );
      this.stream.write(serializeSipMessage(request));
    });
  }

  /** Ends the endpoint and its stream; pending requests reject with `CLOSED`. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [, p] of this.pending) p.reject(new SipError("CLOSED", "the sip channel closed before the response"));
    this.pending.clear();
    this.stream.end();
    this.emit("close");
  }

  private fail(error: Error): void {
    if (this.closed) return; // destroying the stream makes it report its own abort: not news
    if (this.listenerCount("error") > 0) this.emit("error", error);
    else log("sip channel error: %s", error.message);
    this.stream.destroy();
    this.close();
  }

  private receive(chunk: Uint8Array): void {
    if (this.closed) return;
    let messages;
    try {
      messages = this.parser.push(chunk);
    } catch (error) {
      // no way to find the next message in a stream after a framing error: this channel is done (not the link)
      this.fail(error as Error);
      return;
    }
    for (const message of messages) {
      if (message.kind === "response") this.onResponse(message);
      else this.onRequest(message);
    }
  }

  private onResponse(response: SipResponse): void {
    const branch = /branch=([^;,\s]+)/.exec(response.headers.get("Via") ?? "")?.[1];
    const pending = branch ? this.pending.get(branch) : undefined;
    if (!pending || response.status < 200) return;
    if (response.status < 300) pending.resolve(response);
    else pending.reject(new SipError("REJECTED", `${pending.method} answered ${response.status} ${response.reason}`));
  }

  private respond(
    request: SipRequest,
    status: number,
    reason: string,
    extra: { headers?: Array<[string, string]>; body?: Uint8Array; contentType?: string } = {},
  ): void {
    // pjsip's stateless answer, as jamid sends it: Via (the top one with `rport=`/`received=` filled when the peer's
    // address is known, RFC 3581), Call-ID, From, To with a tag (the request's branch), CSeq
    const headers = new SipHeaders();
    const vias = request.headers.getAll("Via");
    for (const [i, via] of vias.entries()) headers.append("Via", i === 0 ? this.received(via) : via);
    for (const name of ["Call-ID", "From"]) {
      const value = request.headers.get(name);
      if (value !== undefined) headers.append(name, value);
    }
    const to = request.headers.get("To") ?? "";
    const branch = /;\s*branch=([^;,\s]+)/i.exec(vias[0] ?? "")?.[1];
    headers.append("To", /;\s*tag=/i.test(to) ? to : `${to};tag=${branch ?? token(6)}`);
    const cseq = request.headers.get("CSeq");
    if (cseq !== undefined) headers.append("CSeq", cseq);
    for (const [n, v] of extra.headers ?? []) headers.append(n, v);
    if (extra.contentType) headers.append("Content-Type", extra.contentType);
    if (!this.closed) this.stream.write(serializeSipMessage({ kind: "response", status, reason, headers, body: extra.body ?? new Uint8Array(0) }));
  }

  /** The top Via of a request as answered: `rport=<port>;received=<ip>` of the peer when known (pjsip's form). */
  private received(via: string): string {
    const remote = this.options.remoteHost;
    const port = remote ? /:(\d+)$/.exec(remote)?.[1] : undefined;
    if (!remote || !port || !/;\s*rport(?=[;,\s]|$)/i.test(via)) return via;
    return via.replace(/;\s*rport(?=[;,\s]|$)/i, `;rport=${port};received=${hostOnly(remote)}`);
  }

  private onRequest(request: SipRequest): void {
    if (!request.headers.get("Via") || !request.headers.get("CSeq") || !request.headers.get("From")) {
      this.respond(request, 400, "Bad Request");
      return;
    }
    if (request.method !== "MESSAGE") {
      if (this.listenerCount("request") > 0) this.emit("request", request, (status, reason, extra) => this.respond(request, status, reason, extra));
      else this.respond(request, 501, "Not Implemented");
      return;
    }
    // jamid answers before it looks at the content
    this.respond(request, 200, "OK");
    const messageId = request.headers.get("Message-ID");
    if (messageId !== undefined) {
      if (this.seen.has(messageId)) return; // a retransmission
      this.seen.add(messageId);
      if (this.seen.size > (this.options.dedupSize ?? 1024)) this.seen.delete(this.seen.values().next().value!);
    }
    let incoming: IncomingSipMessage;
    try {
      const from = parseSipAddress(request.headers.get("From")!);
      incoming = { from, sender: from.uri.user ?? "", ...(messageId !== undefined ? { messageId } : {}), payloads: this.payloadsOf(request), request };
    } catch (error) {
      if (this.listenerCount("error") > 0) this.emit("error", error as Error);
      return;
    }
    this.emit("message", incoming);
  }

  private payloadsOf(request: SipRequest): JamiPayload[] {
    const type = request.headers.get("Content-Type") ?? "text/plain";
    const text = (bytes: Uint8Array): string => {
      try {
        return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch {
        throw new SipError("MALFORMED", "a MESSAGE body that is not UTF-8 (jamid drops it)");
      }
    };
    const boundary = multipartBoundary(type);
    if (boundary) return parseMultipart(request.body, boundary).map((part) => decodePayload(part.contentType, text(part.body)));
    return [decodePayload(type, text(request.body))];
  }
}
