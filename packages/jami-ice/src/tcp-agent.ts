import createDebug from "debug";
import { deadline, sleep, type AbortOptions } from "jami-core";
import { randomBytes } from "node:crypto";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { candidatePriority, candidatesToContact, type Candidate, type IceDescription, type TcpType } from "./candidate.js";
import { IceError } from "./errors.js";
import { familyOf, hostAddresses, iceCredentials } from "./host.js";
import { IceConnection } from "./ice-connection.js";
import { StunClass, type StunMessage, StunMethod } from "./stun.js";
import { StunLink } from "./stun-link.js";
import { answerCheck, buildCheck } from "./checks.js";
import { stunMappedAddress, TurnTcpAllocation, type StunServer, type TurnServer } from "./turn.js";

const log = createDebug("jami:ice");

/** pjnath's STUN timeout (RTO 500 ms, 7 tries) is about 39.5 s; a TCP check gets its answer or fails well before. */
const CHECK_TIMEOUT_MS = 10_000;
const DIAL_ATTEMPTS = 5;
const DIAL_RETRY_MS = 500;
/** Direct pairs get a head start over pairs through our relay (which cost the relay's bandwidth). */
const RELAY_DIAL_DELAY_MS = 1000;
/** A simultaneous open is tried again this often until the peer's SYN meets ours (or ICE gives up). */
const SIMULTANEOUS_OPEN_RETRY_MS = 200;

export interface IceAgentOptions {
  /** The controlling agent nominates (Jami: the device that received the connection request). */
  controlling: boolean;
  /** Host addresses to offer (default: every non-internal interface address, as pjnath: never loopback). */
  addresses?: string[];
  /** How long `connect` may take before it fails with ICE_TIMEOUT (default 30 s, jamid's answer window). */
  timeoutMs?: number;
  /** A STUN server: our address as it sees us becomes a server-reflexive (active) candidate when it is not a host one. */
  stun?: StunServer;
  /** A TURN server: a TCP relay (RFC 6062) becomes relayed candidates (passive, and active through Connect). */
  turn?: TurnServer;
  /**
   * Which host TCP candidates to offer per address (default passive and active, what jamid offers). `so` adds a
   * simultaneous-open candidate (RFC 6544 §4.3): both sides connect to each other from fixed ports.
   */
  tcpTypes?: TcpType[];
  signal?: AbortSignal;
}

/**
 * An ICE agent for TCP candidates (RFC 8445 + RFC 6544), as jamid's connection setup uses them: a passive
 * (listening) and an active host candidate per address, checks over RFC 4571-framed STUN, regular nomination by the
 * controlling side. `connect` resolves with the nominated connection.
 */
export class IceTcpAgent {
  readonly local: IceDescription;
  private controlling: boolean;
  private readonly tieBreaker = randomBytes(8).readBigUInt64BE();
  private readonly links = new Set<StunLink>();
  private readonly valid = new Set<StunLink>();
  private readonly nominated = new Set<StunLink>();
  private remote?: IceDescription;
  private selected?: StunLink;
  private settle?: { resolve: (l: StunLink) => void; reject: (e: Error) => void };
  /** The connection handed out, once there is one. */
  private connection?: IceConnection;
  private nominating = false;
  private readonly relayLinks = new WeakSet<StunLink>();
  private readonly triggered = new WeakSet<StunLink>();
  private selectedThroughRelay = false;
  private closed = false;
  /** Aborted on close: ends the pauses between dial attempts at once. */
  private readonly lifetime = new AbortController();
  /** Outgoing connections not yet established (a simultaneous open can wait in SYN_SENT): destroyed on close. */
  private readonly opening = new Set<Socket>();

  private constructor(
    private readonly servers: Server[],
    candidates: Candidate[],
    private readonly options: IceAgentOptions,
    private readonly relay?: TurnTcpAllocation,
  ) {
    this.controlling = options.controlling;
    this.local = { ...iceCredentials(), candidates };
    for (const server of servers) server.on("connection", (s: Socket) => this.adopt(new StunLink(s)));
    relay?.on("connection", (s, peer) => {
      const link = new StunLink(s, peer);
      this.relayLinks.add(link);
      this.adopt(link);
    });
  }

