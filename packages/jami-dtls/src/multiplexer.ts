import { decodeMsgpackSequence, encodeMsgpack, isMsgMap, TypedEmitter, type MsgValue, onAbort, withTimeout, abortable, type AbortOptions } from "jami-core";
import createDebug from "debug";
import { randomInt } from "node:crypto";
import { Duplex } from "node:stream";

import { LinkError } from "./errors.js";

const log = createDebug("jami:dtls:mux");

export const CONTROL_CHANNEL = 0;
export const PROTOCOL_CHANNEL = 0xffff;
export const MULTIPLEXED_SOCKET_VERSION = 1;
/** The largest `data` jamid accepts in one frame. */
export const MAX_CHANNEL_FRAME = 65535;
/** How long a closed link waits for the peer to end its side before the connection is torn down. */
const CLOSE_GRACE_MS = 2000;
/** Channels open at once on one link; requests past it are declined (jamid opens a handful per peer). */
export const MAX_OPEN_CHANNELS = 256;
/** Channel requests being decided at once (the request handler may be slow); more are declined. */
export const MAX_PENDING_CHANNEL_REQUESTS = 16;
/** Bytes a channel buffers for a reader that does not keep up before the whole link is paused. */
const CHANNEL_HIGH_WATER_MARK = 256 * 1024;
const enum State {
  Request = 0,
  Accept = 1,
  Decline = 2,
}

/** Decides on a channel the peer asks for: true opens it. */
export type ChannelRequestHandler = (name: string) => boolean | Promise<boolean>;

export interface MultiplexedSocketEvents {
  /** A channel the peer asked for and we accepted. */
  channel: [Channel];
  /** The peer's protocol version (`{"v": n}`). */
  version: [number];
  /** The link is gone; every channel has ended (with `error` when it broke). */
  close: [LinkError | undefined];
}

/**
 * jamid's MultiplexedSocket (spec §4.5) over a secure stream: msgpack `[channel, bin]` frames, channel 0 for
 * `[name, channel, state]` requests, channel 0xFFFF for the version and beacon maps, an empty payload closing a
 * channel. Many channels share one link.
 */
export class MultiplexedSocket extends TypedEmitter<MultiplexedSocketEvents> {
  private readonly frames = new FrameParser();
  private readonly channels = new Map<number, Channel>();
  private readonly opening = new Map<number, { name: string; resolve: (c: Channel) => void; reject: (e: Error) => void }>();
  /** Channel ids whose request the handler is still deciding. */
  private readonly deciding = new Set<number>();
  /** Channels whose reader is behind: the link is paused while any is. */
  private readonly backlogged = new Set<Channel>();
  private beaconWaiters: Array<() => void> = [];
  private closed = false;
  private ackCheck?: NodeJS.Immediate;
  peerVersion?: number;

