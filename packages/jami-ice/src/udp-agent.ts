import createDebug from "debug";
import { deadline, type AbortOptions } from "jami-core";
import { randomBytes } from "node:crypto";
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { EventEmitter } from "node:events";
import { candidatePriority, candidatesToContact, type Candidate, type IceDescription } from "./candidate.js";
import { IceError } from "./errors.js";
import { answerCheck, buildCheck } from "./checks.js";
import { Attr, decodeStun, isStun, StunClass, StunMessage, StunMethod, type TransportAddress } from "./stun.js";
import { familyOf, hostAddresses, iceCredentials } from "./host.js";
import type { StunServer, TurnServer } from "./turn.js";
import { TurnUdpAllocation } from "./turn-udp.js";

const log = createDebug("jami:ice:udp");

/** RFC 8445 §14.3: RTO 500 ms doubling, 7 transmissions (about 39.5 s) — pjnath's defaults. */
const RTO_MS = 500;
const MAX_TRANSMISSIONS = 7;
const CONSENT_INTERVAL_MS = 5_000;
const CONSENT_TIMEOUT_MS = 30_000;

export interface IceUdpAgentOptions {
  controlling: boolean;
  /** Host addresses to offer (default: every non-internal interface address; never loopback unless listed). */
  addresses?: string[];
  /** A STUN server: our mapped address becomes a server-reflexive candidate when it is not a host one. */
  stun?: StunServer;
  /** A TURN server: a UDP allocation there becomes a relayed candidate. */
  turn?: TurnServer;
  timeoutMs?: number;
  /** Stops the gathering (the TURN allocation) early: `create` then rejects with ABORTED. */
  signal?: AbortSignal;
}

/** Where our checks and data leave from: a host socket, or a TURN relay. */
interface Base {
  address: string;
  family: 4 | 6;
  send(bytes: Uint8Array, to: TransportAddress): void;
  close(): void;
  relay?: TurnUdpAllocation;
}

function hostBase(socket: Socket, address: string, family: 4 | 6): Base {
  return { address, family, send: (bytes, to) => socket.send(bytes, to.port, to.address), close: () => socket.close() };
}

function relayBase(relay: TurnUdpAllocation): Base {
  return { address: relay.relayed.address, family: relay.relayed.family, send: (bytes, to) => relay.send(bytes, to), close: () => relay.close(), relay };
}

interface Pair {
  base: Base;
  remote: TransportAddress;
  valid: boolean;
  nominated: boolean;
  /** Application datagrams from the peer before the pair was selected (it may start DTLS once it nominated). */
  early: Uint8Array[];
}

const MAX_EARLY_DATAGRAMS = 32;

type Waiter = { resolve: (m: StunMessage) => void; reject: (e: Error) => void; timer?: NodeJS.Timeout };

const key = (a: { address: string; port: number }): string => `${a.address}|${a.port}`;

/**
 * An ICE agent for UDP host and server-reflexive candidates (RFC 8445): checks with retransmissions, triggered
 * checks, regular nomination by the controlling side. `connect` resolves with an `IceUdpConnection` carrying the
 * datagrams of the nominated pair (what DTLS runs on).
 */
export class IceUdpAgent {
  readonly local: IceDescription;
  private controlling: boolean;
  private readonly tieBreaker = randomBytes(8).readBigUInt64BE();
  private readonly waiters = new Map<string, Waiter>();
  private readonly pairs = new Map<string, Pair>();
  private remote?: IceDescription;
  private selected?: Pair;
  private connection?: IceUdpConnection;
  private settle?: { resolve: (p: Pair) => void; reject: (e: Error) => void };
  private nominating = false;
  private closed = false;
  private released = false;

  private constructor(
    private readonly bases: Base[],
    candidates: Candidate[],
    private readonly options: IceUdpAgentOptions,
  ) {
    this.controlling = options.controlling;
    this.local = { ...iceCredentials(), candidates };
  }