  /**
   * Gathers candidates: per host address a listening socket (passive) and an active candidate (port 9); with
   * `stun`, a server-reflexive active candidate; with `turn`, a relayed passive candidate (TCP allocation).
   */
  static async create(options: IceAgentOptions): Promise<IceTcpAgent> {
    const addresses = options.addresses ?? hostAddresses();
    const tcpTypes = new Set(options.tcpTypes ?? ["passive", "active"]);
    const servers: Server[] = [];
    const candidates: Candidate[] = [];
    for (const [i, address] of addresses.entries()) {
      const foundation = `H${i}`;
      const host = (tcpType: TcpType, port: number): Candidate => ({
        foundation,
        component: 1,
        transport: "TCP",
        priority: candidatePriority("host", "TCP", tcpType, 8191 - i),
        address,
        port,
        type: "host",
        tcpType,
      });
      if (tcpTypes.has("passive")) {
        const server = await listen(address);
        servers.push(server);
        candidates.push(host("passive", (server.address() as { port: number }).port));
      }
      if (tcpTypes.has("active")) candidates.push(host("active", 9));
      if (tcpTypes.has("so")) {
        // A port of our own to connect from (free now; Linux cannot connect from a port that is listening).
        const probe = await listen(address);
        const port = (probe.address() as { port: number }).port;
        await new Promise((r) => probe.close(r));
        candidates.push(host("so", port));
      }
    }
    let relay: TurnTcpAllocation | undefined;
    try {
      const reflexive = new Set<string>();
      if (options.stun) reflexive.add((await stunMappedAddress(options.stun, { signal: options.signal })).address);
      if (options.turn) {
        relay = await TurnTcpAllocation.allocate(options.turn, { signal: options.signal });
        if (relay.mapped) reflexive.add(relay.mapped.address);
        const r = relay.relayed;
        candidates.push(
          {
            foundation: "R0",
            component: 1,
            transport: "TCP",
            priority: candidatePriority("relay", "TCP", "passive"),
            address: r.address,
            port: r.port,
            type: "relay",
            tcpType: "passive",
          },
          {
            foundation: "R0",
            component: 1,
            transport: "TCP",
            priority: candidatePriority("relay", "TCP", "active"),
            address: r.address,
            port: 9,
            type: "relay",
            tcpType: "active",
          },
        );
      }
      // A reflexive address equal to a host one adds nothing (no NAT in between).
      for (const [i, address] of [...reflexive].filter((a) => !addresses.includes(a)).entries()) {
        candidates.push({
          foundation: `S${i}`,
          component: 1,
          transport: "TCP",
          priority: candidatePriority("srflx", "TCP", "active"),
          address,
          port: 9,
          type: "srflx",
          tcpType: "active",
        });
      }
    } catch (e) {
      for (const server of servers) server.close();
      relay?.close();
      throw e;
    }
    if (candidates.length === 0) throw new IceError("ICE_FAILED", "no usable network address for ICE candidates");
    return new IceTcpAgent(servers, candidates, options, relay);
  }

  get isControlling(): boolean {
    return this.controlling;
  }

  /** Runs the checks against the peer's description; resolves with the nominated connection. */
  async connect(remote: IceDescription, options: AbortOptions = {}): Promise<IceConnection> {
    const { signal } = options;
    if (this.closed) throw new IceError("CLOSED", "ICE agent closed");
    const own = this.local.candidates.map((c) => c.address);
    remote = { ...remote, candidates: candidatesToContact(remote.candidates, own) };
    this.remote = remote;
    const done = new Promise<StunLink>((resolve, reject) => (this.settle = { resolve, reject }));
    done.catch(() => undefined); // awaited below; a failure before that is not unhandled
    const cancel = deadline(this.options.timeoutMs ?? 30_000, signal, (why) =>
      this.fail(why === "timeout" ? new IceError("ICE_TIMEOUT", "ICE did not complete in time") : new IceError("ABORTED", "ICE aborted")),
    );
    // The peer's addresses may then connect to our relayed candidate.
    await this.relay?.permit(remote.candidates.map((c) => c.address)).catch((e: Error) => log("TURN permission: %s", e.message));
    // Links that came in before we knew the peer get their triggered check now.
    for (const link of this.links) void this.check(link, false);
    const targets = remote.candidates.filter((c) => c.transport === "TCP" && c.tcpType === "passive" && c.component === 1);
    // We dial from our host active candidates' families, and through the relay (after the direct tries).
    const ours = new Set(this.local.candidates.filter((c) => c.type === "host" && c.tcpType === "active").map((c) => familyOf(c.address)));
    const byPriority = [...targets].sort((a, b) => b.priority - a.priority);
    const attempts = byPriority.filter((c) => ours.has(familyOf(c.address))).map((c) => this.dial(c));
    const relay = this.relay;
    if (relay) {
      const delay = attempts.length ? RELAY_DIAL_DELAY_MS : 0;
      attempts.push(...byPriority.filter((c) => familyOf(c.address) === relay.relayed.family).map((c) => this.dial(c, 0, relay, delay)));
    }
    // Simultaneous open: from each of our so candidates to each of the peer's of the same family.
    for (const mine of this.local.candidates.filter((c) => c.type === "host" && c.tcpType === "so")) {
      const theirs = remote.candidates.filter(
        (c) => c.transport === "TCP" && c.tcpType === "so" && c.component === 1 && familyOf(c.address) === familyOf(mine.address),
      );
      attempts.push(...theirs.map((c) => this.dialSimultaneous(mine, c, Date.now() + (this.options.timeoutMs ?? 30_000))));
    }
    // Nothing to dial and nothing that could dial us: no pair can ever form.
    const canComeIn = remote.candidates.some((c) => c.transport === "TCP" && c.tcpType === "active");
    if (attempts.length === 0 && !canComeIn && this.links.size === 0) this.fail(new IceError("ICE_FAILED", "no candidate pair with the peer"));
    for (const a of attempts) a.catch(() => undefined);
    try {
      const link = await done;
      // the other connections stay open alongside the chosen one (see IceConnection's `spares`)
      const spares = [...this.links].filter((other) => other !== link);
      for (const spare of spares) this.links.delete(spare);
      const connection = new IceConnection(link, this.local, remote, this.controlling, spares);
      this.connection = connection;
      // Our passive candidates keep listening as long as the connection lives, as pjnath's do: jamid 13.7 may still
      // be connecting its active candidates to them. Refused, that connection stays in its event loop hung up for
      // good, and its ICE thread then sleeps 500 ms on every poll with nothing else to do (transfers with jamid
      // fell to ~10 MB/s in about half the runs: seen with strace, `epoll_wait` returning only such sockets).
      // What connects now becomes an idle spare of the connection.
      connection.once("close", () => this.closeServers());
      // A relayed link keeps its allocation until the link ends.
      if (this.relay && this.relayLinks.has(link)) {
        this.selectedThroughRelay = true;
        connection.once("close", () => this.relay?.close());
      } else this.relay?.close();
      return connection;
    } finally {
      cancel();
    }
  }

