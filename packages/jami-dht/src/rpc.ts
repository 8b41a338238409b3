import createDebug from "debug";
import { randomInt } from "node:crypto";
import { onAbort } from "jami-core";
import { DhtError } from "./errors.js";
import { fragmentDatagrams, parseMessage, type Envelope, type ParsedMessage } from "./messages.js";
import { addressKey, isMartian, type SocketAddress } from "./node-entry.js";
import type { DatagramTransport } from "./transport.js";
import { Value } from "./value.js";

const log = createDebug("jami:dht:rpc");

export const MAX_ATTEMPTS = 3;
const FIRST_TIMEOUT_MS = 500;
const RX_MAX_PACKET_TIME_MS = 10_000;
const RX_TIMEOUT_MS = 3_000;
const MAX_FRAGMENTED_VALUE = 64 * 1024 + 32;
const MAX_PARTIAL_MESSAGES = 256;

/** A reply carrying an error (`e`) from the remote node. */
export class RemoteError extends DhtError {
  constructor(
    readonly remoteCode: number,
    message: string,
  ) {
    super("REMOTE_ERROR", `remote error ${remoteCode}: ${message}`);
  }
}

interface Pending {
  to: SocketAddress;
  datagrams: Uint8Array[];
  attempt: number;
  timeout: number;
  timer?: NodeJS.Timeout;
  resolve(reply: ParsedMessage): void;
  reject(error: Error): void;
}

interface Partial {
  message: ParsedMessage;
  from: SocketAddress;
  buffers: Uint8Array[];
  /** Per value: offsets already copied, and how many bytes they cover. */
  seen: Set<number>[];
  received: number[];
  started: number;
  last: number;
}

export interface RpcOptions {
  network: number;
  userAgent?: string;
  now(): number;
}

/**
 * Requests with OpenDHT's retry schedule (3 attempts; 0.5 s, then `d += d + rand(0..250 ms)`), replies matched by
 * transaction id and address, and reassembly of fragmented values (by address and tid, in any order, bounded).
 */
export class Rpc {
  private tid = randomInt(1, 0xffffffff);
  private readonly pending = new Map<number, Pending>();
  private readonly partial = new Map<string, Partial>();
  private closed = false;
  /** Called for every parsed, complete incoming message that is not a reply to one of our requests. */
  onMessage: (msg: ParsedMessage, from: SocketAddress) => void = () => {};
  /** Called for every reply or error that matched one of our requests. */
  onReply: (msg: ParsedMessage, from: SocketAddress) => void = () => {};
  dropped = 0;
  /** Requests transmitted, retries included (what "messages per get" counts). */
  requestsSent = 0;

  constructor(
    private readonly transport: DatagramTransport,
    private readonly options: RpcOptions,
  ) {
    transport.onDatagram((data, from) => this.receive(data, from));
  }

  envelope(tid = this.nextTid()): Envelope {
    return { tid, network: this.options.network, userAgent: this.options.userAgent };
  }

  nextTid(): number {
    this.tid = (this.tid + 1) >>> 0;
    if (this.tid === 0) this.tid = 1;
    return this.tid;
  }

  send(bytes: Uint8Array, to: SocketAddress): void {
    if (!this.closed) this.transport.send(bytes, to);
  }

  /** Sends a message plus its value fragments (if any), and resends them all on retries. */
  request(
    to: SocketAddress,
    build: (env: Envelope) => Uint8Array,
    fragments: Uint8Array[] = [],
    options: { signal?: AbortSignal } = {},
  ): Promise<ParsedMessage> {
    const signal = options.signal;
    if (this.closed) return Promise.reject(new DhtError("NOT_RUNNING", "node is stopped"));
    const env = this.envelope();
    const datagrams = [build(env), ...fragmentDatagrams(env, fragments)];
    if (signal?.aborted) return Promise.reject(new DhtError("ABORTED", "request aborted"));
    return new Promise<ParsedMessage>((resolve, reject) => {
      const stopListening = onAbort(signal, () => {
        this.finish(env.tid);
        reject(new DhtError("ABORTED", "request aborted"));
      });
      const p: Pending = {
        to,
        datagrams,
        attempt: 0,
        timeout: FIRST_TIMEOUT_MS,
        resolve: (r) => (stopListening(), resolve(r)),
        reject: (e) => (stopListening(), reject(e)),
      };
      this.pending.set(env.tid, p);
      this.transmit(env.tid, p);
    });
  }