  static async create(options: IceUdpAgentOptions): Promise<IceUdpAgent> {
    const addresses = options.addresses ?? hostAddresses();
    const bases: Base[] = [];
    const candidates: Candidate[] = [];
    const sockets: [Socket, Base][] = [];
    for (const [i, address] of addresses.entries()) {
      const family = familyOf(address);
      const socket = createSocket(family === 6 ? "udp6" : "udp4");
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(0, address, () => resolve());
      });
      const base = hostBase(socket, address, family);
      bases.push(base);
      sockets.push([socket, base]);
      candidates.push({
        foundation: `U${i}`,
        component: 1,
        transport: "UDP",
        priority: candidatePriority("host", "UDP", undefined, 8191 - i),
        address,
        port: socket.address().port,
        type: "host",
      });
    }
    if (options.turn) {
      const relay = await TurnUdpAllocation.allocate(options.turn, { signal: options.signal }).catch((e: Error) => (log("TURN: %s", e.message), undefined));
      if (options.signal?.aborted) {
        relay?.close();
        for (const [socket] of sockets) socket.close();
        throw new IceError("ABORTED", "ICE gathering aborted");
      }
      if (relay) {
        const base = relayBase(relay);
        bases.push(base);
        candidates.push({
          foundation: "R0",
          component: 1,
          transport: "UDP",
          priority: candidatePriority("relay", "UDP"),
          address: relay.relayed.address,
          port: relay.relayed.port,
          type: "relay",
        });
      }
    }
    if (bases.length === 0) throw new IceError("ICE_FAILED", "no usable network address for ICE candidates");
    const agent = new IceUdpAgent(bases, candidates, options);
    for (const [socket, base] of sockets) {
      socket.on("message", (msg: Buffer, from: RemoteInfo) =>
        agent.onPacket(base, new Uint8Array(msg), { family: from.family === "IPv6" ? 6 : 4, address: from.address, port: from.port }),
      );
    }
    for (const base of bases) base.relay?.on("data", (data, from) => agent.onPacket(base, data, from));
    if (options.stun) {
      const base = bases.find((b) => !b.relay && b.family === familyOf(options.stun!.host));
      const mapped = base ? await agent.mappedAddress(base, options.stun).catch((e: Error) => (log("STUN: %s", e.message), undefined)) : undefined;
      if (mapped && !addresses.includes(mapped.address)) {
        candidates.push({
          foundation: "S0",
          component: 1,
          transport: "UDP",
          priority: candidatePriority("srflx", "UDP"),
          address: mapped.address,
          port: mapped.port,
          type: "srflx",
        });
      }
    }
    return agent;
  }

  get isControlling(): boolean {
    return this.controlling;
  }

  async connect(remote: IceDescription, options: AbortOptions = {}): Promise<IceUdpConnection> {
    const { signal } = options;
    if (this.closed) throw new IceError("CLOSED", "ICE agent closed");
    const own = this.local.candidates.map((c) => c.address);
    remote = { ...remote, candidates: candidatesToContact(remote.candidates, own) };
    this.remote = remote;
    const done = new Promise<Pair>((resolve, reject) => (this.settle = { resolve, reject }));
    done.catch(() => undefined);
    const cancel = deadline(this.options.timeoutMs ?? 30_000, signal, (why) =>
      this.fail(why === "timeout" ? new IceError("ICE_TIMEOUT", "ICE did not complete in time") : new IceError("ABORTED", "ICE aborted")),
    );
    const targets = remote.candidates.filter((c) => c.transport === "UDP" && c.component === 1).sort((a, b) => b.priority - a.priority);
    // The relay passes only what permitted peers send (RFC 8656 §9): every address the peer offered.
    await Promise.all(this.bases.map((b) => b.relay?.permit(targets.map((c) => c.address)).catch((e: Error) => log("TURN permission: %s", e.message))));
    let started = 0;
    for (const c of targets) {
      const family = familyOf(c.address);
      for (const base of this.bases.filter((b) => b.family === family)) {
        // RFC 8445 §6.1.4.2 pacing: one new check every 50 ms.
        setTimeout(() => void this.check(this.pair(base, { family, address: c.address, port: c.port }), false), 50 * started++).unref();
      }
    }
    // Pairs the peer's checks made before we knew it get their triggered check now.
    for (const p of this.pairs.values()) if (!p.valid) void this.check(p, false);
    if (started === 0 && this.pairs.size === 0) this.fail(new IceError("ICE_FAILED", "no UDP candidate pair with the peer"));
    try {
      const pair = await done;
      this.connection = new IceUdpConnection(this, pair.base, pair.remote);
      for (const packet of pair.early.splice(0)) this.connection.deliver(packet);
      return this.connection;
    } finally {
      cancel();
    }
  }

  close(): void {
    this.closed = true;
    // Once connected, the sockets belong to the connection (released when it closes).
    if (!this.connection) this.release();
    this.fail(new IceError("CLOSED", "ICE agent closed"));
  }

  /** @internal Closes the sockets once the connection is done with them (pending checks end). */
  release(): void {
    if (this.released) return;
    this.closed = this.released = true;
    for (const w of this.waiters.values()) {
      clearTimeout(w.timer);
      w.reject(new IceError("CLOSED", "ICE agent closed"));
    }
    this.waiters.clear();
    for (const b of this.bases) b.close();
  }

  /** @internal A consent check (RFC 7675) on the selected pair; true when answered. */
  async consent(): Promise<boolean> {
    const p = this.selected;
    if (!p) return false;
    return this.check(p, false, true);
  }

  private fail(error: Error): void {
    const s = this.settle;
    this.settle = undefined;
    s?.reject(error);
  }

  private pair(base: Base, remote: TransportAddress): Pair {
    const k = `${base.address}>${key(remote)}`;
    let p = this.pairs.get(k);
    if (!p) {
      p = { base, remote, valid: false, nominated: false, early: [] };
      this.pairs.set(k, p);
    }
    return p;
  }

  private async mappedAddress(base: Base, server: StunServer): Promise<TransportAddress> {
    const request = StunMessage.request(StunMethod.Binding);
    const answer = await this.transact(base, { family: base.family, address: server.host, port: server.port }, request, request.encode({ fingerprint: true }));
    const mapped = answer.xorAddress(Attr.XorMappedAddress);
    if (!mapped) throw new IceError("TURN_FAILED", "the STUN server gave no mapped address");
    return mapped;
  }

  /** Sends a request with RFC 8445's retransmissions and waits for its answer. */
  private transact(
    base: Base,
    to: TransportAddress,
    message: StunMessage,
    bytes: Uint8Array,
    transmissions = MAX_TRANSMISSIONS,
    integrityKey?: Uint8Array,
  ): Promise<StunMessage> {
    const id = Buffer.from(message.transactionId).toString("hex");
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      this.waiters.set(id, waiter);
      let sent = 0;
      let rto = RTO_MS;
      const send = (): void => {
        if (this.released || (this.closed && !this.connection)) return void (this.waiters.delete(id), reject(new IceError("CLOSED", "ICE agent closed")));
        if (sent++ >= transmissions) {
          this.waiters.delete(id);
          return reject(new IceError("ICE_TIMEOUT", "no answer to a STUN request"));
        }
        try {
          base.send(bytes, to);
        } catch (e) {
          this.waiters.delete(id);
          return reject(new IceError("CLOSED", `cannot send: ${(e as Error).message}`));
        }
        waiter.timer = setTimeout(send, rto);
        waiter.timer.unref?.();
        rto *= 2;
      };
      waiter.resolve = (m) => {
        if (integrityKey && !m.checkIntegrity(integrityKey)) return log("dropped an answer without our peer's integrity");
        clearTimeout(waiter.timer);
        this.waiters.delete(id);
        resolve(m);
      };
      send();
    });
  }

  private async check(p: Pair, useCandidate: boolean, consent = false): Promise<boolean> {
    const remote = this.remote;
    if (!remote) return false;
    const asControlling = this.controlling;
    const {
      request,
      bytes,
      key: pwd,
    } = buildCheck(this.local, remote, { controlling: asControlling, tieBreaker: this.tieBreaker }, candidatePriority("prflx", "UDP"), useCandidate);
    let answer: StunMessage;
    try {
      // Only answers that carry our peer's MESSAGE-INTEGRITY count; others are dropped as if never received
      // (RFC 8489 §9.1.5), so a forged answer neither validates a pair nor cuts its retransmissions short.
      answer = await this.transact(p.base, p.remote, request, bytes, consent ? 1 : MAX_TRANSMISSIONS, pwd);
    } catch {
      return false;
    }
    if (answer.cls === StunClass.Error) {
      if (answer.errorCode()?.code === 487 && !consent) {
        this.controlling = !asControlling; // RFC 8445 §7.2.5.1: the opposite of the role this request claimed
        return this.check(p, useCandidate && this.controlling);
      }
      return false;
    }
    if (consent) return true;
    p.valid = true;
    if (useCandidate || (p.nominated && !this.controlling)) this.select(p);
    else if (this.controlling) void this.nominate(p);
    return true;
  }

  private async nominate(p: Pair): Promise<void> {
    if (this.nominating || this.selected) return;
    this.nominating = true;
    const ok = await this.check(p, true);
    this.nominating = false;
    if (!ok && !this.selected) for (const other of this.pairs.values()) if (other.valid && other !== p) return this.nominate(other);
  }

  private select(p: Pair): void {
    if (this.selected) return;
    this.selected = p;
    log("nominated %s -> %s:%d", p.base.address, p.remote.address, p.remote.port);
    const s = this.settle;
    this.settle = undefined;
    s?.resolve(p);
  }

  /** @internal */
  onPacket(base: Base, packet: Uint8Array, remote: TransportAddress): void {
    if (!isStun(packet)) {
      const sel = this.selected;
      if (sel && sel.base === base && key(sel.remote) === key(remote)) {
        if (this.connection) this.connection.deliver(packet);
        else if (sel.early.length < MAX_EARLY_DATAGRAMS) sel.early.push(packet);
      } else if (!sel) {
        const p = this.pairs.get(`${base.address}>${key(remote)}`);
        if (p && p.early.length < MAX_EARLY_DATAGRAMS) p.early.push(packet);
      }
      return;
    }
    let m: StunMessage;
    try {
      m = decodeStun(packet);
    } catch {
      return;
    }
    if (m.cls === StunClass.Success || m.cls === StunClass.Error) return void this.waiters.get(Buffer.from(m.transactionId).toString("hex"))?.resolve(m);
    if (m.cls === StunClass.Request && m.method === StunMethod.Binding) this.onRequest(base, remote, m);
  }

  private onRequest(base: Base, from: TransportAddress, m: StunMessage): void {
    if (this.released) return;
    const verdict = answerCheck(m, this.local, { controlling: this.controlling, tieBreaker: this.tieBreaker }, from);
    base.send(verdict.reply, from);
    if (!verdict.accepted) return;
    this.controlling = verdict.controlling;
    if (this.selected) return;
    const p = this.pair(base, from);
    if (verdict.useCandidate && !this.controlling) {
      p.nominated = true;
      if (p.valid) return this.select(p);
    }
    if (!p.valid) void this.check(p, false); // triggered check
  }
}