  constructor(
    readonly stream: Duplex,
    private onRequest: ChannelRequestHandler = () => false,
  ) {
    super();
    stream.on("data", (chunk: Buffer) => this.onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    stream.on("end", () => this.shutdown());
    stream.on("close", () => this.shutdown());
    stream.on("error", (e: Error) => this.shutdown(new LinkError("LINK_CLOSED", `link broke: ${e.message}`, { cause: e })));
    this.sendProtocol({ v: MULTIPLEXED_SOCKET_VERSION });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  setRequestHandler(handler: ChannelRequestHandler): void {
    this.onRequest = handler;
  }

  /** Asks the peer for a channel; resolves when it accepts, rejects with CHANNEL_DECLINED when it declines. */
  openChannel(name: string, options: AbortOptions = {}): Promise<Channel> {
    const { signal } = options;
    if (this.closed) return Promise.reject(new LinkError("LINK_CLOSED", "link closed"));
    let id: number;
    do id = randomInt(1, PROTOCOL_CHANNEL);
    while (this.channels.has(id) || this.opening.has(id));
    const chosen = id;
    if (signal?.aborted) return Promise.reject(new LinkError("ABORTED", `opening ${name} aborted`));
    return new Promise<Channel>((resolve, reject) => {
      const stopListening = onAbort(signal, () => {
        this.opening.delete(chosen);
        reject(new LinkError("ABORTED", `opening ${name} aborted`));
      });
      this.opening.set(chosen, {
        name,
        resolve: (c) => (stopListening(), resolve(c)),
        reject: (e) => (stopListening(), reject(e)),
      });
      this.sendFrame(CONTROL_CHANNEL, encodeMsgpack([name, chosen, State.Request]));
    });
  }

  /** jamid's beacon: `{"p": true}`, the peer answers `{"p": false}`; the link is closed if no answer in time. */
  async sendBeacon(timeoutMs = 3000): Promise<void> {
    const answered = new Promise<void>((resolve) => this.beaconWaiters.push(resolve));
    this.sendProtocol({ p: true });
    const timeout = withTimeout(timeoutMs);
    try {
      await abortable(answered, timeout.signal, () => new LinkError("TIMEOUT", "no answer to the beacon"));
    } catch (e) {
      this.shutdown(e as LinkError);
      throw e;
    } finally {
      timeout.dispose();
    }
  }

  /**
   * Writes an empty frame on the protocol channel (jamid 13.7 and today's daemons ignore it, as we do) so that our
   * TCP acknowledgement goes out now. A peer that writes a short message and then, moments later, a longer one
   * (jamid's git server: its NAK, then the pack) has that second write held by Nagle's algorithm until the first is
   * acknowledged, and Linux delays a bare acknowledgement by 40 ms. Call it where a reply is known to follow.
   */
  acknowledgeNow(): void {
    if (!this.closed) this.sendFrame(PROTOCOL_CHANNEL, new Uint8Array());
  }

  /**
   * jamid writes a frame of 8 KiB or more as two TLS records, its header then its payload (dhtnet's
   * `MultiplexedSocket::write`): the payload waits in its kernel until the header is acknowledged. When only a
   * header came (checked once this round of reads is over: the payload may be right behind it), we acknowledge now.
   */
  private readonly acknowledgeWaitingPayload = (): void => {
    this.ackCheck = undefined;
    if (this.frames.holdsHeaderOnly()) this.acknowledgeNow();
  };

  /**
   * Ends the link: our side of the stream is ended (TLS close_notify, FIN), and the connection is torn down after
   * a short grace even if the peer never ends its side (jamid 13.7 keeps it open while a git clone waits).
   */
  close(): void {
    this.stream.end();
    if (!this.stream.destroyed) {
      const timer = setTimeout(() => this.stream.destroy(), CLOSE_GRACE_MS);
      this.stream.once("close", () => clearTimeout(timer));
    }
    this.shutdown();
  }

  /** @internal */
  sendFrame(channel: number, data: Uint8Array): boolean {
    if (this.closed) throw new LinkError("LINK_CLOSED", "link closed");
    // The msgpack array header, channel and bin header, then the payload, in ONE write: over TLS, two writes become
    // two records in one TCP segment, and jamid 13.7 reads the second only at its next poll (500 ms later per frame).
    const header = frameHeader(channel, data.length);
    const frame = Buffer.allocUnsafe(header.length + data.length);
    frame.set(header, 0);
    frame.set(data, header.length);
    return this.stream.write(frame);
  }

  /** @internal */
  forget(channel: Channel): void {
    if (this.channels.get(channel.id) === channel) this.channels.delete(channel.id);
    this.caughtUp(channel);
  }

  /** @internal A channel's buffer is full: stop reading the link (TCP then pushes back on the peer). */
  fellBehind(channel: Channel): void {
    this.backlogged.add(channel);
    this.stream.pause();
  }

  /** @internal A channel's reader asked for more (or the channel is gone). */
  caughtUp(channel: Channel): void {
    if (this.backlogged.delete(channel) && this.backlogged.size === 0 && !this.closed) this.stream.resume();
  }

  private sendProtocol(map: Record<string, MsgValue>): void {
    if (!this.closed) this.sendFrame(PROTOCOL_CHANNEL, encodeMsgpack(map));
  }

  private onData(chunk: Uint8Array): void {
    try {
      for (const [channel, payload] of this.frames.push(chunk)) this.onFrame(channel, payload);
      if (this.frames.holdsHeaderOnly() && !this.ackCheck) this.ackCheck = setImmediate(this.acknowledgeWaitingPayload);
    } catch (e) {
      const error = e instanceof LinkError ? e : new LinkError("PROTOCOL", `undecodable frame: ${(e as Error).message}`, { cause: e });
      log("closing the link: %s", error.message);
      this.stream.destroy();
      this.shutdown(error);
    }
  }

  private onFrame(channel: number, payload: Uint8Array): void {
    if (channel === CONTROL_CHANNEL || channel === PROTOCOL_CHANNEL) {
      let messages: MsgValue[];
      try {
        messages = decodeMsgpackSequence(payload);
      } catch {
        return log("dropped an undecodable control message");
      }
      for (const m of messages) this.onControl(m);
      return;
    }
    const c = this.channels.get(channel);
    if (!c) {
      if (payload.length) log("data for unknown channel %d dropped", channel);
      return;
    }
    if (payload.length === 0) c.remoteEnded();
    else c.deliver(payload);
  }

  private onControl(m: MsgValue): void {
    if (isMsgMap(m)) {
      if (typeof m.v === "number") {
        this.peerVersion = m.v;
        this.emit("version", m.v);
      } else if (m.p === true) this.sendProtocol({ p: false });
      else if (m.p === false) for (const w of this.beaconWaiters.splice(0)) w();
      return;
    }
    if (!Array.isArray(m) || typeof m[0] !== "string" || typeof m[1] !== "number" || typeof m[2] !== "number") {
      return log("dropped a malformed channel request");
    }
    const [name, id, state] = m as [string, number, number];
    if (state === State.Request) void this.onChannelRequest(name, id);
    else if (state === State.Accept) {
      const pending = this.opening.get(id);
      if (!pending) return;
      this.opening.delete(id);
      const channel = new Channel(this, id, pending.name);
      this.channels.set(id, channel);
      pending.resolve(channel);
    } else if (state === State.Decline) {
      const pending = this.opening.get(id);
      this.opening.delete(id);
      pending?.reject(new LinkError("CHANNEL_DECLINED", `the peer declined channel ${pending.name}`));
      this.channels.get(id)?.remoteEnded();
    }
  }

  private async onChannelRequest(name: string, id: number): Promise<void> {
    const free = !this.channels.has(id) && !this.deciding.has(id) && id !== CONTROL_CHANNEL && id !== PROTOCOL_CHANNEL;
    if (!free || this.channels.size + this.deciding.size >= MAX_OPEN_CHANNELS || this.deciding.size >= MAX_PENDING_CHANNEL_REQUESTS) {
      log("declined channel request %s (%d): id in use or too many channels", name, id);
      return void this.sendFrame(CONTROL_CHANNEL, encodeMsgpack([name, id, State.Decline]));
    }
    let accept = false;
    this.deciding.add(id);
    try {
      accept = await this.onRequest(name);
    } catch (e) {
      log("channel request handler failed: %s", (e as Error).message);
    } finally {
      this.deciding.delete(id);
    }
    if (this.closed) return;
    if (!accept) return void this.sendFrame(CONTROL_CHANNEL, encodeMsgpack([name, id, State.Decline]));
    const channel = new Channel(this, id, name);
    this.channels.set(id, channel);
    this.sendFrame(CONTROL_CHANNEL, encodeMsgpack([name, id, State.Accept]));
    this.emit("channel", channel);
  }

  private shutdown(error?: LinkError): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ackCheck) clearImmediate(this.ackCheck);
    const reason = error ?? new LinkError("LINK_CLOSED", "link closed");
    for (const p of this.opening.values()) p.reject(reason);
    this.opening.clear();
    for (const c of this.channels.values()) c.linkClosed(error);
    this.channels.clear();
    this.backlogged.clear();
    this.emit("close", error);
  }
}