  close(): void {
    this.closed = true;
    this.lifetime.abort();
    // A connection still being opened once a pair is chosen may already be accepted on the peer's side: reset now,
    // it would stay readable (at its end) in jamid's pjnath event loop for good, which then sleeps 500 ms per poll
    // (transfers with jamid fell to ~10 MB/s in the runs where this raced). It becomes an idle spare of the chosen
    // connection when it connects, and ends with it.
    if (!this.connection) for (const socket of this.opening) socket.destroy();
    if (!this.connection || this.connection.destroyed) this.closeServers();
    if (!this.selectedThroughRelay) this.relay?.close();
    for (const link of this.links) if (link !== this.selected) link.close();
    this.fail(new IceError("CLOSED", "ICE agent closed"));
  }

  private closeServers(): void {
    for (const server of this.servers) if (server.listening) server.close();
  }

  private fail(error: Error): void {
    const s = this.settle;
    this.settle = undefined;
    s?.reject(error);
  }

  /**
   * Connects our active candidate (or, with `relay`, our relayed address through TURN Connect) to a passive one and
   * checks the pair. A refused or dropped connection is tried again a few times: a relay only lets us in once the
   * peer has set its TURN permission.
   */
  private async dial(target: Candidate, attempt = 0, relay?: TurnTcpAllocation, delayMs = 0): Promise<void> {
    if (delayMs) await sleep(delayMs, { signal: this.lifetime.signal });
    if (this.closed || this.selected) return;
    const link = await (relay ? this.openThroughRelay(relay, target) : this.open(target));
    if (link) {
      if (relay) this.relayLinks.add(link);
      this.adopt(link);
      if (await this.check(link, false)) return;
    }
    if (attempt < DIAL_ATTEMPTS - 1 && !this.closed && !this.selected) {
      await sleep(DIAL_RETRY_MS, { signal: this.lifetime.signal });
      return this.dial(target, attempt + 1, relay);
    }
    throw new IceError("ICE_FAILED", `pair with ${target.address}:${target.port} failed`);
  }

  private open(target: Candidate, from?: Candidate): Promise<StunLink | undefined> {
    return new Promise((resolve) => {
      const socket = createConnection({ host: target.address, port: target.port, ...(from ? { localAddress: from.address, localPort: from.port } : {}) });
      this.opening.add(socket);
      socket.once("connect", () => (this.opening.delete(socket), resolve(new StunLink(socket))));
      socket.once("error", (e) => (this.opening.delete(socket), log("TCP to %s:%d failed: %s", target.address, target.port, e.message), resolve(undefined)));
      socket.once("close", () => (this.opening.delete(socket), resolve(undefined)));
    });
  }