  private transmit(tid: number, p: Pending): void {
    p.attempt++;
    this.requestsSent++;
    for (const d of p.datagrams) this.send(d, p.to);
    p.timer = setTimeout(() => {
      if (p.attempt >= MAX_ATTEMPTS) {
        this.finish(tid);
        p.reject(new DhtError("TIMEOUT", `no answer from ${addressKey(p.to)}`));
        return;
      }
      p.timeout += p.timeout + randomInt(0, 250);
      this.transmit(tid, p);
    }, p.timeout);
    p.timer.unref?.();
  }

  private finish(tid: number): void {
    const p = this.pending.get(tid);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(tid);
  }

  private receive(data: Uint8Array, from: SocketAddress): void {
    if (this.closed || isMartian(from)) return;
    let msg: ParsedMessage;
    try {
      msg = parseMessage(data);
    } catch (e) {
      this.dropped++;
      log("dropped datagram from %s: %s", addressKey(from), (e as Error).message);
      return;
    }
    if (msg.network !== this.options.network) return;
    if (msg.kind === "valueData") return this.receiveFragment(msg, from);
    if (msg.valueSizes) {
      this.startPartial(msg, from);
      return;
    }
    this.dispatch(msg, from);
  }

  private dispatch(msg: ParsedMessage, from: SocketAddress): void {
    if (msg.kind === "reply" || msg.kind === "error") {
      const p = this.pending.get(msg.tid);
      if (!p || addressKey(p.to) !== addressKey(from)) {
        log("unexpected %s tid %d from %s", msg.kind, msg.tid, addressKey(from));
        return;
      }
      this.finish(msg.tid);
      this.onReply(msg, from);
      if (msg.kind === "error") p.reject(new RemoteError(msg.error!.code, msg.error!.message));
      else p.resolve(msg);
      return;
    }
    this.onMessage(msg, from);
  }

  private startPartial(msg: ParsedMessage, from: SocketAddress): void {
    const sizes = msg.valueSizes!;
    if (sizes.some((s) => s > MAX_FRAGMENTED_VALUE) || sizes.length > 1024) {
      this.dropped++;
      return;
    }
    this.expirePartials();
    if (this.partial.size >= MAX_PARTIAL_MESSAGES) return;
    const now = this.options.now();
    this.partial.set(`${addressKey(from)}/${msg.tid}`, {
      message: msg,
      from,
      buffers: sizes.map((s) => new Uint8Array(s)),
      seen: sizes.map(() => new Set<number>()),
      received: sizes.map(() => 0),
      started: now,
      last: now,
    });
  }

  private receiveFragment(msg: ParsedMessage, from: SocketAddress): void {
    const key = `${addressKey(from)}/${msg.tid}`;
    const partial = this.partial.get(key);
    if (!partial) return;
    partial.last = this.options.now();
    for (const [index, { offset, data }] of msg.parts!) {
      const buf = partial.buffers[index];
      const seen = partial.seen[index];
      // Any order (as OpenDHT master); a retransmitted fragment is recognised by its offset and skipped.
      if (!buf || !seen || seen.has(offset) || offset + data.length > buf.length || data.length === 0) continue;
      buf.set(data, offset);
      seen.add(offset);
      partial.received[index]! += data.length;
    }
    if (partial.received.some((n, i) => n < partial.buffers[i]!.length)) return;
    this.partial.delete(key);
    const complete = partial.message;
    complete.valueSizes = undefined;
    for (const bytes of partial.buffers) {
      try {
        complete.values.push(Value.decode(bytes));
      } catch {
        complete.badValues++;
      }
    }
    this.dispatch(complete, from);
  }

  private expirePartials(): void {
    const now = this.options.now();
    for (const [key, p] of this.partial) {
      if (now - p.started > RX_MAX_PACKET_TIME_MS || now - p.last > RX_TIMEOUT_MS) this.partial.delete(key);
    }
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  close(): void {
    this.closed = true;
    for (const [tid, p] of this.pending) {
      this.finish(tid);
      p.reject(new DhtError("NOT_RUNNING", "node stopped"));
    }
    this.partial.clear();
  }
}