/** One named channel of a link, as a byte stream; `end()` closes it on both sides (an empty frame). */
export class Channel extends Duplex {
  private ended = false;

  constructor(
    private readonly socket: MultiplexedSocket,
    readonly id: number,
    readonly name: string,
  ) {
    super({ highWaterMark: CHANNEL_HIGH_WATER_MARK });
  }

  /** Has the link's acknowledgement leave now (see `MultiplexedSocket.acknowledgeNow`). */
  acknowledgeNow(): void {
    if (!this.socket.isClosed) this.socket.acknowledgeNow();
  }

  /** @internal */
  deliver(payload: Uint8Array): void {
    if (this.readableEnded || this.destroyed) return;
    if (!this.push(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength))) this.socket.fellBehind(this);
  }

  /** @internal */
  remoteEnded(): void {
    this.push(null);
    if (!this.ended) this.end();
  }

  /** @internal */
  linkClosed(error?: LinkError): void {
    if (error) this.destroy(error);
    else {
      this.push(null);
      this.destroy();
    }
  }

  override _read(): void {
    // Frames are pushed as they arrive; a reader asking for more lets a paused link go on.
    this.socket.caughtUp(this);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // A channel destroyed here (a reader refusing what it got) is closed on the peer's side too, as `end()` does:
    // otherwise the peer would go on sending into frames we drop.
    if (!this.ended && !this.socket.isClosed) {
      this.ended = true;
      try {
        this.socket.sendFrame(this.id, new Uint8Array());
      } catch {
        /* the link is gone: nothing to tell */
      }
    }
    this.socket.forget(this);
    callback(error);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      let flushed = true;
      for (let offset = 0; offset < chunk.length; offset += MAX_CHANNEL_FRAME)
        flushed = this.socket.sendFrame(this.id, chunk.subarray(offset, offset + MAX_CHANNEL_FRAME));
      // Back-pressure from the link reaches the channel's writer.
      if (flushed) callback();
      else this.socket.stream.once("drain", () => callback());
    } catch (e) {
      callback(e as Error);
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.ended = true;
    try {
      if (!this.socket.isClosed) this.socket.sendFrame(this.id, new Uint8Array());
    } catch {
      /* the link is gone: nothing to tell */
    }
    this.socket.forget(this);
    callback();
  }
}

