import createDebug from "debug";
import { onAbort, deadline } from "jami-core";
import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { InfoHash, type DhtClient, type SecureDht, type Subscription, type Value } from "jami-dht";
import { decodeIceMessage, encodeIceMessage, IceTcpAgent, type Candidate, type IceAgentOptions, type IceConnection } from "jami-ice";
import { LinkError, MultiplexedSocket, secureLink, type Channel } from "jami-dtls";
import type { DeviceIdentity, VerifiedDevice } from "jami-identity";
import { findDeviceChain } from "../dht/devices.js";
import { JamiDhtKeys } from "../dht/keys.js";
import { peerRequestValue, readPeerRequest, type PeerConnectionRequest } from "./peer-request.js";
import { BoundedSet } from "../bounded-set.js";

const log = createDebug("jami:sdk:connection");

/** jamid waits this long for the answer to a connection request. */
export const ANSWER_TIMEOUT_MS = 30_000;
const MAX_TREATED = 4096;
/** Connection requests answered at once from one device, and from everyone: each costs an ICE agent and dials. */
export const MAX_INCOMING_PER_DEVICE = 2;
export const MAX_INCOMING = 16;
/** Links kept with one device besides the first (see `spares`). */
export const MAX_SPARE_LINKS = 2;

export interface ConnectionManagerOptions {
  dht: DhtClient;
  secure: SecureDht;
  identity: DeviceIdentity;
  /** Checks a device beyond its chain (revocation, ban); throw to refuse it. */
  authorize: (peer: VerifiedDevice) => Promise<void>;
  /** Decides on a channel the peer asks for. */
  onChannelRequest: (peer: VerifiedDevice, name: string) => boolean | Promise<boolean>;
  /** A channel the peer opened and we accepted. */
  onChannel: (peer: VerifiedDevice, channel: Channel) => void;
  /** ICE candidates: host addresses (default: every non-internal interface address), STUN and TURN servers. */
  ice?: Pick<IceAgentOptions, "addresses" | "stun" | "turn">;
  answerTimeoutMs?: number;
}

interface Link {
  socket: MultiplexedSocket;
  peer: VerifiedDevice;
  path: LinkPath;
}

/** Where a link runs: the address the TCP connection goes to (or comes from), and the candidates each side offered. */
export interface LinkPath {
  remoteAddress: { address: string; port: number };
  /** Our end of the link's TCP connection. */
  localAddress: { address: string; port: number };
  localCandidates: Candidate[];
  remoteCandidates: Candidate[];
}

interface Dialing {
  promise: Promise<Link>;
  abort: AbortController;
  /** Set when the peer dialed us at the same time: whichever link comes up first is the dial's. */
  crossed?: Promise<Link>;
  /** Resolves the dial with a link (the crossing one, when it is up first). */
  settle: (link: Link) => void;
}

/**
 * jamid's ConnectionManager (spec §4.1): one link per device pair, set up by a PeerConnectionRequest on the DHT,
 * ICE-TCP, TLS with both chains checked, then jamid's multiplexed channels. The requester is ICE-controlled and
 * the TLS server; the device asked is ICE-controlling and the TLS client. Requests go to (and are read from) both
 * `peer:` keys: the device short id (13.7) and the 64-hex device id (today's daemons).
 */
export class ConnectionManager {
  /** The link per device our channels go over: the first one up. */
  private readonly links = new Map<string, Link>();
  /**
   * Further links with a device that has one (both sides dialed at once, and jamid, like dhtnet, keeps every
   * connection): the peer may have opened channels on them, so they stay until they close; a few per device.
   */
  private readonly spares = new Map<string, Set<Link>>();
  private readonly dialing = new Map<string, Dialing>();
  /** Links the peer asked for that are being set up (ICE, TLS), by device id: a dial to it waits for them. */
  private readonly answering = new Map<string, Promise<Link>>();
  private readonly answers = new Map<bigint, { from: string; resolve: (r: PeerConnectionRequest) => void }>();
  private readonly treated = new BoundedSet<bigint>(MAX_TREATED);
  /** Requests being answered (ICE and TLS under way), per asking device key id. */
  private readonly incoming = new Map<string, number>();
  private incomingTotal = 0;
  private readonly subscriptions: Subscription[] = [];
  /** Aborted when the manager stops: links still being set up (answers to requests in flight) end with it. */
  private readonly lifetime = new AbortController();