  /**
   * RFC 6544 simultaneous open: connect from our so port to the peer's while it connects to ours. Until its SYN
   * meets ours the peer's port refuses us, so we try again every 200 ms until a connection forms or time is up.
   */
  private async dialSimultaneous(from: Candidate, target: Candidate, deadline: number): Promise<void> {
    while (!this.closed && !this.selected && Date.now() < deadline) {
      const link = await this.open(target, from);
      if (link) {
        this.adopt(link);
        if (await this.check(link, false)) return;
      }
      await sleep(SIMULTANEOUS_OPEN_RETRY_MS, { signal: this.lifetime.signal });
    }
    throw new IceError("ICE_FAILED", `simultaneous open with ${target.address}:${target.port} failed`);
  }

  private async openThroughRelay(relay: TurnTcpAllocation, target: Candidate): Promise<StunLink | undefined> {
    try {
      const peer = { family: familyOf(target.address), address: target.address, port: target.port };
      const link = new StunLink(await relay.connect(peer), peer);
      link.socket.resume();
      return link;
    } catch (e) {
      log("TURN Connect to %s:%d failed: %s", target.address, target.port, (e as Error).message);
      return undefined;
    }
  }

  private adopt(link: StunLink): void {
    // one that comes up once a pair is chosen is kept with the chosen connection (see IceConnection's `spares`);
    // its checks are answered (the peer goes on checking the pairs it is connecting)
    if (this.connection) {
      link.on("request", (m) => this.onRequest(link, m));
      return this.connection.keepSpare(link);
    }
    // once a pair is selected but before the connection is built, one that comes up joins the others: spares too
    if (this.closed) return link.close();
    this.links.add(link);
    link.on("request", (m) => this.onRequest(link, m));
    link.on("close", () => {
      this.links.delete(link);
      this.valid.delete(link);
    });
  }

  /** A connectivity check on `link` (with USE-CANDIDATE when nominating). */
  private async check(link: StunLink, useCandidate: boolean): Promise<boolean> {
    const remote = this.remote;
    if (!remote || link.closed) return false;
    const asControlling = this.controlling;
    const { request, bytes, key } = buildCheck(
      this.local,
      remote,
      { controlling: asControlling, tieBreaker: this.tieBreaker },
      candidatePriority("prflx", "TCP", "active"),
      useCandidate,
    );
    let answer: StunMessage;
    try {
      answer = await link.request(request, bytes, CHECK_TIMEOUT_MS);
    } catch (e) {
      log("check failed: %s", (e as Error).message);
      return false;
    }
    if (answer.cls === StunClass.Error) {
      const err = answer.errorCode();
      // Role conflict (RFC 8445 §7.2.5.1), only from the peer that knows our credentials: switch roles, check again.
      if (err?.code === 487 && answer.checkIntegrity(key)) {
        this.controlling = !asControlling; // RFC 8445 §7.2.5.1: the opposite of the role this request claimed
        return this.check(link, useCandidate && this.controlling);
      }
      log("check refused: %o", err);
      return false;
    }
    if (!answer.checkIntegrity(key)) return (log("check answer with bad integrity"), false);
    this.valid.add(link);
    if (useCandidate) this.select(link);
    else if (this.controlling) void this.nominate(link);
    else if (this.nominated.has(link)) this.select(link);
    return true;
  }

  /** Regular nomination: the first valid pair is nominated by a check carrying USE-CANDIDATE. */
  private async nominate(link: StunLink): Promise<void> {
    if (this.nominating || this.selected) return;
    this.nominating = true;
    const ok = await this.check(link, true);
    this.nominating = false;
    if (!ok && !this.selected) for (const other of this.valid) if (other !== link) return this.nominate(other);
  }

  private select(link: StunLink): void {
    if (this.selected) return;
    this.selected = link;
    log("nominated %s:%d", link.remoteAddress.address, link.remoteAddress.port);
    const s = this.settle;
    this.settle = undefined;
    s?.resolve(link);
  }

  private onRequest(link: StunLink, m: StunMessage): void {
    if (m.method !== StunMethod.Binding) return;
    const verdict = answerCheck(m, this.local, { controlling: this.controlling, tieBreaker: this.tieBreaker }, link.remoteAddress);
    link.send(verdict.reply);
    if (!verdict.accepted) return log("refused a check (wrong credentials or role conflict)");
    this.controlling = verdict.controlling;
    if (this.selected) return;
    if (verdict.useCandidate && !this.controlling) {
      this.nominated.add(link);
      if (this.valid.has(link)) this.select(link);
    }
    // Triggered check (RFC 8445 §7.3.1.4), once per link.
    if (!this.valid.has(link) && !this.triggered.has(link)) {
      this.triggered.add(link);
      void this.check(link, false);
    }
  }
}

function listen(address: string): Promise<Server> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, address, () => resolve(server));
  });
}