/**
 * The datagrams of a nominated UDP pair: `send` one, `message` events for each received (STUN stays with the
 * agent). Consent freshness closes it (`close` with an ICE_FAILED error) when the peer stops answering.
 */
export class IceUdpConnection extends EventEmitter<{ message: [Uint8Array]; close: [IceError | undefined] }> {
  private closed = false;
  private lastConsent = Date.now();
  private readonly timer: NodeJS.Timeout;
  /** Datagrams that came before anyone listened (the peer's first DTLS flight can beat our `connect`). */
  private unread: Uint8Array[] = [];

  constructor(
    private readonly agent: IceUdpAgent,
    private readonly base: Base,
    readonly remote: TransportAddress,
  ) {
    super();
    this.timer = setInterval(() => void this.checkConsent(), CONSENT_INTERVAL_MS);
    this.timer.unref();
    (this as EventEmitter).on("newListener", (event: string) => {
      // Once the listener is in place (newListener fires just before it is added).
      if (event === "message" && this.unread.length) queueMicrotask(() => this.unread.splice(0).forEach((p) => this.deliver(p)));
    });
  }

  send(datagram: Uint8Array): void {
    if (this.closed) throw new IceError("CLOSED", "ICE connection closed");
    this.base.send(datagram, this.remote);
  }

  close(error?: IceError): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.agent.release();
    this.emit("close", error);
  }

  /** @internal */
  deliver(packet: Uint8Array): void {
    if (this.closed) return;
    if (this.listenerCount("message") > 0) this.emit("message", packet);
    else if (this.unread.length < MAX_EARLY_DATAGRAMS) this.unread.push(packet);
  }

  private async checkConsent(): Promise<void> {
    if (Date.now() - this.lastConsent > CONSENT_TIMEOUT_MS) return this.close(new IceError("ICE_FAILED", "the peer stopped answering consent checks"));
    if (await this.agent.consent()) this.lastConsent = Date.now();
  }
}