  constructor(private readonly options: ConnectionManagerOptions) {
    // Every link being set up listens to it: many listeners are expected, not a leak.
    setMaxListeners(0, this.lifetime.signal);
  }

  private get selfId(): string {
    return this.options.identity.certificate.deviceId.toString();
  }

  start(): void {
    const cert = this.options.identity.certificate;
    for (const key of [JamiDhtKeys.peer(cert.deviceShortId), JamiDhtKeys.peer(cert.deviceId)]) {
      // Requests and answers count only encrypted to this device (a request sent to another one cannot be replayed).
      const sub = this.options.secure.listen(key, { requireEncrypted: true });
      sub.on("value", (v) => void this.onValue(v));
      this.subscriptions.push(sub);
    }
  }

  private get stopped(): boolean {
    return this.lifetime.signal.aborted;
  }

  stop(): void {
    this.lifetime.abort();
    for (const s of this.subscriptions.splice(0)) s.cancel();
    for (const d of this.dialing.values()) d.abort.abort();
    for (const l of this.links.values()) l.socket.close();
    this.links.clear();
    for (const set of this.spares.values()) for (const l of set) l.socket.close();
    this.spares.clear();
  }

  connectedDevices(): string[] {
    return [...this.links.entries()].filter(([, l]) => !l.socket.isClosed).map(([id]) => id);
  }

  /** Closes the link to a device (its channels end); the next channel to it sets up a new link. */
  closeLink(deviceId: string): void {
    this.links.get(deviceId)?.socket.close();
    this.links.delete(deviceId);
    for (const l of this.spares.get(deviceId) ?? []) l.socket.close();
    this.spares.delete(deviceId);
  }

  /** The path of the live link to a device, if any. */
  /** The verified device at the other end of the live link with `deviceId`, if there is one. */
  peerOf(deviceId: string): VerifiedDevice | undefined {
    const link = this.links.get(deviceId);
    return link && !link.socket.isClosed ? link.peer : undefined;
  }

  pathTo(deviceId: string): LinkPath | undefined {
    return this.links.get(deviceId)?.path;
  }

  /** The live link to a device, if any. */
  linkTo(deviceId: string): MultiplexedSocket | undefined {
    return this.links.get(deviceId)?.socket;
  }

  /** A channel to `peer`, over the existing link or a new one. */
  async openChannel(peer: VerifiedDevice, name: string, options: { signal?: AbortSignal } = {}): Promise<Channel> {
    const link = await this.link(peer, options);
    return link.socket.openChannel(name, options);
  }

  private link(peer: VerifiedDevice, options: { signal?: AbortSignal } = {}): Promise<Link> {
    const signal = options.signal;
    const id = peer.deviceId.toString();
    const existing = this.links.get(id);
    if (existing && !existing.socket.isClosed) return Promise.resolve(existing);
    const pending = this.dialing.get(id);
    if (pending) return pending.promise;
    // The peer asked first and its link is being set up: use it (a request of ours now would cross it, and the
    // peer, if its id is smaller, would ignore ours), dialing only if it fails.
    const answering = this.answering.get(id);
    if (answering) return answering.catch(() => this.link(peer, options));
    const abort = new AbortController();
    const stopListening = onAbort(signal, () => abort.abort());
    let settle!: (link: Link) => void;
    const crossedOrOurs = new Promise<Link>((resolve) => (settle = resolve));
    const entry: Dialing = { promise: Promise.resolve() as unknown as Promise<Link>, abort, settle };
    const ours = this.dial(peer, { signal: abort.signal }).catch((error: unknown) => {
      if (entry.crossed && !signal?.aborted) return entry.crossed;
      throw error;
    });
    entry.promise = Promise.race([ours, crossedOrOurs]).finally(() => {
      stopListening();
      if (this.dialing.get(id) === entry) this.dialing.delete(id);
    });
    this.dialing.set(id, entry);
    return entry.promise;
  }