/** `[channel, bin(length)]` up to the payload, in msgpack's smallest encodings (as msgpack-c writes it). */
function frameHeader(channel: number, length: number): Buffer {
  const ch = channel < 0x80 ? [channel] : channel < 0x100 ? [0xcc, channel] : [0xcd, channel >> 8, channel & 0xff];
  const bin =
    length < 0x100
      ? [0xc4, length]
      : length < 0x10000
        ? [0xc5, length >> 8, length & 0xff]
        : [0xc6, (length >>> 24) & 0xff, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff];
  return Buffer.from([0x92, ...ch, ...bin]);
}

/**
 * Cuts the link's byte stream into `[channel, payload]` frames. Only the layout jamid writes is accepted
 * (fixarray 2, a u16 channel as a positive fixint, uint8 or uint16, then bin8/16/32), and a payload above
 * MAX_CHANNEL_FRAME is refused as soon as its header is read: a peer can neither make the link buffer an
 * announced 4 GiB nor make it re-decode its buffer on every chunk. Throws PROTOCOL.
 */
class FrameParser {
  private chunks: Uint8Array[] = [];
  private size = 0;

  push(chunk: Uint8Array): Array<[number, Uint8Array]> {
    this.chunks.push(chunk);
    this.size += chunk.length;
    const out: Array<[number, Uint8Array]> = [];
    for (;;) {
      const frame = this.next();
      if (!frame) break;
      out.push(frame);
    }
    return out;
  }

  /** Whether what is buffered is exactly a frame's header, its payload still to come. */
  holdsHeaderOnly(): boolean {
    if (this.size === 0) return false;
    const header = readHeader(this.peek(Math.min(this.size, MAX_HEADER)));
    return header !== "incomplete" && header.payloadLength > 0 && this.size === header.headerLength;
  }

  private next(): [number, Uint8Array] | undefined {
    if (this.size === 0) return undefined;
    const header = readHeader(this.peek(Math.min(this.size, MAX_HEADER)));
    if (header === "incomplete" || this.size < header.headerLength + header.payloadLength) return undefined;
    this.take(header.headerLength);
    return [header.channel, this.take(header.payloadLength)];
  }

  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    return concatAll(this.chunks, n);
  }

  private take(n: number): Uint8Array {
    this.size -= n;
    const first = this.chunks[0];
    if (first && first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = concatAll(this.chunks, n);
    let left = n;
    while (left > 0) {
      const c = this.chunks[0]!;
      if (c.length <= left) {
        this.chunks.shift();
        left -= c.length;
      } else {
        this.chunks[0] = c.subarray(left);
        left = 0;
      }
    }
    return out;
  }
}

/** fixarray, uint16 channel (3 bytes), bin32 header (5 bytes). */
const MAX_HEADER = 9;

function readHeader(h: Uint8Array): { channel: number; headerLength: number; payloadLength: number } | "incomplete" {
  const refuse = (why: string): never => {
    throw new LinkError("PROTOCOL", `a frame is not [channel, bin]: ${why}`);
  };
  if (h[0] !== 0x92) refuse(`starts with 0x${h[0]!.toString(16)}`);
  if (h.length < 2) return "incomplete";
  let at = 1;
  let channel: number;
  const c = h[at]!;
  if (c < 0x80) {
    channel = c;
    at += 1;
  } else if (c === 0xcc) {
    if (h.length < at + 2) return "incomplete";
    channel = h[at + 1]!;
    at += 2;
  } else if (c === 0xcd) {
    if (h.length < at + 3) return "incomplete";
    channel = (h[at + 1]! << 8) | h[at + 2]!;
    at += 3;
  } else return refuse(`channel encoded as 0x${c.toString(16)}`);
  if (h.length < at + 1) return "incomplete";
  const b = h[at]!;
  const width = b === 0xc4 ? 1 : b === 0xc5 ? 2 : b === 0xc6 ? 4 : 0;
  if (!width) refuse(`payload encoded as 0x${b.toString(16)}`);
  if (h.length < at + 1 + width) return "incomplete";
  let length = 0;
  for (let i = 0; i < width; i++) length = length * 256 + h[at + 1 + i]!;
  if (length > MAX_CHANNEL_FRAME) refuse(`payload of ${length} bytes announced (at most ${MAX_CHANNEL_FRAME})`);
  return { channel, headerLength: at + 1 + width, payloadLength: length };
}

function concatAll(chunks: Uint8Array[], n: number): Uint8Array {
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    const part = c.subarray(0, n - o);
    out.set(part, o);
    o += part.length;
    if (o === n) break;
  }
  return out;
}