  /** We ask: ICE-controlled, TLS server. */
  private async dial(peer: VerifiedDevice, options: { signal: AbortSignal }): Promise<Link> {
    const signal = options.signal;
    // The device is judged once, before any ICE work; TLS then only has to prove it is that device.
    await this.options.authorize(peer);
    const agent = await IceTcpAgent.create({ ...this.options.ice, controlling: false, signal });
    try {
      const id = BigInt(`0x${randomBytes(7).toString("hex")}`) & ((1n << 53n) - 1n) || 1n;
      const answered = this.waitForAnswer(id, peer, { signal });
      answered.catch(() => undefined); // awaited below; an abort during the puts is not an unhandled rejection
      const value = peerRequestValue({ id, iceMessage: encodeIceMessage(agent.local), isAnswer: false, connType: "" });
      const target = peer.device.publicKey;
      await Promise.all(
        [JamiDhtKeys.peer(peer.deviceShortId), JamiDhtKeys.peer(peer.deviceId)].map((key) =>
          this.options.secure.putEncrypted(key, value, target, { signal, acknowledgedBy: 1 }),
        ),
      );
      log("connection request %s sent to %s", id, peer.deviceId);
      const answer = await answered;
      const ice = await agent.connect(decodeIceMessage(answer.iceMessage), { signal });
      return await this.secure(ice, "server", peer, { signal });
    } finally {
      agent.close();
    }
  }

  private waitForAnswer(id: bigint, peer: VerifiedDevice, options: { signal: AbortSignal }): Promise<PeerConnectionRequest> {
    const signal = options.signal;
    return new Promise((resolve, reject) => {
      this.answers.set(id, { from: peer.deviceShortId.toString(), resolve: (r) => (cancel(), this.answers.delete(id), resolve(r)) });
      const cancel = deadline(this.options.answerTimeoutMs ?? ANSWER_TIMEOUT_MS, signal, (why) => {
        this.answers.delete(id);
        reject(why === "timeout" ? new LinkError("TIMEOUT", `no answer from device ${peer.deviceId} in time`) : new LinkError("ABORTED", "connection aborted"));
      });
    });
  }

  /** TLS with the peer proven to be `expected`, then the multiplexed socket; the link is kept for later channels. */
  private async secure(ice: IceConnection, role: "client" | "server", expected: VerifiedDevice, options: { signal?: AbortSignal } = {}): Promise<Link> {
    const signal = options.signal;
    const tls = await secureLink({
      transport: ice,
      role,
      identity: this.options.identity,
      signal,
      // The device the DHT exchange was with (already authorized): the same key (today's rule), the same account,
      // and (13.7's rule) exactly the chain published on the DHT.
      verifyPeer: (peer, chain) => {
        if (!peer.device.publicKey.equals(expected.device.publicKey)) throw new LinkError("PEER_REFUSED", `TLS peer is not device ${expected.deviceId}`);
        if (!peer.jamiId.equals(expected.jamiId)) throw new LinkError("PEER_REFUSED", `TLS peer is not of account ${expected.jamiId}`);
        if (!sameBytes(chain[0]?.der, expected.device.der) || !sameBytes(chain[1]?.der, expected.account.der)) {
          throw new LinkError("PEER_REFUSED", `device ${expected.deviceId} presented another chain than the one it published`);
        }
      },
    });
    if (this.stopped) {
      // Set up while the manager stopped: nobody would ever close it.
      tls.socket.destroy();
      throw new LinkError("ABORTED", "connection manager stopped");
    }
    const peer = tls.peer;
    const socket = new MultiplexedSocket(tls.socket, (name) => this.options.onChannelRequest(peer, name));
    const { address, port } = ice.remoteAddress;
    const local = ice.localAddress;
    const link: Link = {
      socket,
      peer,
      path: {
        remoteAddress: { address, port },
        localAddress: { address: local.address, port: local.port },
        localCandidates: ice.local.candidates,
        remoteCandidates: ice.remote.candidates,
      },
    };
    const id = peer.deviceId.toString();
    const current = this.links.get(id);
    if (current && !current.socket.isClosed) this.addSpare(id, link);
    else this.links.set(id, link);
    socket.on("channel", (c) => this.options.onChannel(peer, c));
    socket.on("close", (error) => {
      const spares = this.spares.get(id);
      spares?.delete(link);
      if (this.links.get(id) === link) {
        // the next link with that device, if one is up, carries our channels from now on
        const next = [...(spares ?? [])].find((l) => !l.socket.isClosed);
        if (next) {
          spares!.delete(next);
          this.links.set(id, next);
        } else this.links.delete(id);
      }
      if (spares?.size === 0) this.spares.delete(id);
      log("link with %s closed%s", id, error ? `: ${error.message}` : "");
    });
    return link;
  }

  /** Keeps a further link with a device; past MAX_SPARE_LINKS the oldest is closed (a peer cannot pile them up). */
  private addSpare(id: string, link: Link): void {
    const spares = this.spares.get(id) ?? new Set<Link>();
    spares.add(link);
    this.spares.set(id, spares);
    log("a further link with %s (%d besides the first)", id, spares.size);
    if (spares.size > MAX_SPARE_LINKS) {
      const oldest = spares.values().next().value!;
      spares.delete(oldest);
      oldest.socket.close();
    }
  }

  private async onValue(v: Value): Promise<void> {
    if (this.stopped || !v.ownerId) return;
    const request = readPeerRequest(v);
    if (!request) return;
    if (request.isAnswer) {
      // Only the device we asked can answer (its own key signed the value).
      const waiter = this.answers.get(request.id);
      if (waiter && waiter.from === v.ownerId.toString()) waiter.resolve(request);
      else if (waiter) log("ignored an answer to %s from another device (%s)", request.id, v.ownerId);
      return;
    }
    if (!this.treated.add(request.id)) return;
    const from = v.ownerId.toString();
    const fromDevice = this.incoming.get(from) ?? 0;
    if (fromDevice >= MAX_INCOMING_PER_DEVICE || this.incomingTotal >= MAX_INCOMING) {
      return log("connection request %s from %s dropped: %d from it and %d in all under way", request.id, from, fromDevice, this.incomingTotal);
    }
    this.incoming.set(from, fromDevice + 1);
    this.incomingTotal++;
    try {
      await this.onRequest(request, v.ownerId);
    } catch (e) {
      log("connection request %s from %s refused: %s", request.id, v.ownerId, (e as Error).message);
    } finally {
      this.incomingTotal--;
      const left = (this.incoming.get(from) ?? 1) - 1;
      if (left) this.incoming.set(from, left);
      else this.incoming.delete(from);
    }
  }

  /** The peer asks: ICE-controlling, TLS client. */
  private async onRequest(request: PeerConnectionRequest, ownerId: InfoHash): Promise<void> {
    const peer = await findDeviceChain(this.options.dht, ownerId);
    await this.options.authorize(peer);
    const id = peer.deviceId.toString();
    // Both sides dialing each other: the device with the smaller id keeps its own attempt.
    const ours = this.dialing.get(id);
    if (ours && this.selfId < id) return log("ignored a crossing request from %s: ours goes on", id);
    const incoming = this.answerRequest(request, peer);
    this.answering.set(id, incoming);
    void incoming.then(
      () => this.answering.get(id) === incoming && this.answering.delete(id),
      () => this.answering.get(id) === incoming && this.answering.delete(id),
    );
    if (ours) {
      // Our dial goes on: the request we answer may be a stale one (a connection request lives on the DHT after
      // the device that put it restarted), and then only ours completes. The first link up serves both.
      ours.crossed = incoming;
      incoming.then(
        (link) => {
          ours.settle(link);
          ours.abort.abort(); // ours is not needed any more
        },
        () => undefined,
      );
    }
    await incoming;
    log("link with %s up (asked by it)", id);
  }

  private async answerRequest(request: PeerConnectionRequest, peer: VerifiedDevice): Promise<Link> {
    const remote = decodeIceMessage(request.iceMessage);
    const signal = this.lifetime.signal;
    const agent = await IceTcpAgent.create({ ...this.options.ice, controlling: true, signal });
    try {
      const answer = peerRequestValue({ id: request.id, iceMessage: encodeIceMessage(agent.local), isAnswer: true, connType: request.connType });
      await Promise.all(
        [JamiDhtKeys.peer(peer.deviceShortId), JamiDhtKeys.peer(peer.deviceId)].map((key) =>
          this.options.secure.putEncrypted(key, answer, peer.device.publicKey, { acknowledgedBy: 1, signal }),
        ),
      );
      const ice = await agent.connect(remote, { signal });
      return await this.secure(ice, "client", peer, { signal });
    } finally {
      agent.close();
    }
  }
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && Buffer.compare(a, b) === 0;
}
