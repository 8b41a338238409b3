import createDebug from "debug";
import { randomInt } from "node:crypto";
import { DhtError } from "./errors.js";
import { InfoHash } from "./infohash.js";
import {
  AF_INET,
  AF_INET6,
  buildFind,
  buildGet,
  buildListen,
  buildPing,
  buildPut,
  buildRefresh,
  buildUpdateIds,
  buildUpdateValues,
  ErrorCode,
  splitValues,
  type ParsedMessage,
  type ValueQuery,
} from "./messages.js";
import { parseHostPort, type Family, type NodeEntry, type SocketAddress } from "./node-entry.js";
import { RateLimiter } from "./rate-limiter.js";
import { RemoteNode, RoutingTable, TARGET_NODES } from "./routing-table.js";
import { RemoteError, Rpc } from "./rpc.js";
import { iterativeSearch, SEARCH_NODES, type SearchCandidate } from "./search.js";
import { matchesQuery, Storage, type StorageOptions } from "./storage.js";
import { Subscription } from "./subscription.js";
import { TokenIssuer } from "./tokens.js";
import { UdpTransport, type DatagramTransport } from "./transport.js";
import { TypedEmitter, type AbortOptions } from "jami-core";
import { Value } from "./value.js";
import { valueTypeRule } from "./value-types.js";
import { handleQuery, type QueryContext } from "./query-handlers.js";
import type { DhtClient, GetOptions, PutOptions, PutResult } from "./client.js";

const log = createDebug("jami:dht");

export const LISTEN_NODES = 4;
/** A listen is refreshed 10 s before the 30 s a storage node promises to keep it. */
const LISTEN_REFRESH_MS = 20_000;
const REMOTE_LISTENER_EXPIRE_MS = 10 * 60_000;
const REANNOUNCE_MARGIN_MS = 10_000;
const BOOTSTRAP_FIRST_DELAY_MS = 10_000;
const BOOTSTRAP_MAX_DELAY_MS = 24 * 3600_000;
const BUCKET_REFRESH_MS = 10 * 60_000;

export interface DhtNodeOptions {
  /** UDP port (default 4222; 0 for any free port). */
  port?: number;
  /** IPv4 address to bind (default 0.0.0.0), or `false`. */
  host?: string | false;
  /** IPv6 address to bind, or `false` (default). */
  host6?: string | false;
  /** Use this transport instead of UDP sockets (tests, custom networks). */
  transport?: DatagramTransport;
  nodeId?: InfoHash;
  /** Network id (`n`); 0, the public network, by default. */
  network?: number;
  userAgent?: string;
  /** `host:port` strings or addresses pinged at start and while the node has no good peer. */
  bootstrap?: (string | SocketAddress)[];
  storage?: StorageOptions;
  /** Requests per second (global, per IP); `false` disables limits like `dhtnode -U`. */
  rateLimit?: { global?: number; perIp?: number } | false;
  /** Client nodes are not inserted in other nodes' routing tables (sent as `s: true`). */
  isClient?: boolean;
  now?: () => number;
}

export interface DhtNodeEvents {
  /** The node has at least one good peer. */
  connected: [];
  /** The node lost all its good peers. */
  disconnected: [];
}

export interface NodeStats {
  id: string;
  ipv4: { good: number; dubious: number };
  ipv6: { good: number; dubious: number };
  storage: { keys: number; values: number; bytes: number };
  listeners: number;
  searches: number;
  permanentPuts: number;
  droppedDatagrams: number;
  requestsSent: number;
}

/** @internal A storage-side subscription of a remote node. */
export interface RemoteListener {
  address: SocketAddress;
  nodeId: InfoHash;
  sid: number;
  filter?: ValueQuery;
  refreshed: number;
}

interface PermanentPut {
  key: InfoHash;
  value: Value;
  timer?: NodeJS.Timeout;
}

/**
 * A DHT node speaking OpenDHT 2.4.12's UDP/msgpack protocol: it answers every query a real node sends, keeps a
 * routing table per address family, stores values under OpenDHT's policies and runs iterative searches for
 * `get`, `put` and `listen`.
 */
export class DhtNode extends TypedEmitter<DhtNodeEvents> implements DhtClient {
  readonly id: InfoHash;
  /** @internal What this node stores for others (tests play a lying storage node through it). */
  readonly storage: Storage;
  private readonly rpc: Rpc;
  private readonly tokens: TokenIssuer;
  private readonly tables = new Map<Family, RoutingTable>();
  private readonly remoteListeners = new Map<string, Map<string, RemoteListener>>();
  private readonly now: () => number;
  private readonly limiter?: RateLimiter;
  /** What the query handlers may use of this node, and nothing more. */
  private readonly queryContext: QueryContext;
  private readonly localSubscriptions = new Map<string, Set<Subscription>>();
  private readonly sids = new Map<number, Subscription>();
  private readonly permanent = new Map<string, PermanentPut>();
  private readonly bootstrapAddresses: SocketAddress[];
  private bootstrapDelay = BOOTSTRAP_FIRST_DELAY_MS;
  private bootstrapTimer?: NodeJS.Timeout;
  private bootstrapping?: Promise<void>;
  private maintenanceTimer?: NodeJS.Timeout;
  private lastBucketRefresh = 0;
  private connected = false;
  /** Our address as the last replying node saw it (`sa`). */
  publicAddress?: string;
  private running = true;
  private activeSearches = 0;

  private constructor(
    private readonly transport: DatagramTransport,
    private readonly options: DhtNodeOptions,
  ) {
    super();
    this.id = options.nodeId ?? InfoHash.random();
    this.now = options.now ?? Date.now;
    this.storage = new Storage(options.storage);
    this.tokens = new TokenIssuer(this.now());
    if (options.rateLimit !== false) this.limiter = new RateLimiter(options.rateLimit?.global, options.rateLimit?.perIp);
    this.rpc = new Rpc(transport, { network: options.network ?? 0, userAgent: options.userAgent, now: this.now });
    for (const a of transport.addresses) {
      this.tables.set(a.family, new RoutingTable(this.id, a.family, (old, candidate) => this.pingOld(old, candidate), this.now));
    }
    this.rpc.onMessage = (msg, from) => this.receive(msg, from);
    this.rpc.onReply = (msg, from) => {
      if (msg.requesterIp) this.publicAddress = msg.requesterIp;
      this.heard(msg, from, true);
    };
    this.bootstrapAddresses = (options.bootstrap ?? []).map((b) => (typeof b === "string" ? parseHostPort(b) : b));
    this.queryContext = {
      id: this.id,
      now: this.now,
      rpc: this.rpc,
      tokens: this.tokens,
      storage: this.storage,
      tables: this.tables,
      remoteListeners: this.remoteListeners,
      amongClosest: (key) => this.amongClosest(key),
      storeLocal: (key, value, created, source) => this.storeLocal(key, value, created, source),
      pushValues: (key, listener, values) => this.pushValues(key, listener, values),
      notifyRefreshed: (key, ids) => this.notifyRefreshed(key, ids),
      deliverUpdate: (msg) => this.deliverUpdate(msg),
    };
  }

  /** Binds the sockets, then bootstraps in the background (await `bootstrap()` to wait for it). */
  static async create(options: DhtNodeOptions = {}): Promise<DhtNode> {
    const transport = options.transport ?? (await UdpTransport.bind({ host4: options.host, host6: options.host6, port: options.port ?? 4222 }));
    const node = new DhtNode(transport, options);
    node.scheduleMaintenance(1000);
    if (node.bootstrapAddresses.length) void node.bootstrap().catch(() => {});
    return node;
  }

  get addresses(): SocketAddress[] {
    return this.transport.addresses;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  get families(): Family[] {
    return [...this.tables.keys()];
  }

  // ---- public operations ------------------------------------------------------------------------------------

  /** Pings an address; resolves with the node id that answered. */
  async ping(address: string | SocketAddress, options: AbortOptions = {}): Promise<InfoHash> {
    const { signal } = options;
    const to = typeof address === "string" ? parseHostPort(address) : address;
    const reply = await this.rpc.request(to, (env) => buildPing(env, this.id), [], { signal });
    return reply.id!;
  }

  /**
   * Pings the bootstrap addresses (plus `extra`), then searches for our own id to fill the routing table.
   * Resolves when the node has a good peer; rejects with `NO_NODES` if none answered (retries continue in the
   * background with OpenDHT's back-off).
   */
  async bootstrap(extra: (string | SocketAddress)[] = [], options: AbortOptions = {}): Promise<void> {
    const { signal } = options;
    for (const e of extra) this.bootstrapAddresses.push(typeof e === "string" ? parseHostPort(e) : e);
    if (!this.bootstrapping) {
      this.bootstrapping = this.runBootstrap({ signal }).finally(() => (this.bootstrapping = undefined));
    }
    return this.bootstrapping;
  }

  private async runBootstrap(options: { signal?: AbortSignal } = {}): Promise<void> {
    const signal = options.signal;
    const results = await Promise.allSettled(this.bootstrapAddresses.map((a) => this.ping(a, { signal })));
    if (!results.some((r) => r.status === "fulfilled")) {
      this.scheduleBootstrap();
      throw new DhtError("NO_NODES", "no bootstrap node answered");
    }
    // Connected once a node has answered the search for our own id (its reply fills the routing table); the
    // search goes on in the background, so a stopped node still listed by others does not hold up the caller.
    let connected!: () => void;
    const firstReply = new Promise<void>((resolve) => (connected = resolve));
    const search = Promise.all(this.families.map((f) => this.search(this.id, f, "find", { signal, onSynced: (synced) => synced.length > 0 && connected() })));
    search.then(() => (this.lastBucketRefresh = this.now())).catch((e: Error) => log("bootstrap search: %s", e.message));
    await Promise.race([search.then(() => undefined), firstReply]);
    this.lastBucketRefresh = this.now();
  }

  /** The closest live nodes to `target` on every family, found by an iterative `find`. */
  async findNodes(target: InfoHash, options: AbortOptions = {}): Promise<NodeEntry[]> {
    const { signal } = options;
    const found = await Promise.all(this.families.map((f) => this.search(target, f, "find", { signal })));
    return found.flat().map((c) => c.node.toEntry());
  }

  /**
   * Values stored at `key` (and matching `filter`), as they arrive; the iteration ends when the search has
   * reached the closest nodes. Values are deduplicated by id (a higher seq replaces a lower one).
   */
  async *get(key: InfoHash, options: GetOptions = {}): AsyncGenerator<Value, void, undefined> {
    const { filter, signal } = options;
    if (signal?.aborted) throw new DhtError("ABORTED", "get aborted");
    const queue: Value[] = [];
    const seen = new Map<bigint, number>();
    let wake: (() => void) | undefined;
    let done = false;
    const deliver = (v: Value): void => {
      if (!matchesQuery(v, filter)) return;
      const seq = seen.get(v.id);
      if (seq !== undefined && seq >= v.seq) return;
      seen.set(v.id, v.seq);
      queue.push(v);
      wake?.();
    };
    for (const s of this.storage.get(key, filter)) deliver(s.value);
    const searches = Promise.all(this.families.map((f) => this.search(key, f, "get", { filter, onValue: deliver, signal }))).finally(() => {
      done = true;
      wake?.();
    });
    searches.catch(() => {});
    while (queue.length > 0 || !done) {
      const next = queue.shift();
      if (next) {
        yield next;
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    if (signal?.aborted) throw new DhtError("ABORTED", "get aborted");
  }

  /** Collects `get` into an array. */
  async getAll(key: InfoHash, options: GetOptions = {}): Promise<Value[]> {
    const out: Value[] = [];
    for await (const v of this.get(key, options)) out.push(v);
    return out;
  }

  /** Announces `value` at `key` to the closest nodes; permanent puts are refreshed until `cancelPut`. */
  async put(key: InfoHash, value: Value, options: PutOptions = {}): Promise<PutResult> {
    if (value.id === 0n) throw new DhtError("INVALID_ARGUMENT", "value id 0 is invalid");
    const now = this.now();
    const created = Math.min(options.created ?? now, now);
    const storedLocally = this.amongClosest(key) && this.storeLocal(key, value, created, "");
    let acked = 0;
    let enough: (() => void) | undefined;
    const early = options.acknowledgedBy ? new Promise<void>((resolve) => (enough = resolve)) : undefined;
    const onAck = (): void => {
      if (++acked >= (options.acknowledgedBy ?? Infinity)) enough?.();
    };
    const done = this.announce(key, value, created, options.signal, onAck);
    if (options.permanent) this.keepAlive(key, value, created);
    if (!early) return { nodes: await done, storedLocally };
    done.catch((e: Error) => log("put %s: %s", key, e.message));
    await Promise.race([done, early]);
    return { nodes: acked, storedLocally };
  }

  /** Stops refreshing a permanent put. */
  cancelPut(key: InfoHash, id: bigint): boolean {
    const k = `${key}/${id}`;
    const p = this.permanent.get(k);
    if (!p) return false;
    clearTimeout(p.timer);
    this.permanent.delete(k);
    return true;
  }

  /**
   * Listens at `key`: current values first, then new ones, refreshes and expiries pushed by the 4 closest
   * storage nodes; the subscription is renewed every 20 s and follows changes in the closest nodes.
   */
  listen(key: InfoHash, options: GetOptions = {}): Subscription {
    const sub = new Subscription(key, options.filter);
    let sid = randomInt(1, 0xffffffff);
    while (this.sids.has(sid)) sid = randomInt(1, 0xffffffff);
    this.sids.set(sid, sub);
    const local = this.localSubscriptions.get(key.toString()) ?? new Set<Subscription>();
    local.add(sub);
    this.localSubscriptions.set(key.toString(), local);
    let timer: NodeJS.Timeout | undefined;
    const controller = new AbortController();
    sub.onCancel = () => {
      clearTimeout(timer);
      controller.abort();
      this.sids.delete(sid);
      local.delete(sub);
      if (local.size === 0) this.localSubscriptions.delete(key.toString());
      options.signal?.removeEventListener("abort", cancel);
    };
    const cancel = (): void => sub.cancel();
    options.signal?.addEventListener("abort", cancel, { once: true });
    // After the caller has attached its handlers.
    queueMicrotask(() => {
      for (const s of this.storage.get(key, options.filter)) sub.deliver(s.value);
    });
    const round = async (): Promise<void> => {
      if (sub.cancelled || !this.running) return;
      await Promise.all(
        this.families.map((family) =>
          this.searchAndSend(
            key,
            family,
            "get",
            LISTEN_NODES,
            (c) => this.rpc.request(c.node.address, (env) => buildListen(env, this.id, key, c.token!, sid, options.filter), [], { signal: controller.signal }),
            { filter: options.filter, onValue: (v) => sub.deliver(v), signal: controller.signal },
          ),
        ),
      ).catch(() => {});
      if (!sub.cancelled && this.running) {
        timer = setTimeout(() => void round(), LISTEN_REFRESH_MS);
        timer.unref?.();
      }
    };
    void round();
    return sub;
  }

  stats(): NodeStats {
    const now = this.now();
    const counts = (f: Family): { good: number; dubious: number } => this.tables.get(f)?.counts(now) ?? { good: 0, dubious: 0 };
    let listeners = 0;
    for (const m of this.remoteListeners.values()) listeners += m.size;
    return {
      id: this.id.toString(),
      ipv4: counts(4),
      ipv6: counts(6),
      storage: { keys: this.storage.keyCount, values: this.storage.valueCount, bytes: this.storage.totalBytes },
      listeners,
      searches: this.activeSearches,
      permanentPuts: this.permanent.size,
      droppedDatagrams: this.rpc.dropped,
      requestsSent: this.rpc.requestsSent,
    };
  }

  /** Nodes currently in the routing tables. */
  knownNodes(): NodeEntry[] {
    return [...this.tables.values()].flatMap((t) => t.all().map((n) => n.toEntry()));
  }

  /** Stops timers, subscriptions and permanent puts, and closes the sockets. */
  async close(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearTimeout(this.bootstrapTimer);
    clearTimeout(this.maintenanceTimer);
    for (const sub of [...this.sids.values()]) sub.cancel();
    for (const p of this.permanent.values()) clearTimeout(p.timer);
    this.permanent.clear();
    this.rpc.close();
    await this.transport.close();
  }

  // ---- searches and announces -------------------------------------------------------------------------------

  private async search(
    key: InfoHash,
    family: Family,
    kind: "find" | "get",
    options: { filter?: ValueQuery; onValue?: (v: Value) => void; onSynced?: (synced: SearchCandidate[]) => void; signal?: AbortSignal } = {},
  ): Promise<SearchCandidate[]> {
    const { filter, onValue, onSynced, signal } = options;
    const table = this.tables.get(family);
    if (!table) return [];
    const want = family === 4 ? [AF_INET] : [AF_INET6];
    this.activeSearches++;
    try {
      return await iterativeSearch(
        key,
        table.closest(key, SEARCH_NODES, this.now(), true),
        {
          ask: (node, { signal: s }) =>
            this.rpc.request(node.address, (env) => (kind === "find" ? buildFind(env, this.id, key, want) : buildGet(env, this.id, key, filter, want)), [], {
              signal: s,
            }),
          now: () => this.now(),
          // A node that timed out a moment ago is not asked again, though others may still list it.
          learn: (entry) => {
            const node = this.learn(entry);
            return node?.recentlyFailed(this.now()) ? undefined : node;
          },
          onReply: (_node, reply, synced) => {
            if (onValue) for (const v of reply.values) onValue(v);
            onSynced?.(synced);
          },
        },
        { signal },
      );
    } finally {
      this.activeSearches--;
    }
  }

  /**
   * A search that acts on nodes as they sync, as OpenDHT does: `send` goes once to each node that is among the
   * first `limit` replied nodes (closest first) at any point, without waiting for slower or dead nodes.
   * Resolves with the number of sends that succeeded.
   */
  private async searchAndSend(
    key: InfoHash,
    family: Family,
    kind: "find" | "get",
    limit: number,
    send: (target: SearchCandidate) => Promise<unknown>,
    options: { filter?: ValueQuery; onValue?: (v: Value) => void; signal?: AbortSignal } = {},
  ): Promise<number> {
    const sent = new Map<string, Promise<unknown>>();
    const sendTo = (targets: SearchCandidate[]): void => {
      for (const t of targets.slice(0, limit)) {
        const id = t.node.id.toString();
        if (!sent.has(id)) sent.set(id, send(t));
      }
    };
    const synced = await this.search(key, family, kind, { filter: options.filter, onValue: options.onValue, signal: options.signal, onSynced: sendTo });
    sendTo(synced.filter((c) => c.token));
    const results = await Promise.allSettled(sent.values());
    return results.filter((r) => r.status === "fulfilled").length;
  }

  private async announce(key: InfoHash, value: Value, created: number, signal?: AbortSignal, onAck?: () => void): Promise<number> {
    const { field, fragments } = splitValues([value]);
    const c = created < this.now() - 1000 ? Math.floor(created / 1000) : undefined;
    const counts = await Promise.all(
      this.families.map((family) =>
        this.searchAndSend(
          key,
          family,
          "find",
          TARGET_NODES,
          (s) =>
            this.rpc
              .request(s.node.address, (env) => buildPut(env, this.id, key, field, s.token!, c), fragments, { signal })
              .then(
                (reply) => {
                  onAck?.();
                  return reply;
                },
                (e: unknown) => {
                  if (e instanceof RemoteError && e.remoteCode === ErrorCode.Unauthorized) s.node.authError();
                  throw e;
                },
              ),
          { signal },
        ),
      ),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Re-announces a permanent value 10 s before it expires: `refresh` where stored, `put` where not (404). */
  private keepAlive(key: InfoHash, value: Value, created: number): void {
    const k = `${key}/${value.id}`;
    this.cancelPut(key, value.id);
    const entry: PermanentPut = { key, value };
    this.permanent.set(k, entry);
    const schedule = (from: number): void => {
      const delay = Math.max(1000, from + valueTypeRule(value.isEncrypted ? 0 : value.type).expirationMs - REANNOUNCE_MARGIN_MS - this.now());
      entry.timer = setTimeout(() => void refresh(), delay);
      entry.timer.unref?.();
    };
    const refresh = async (): Promise<void> => {
      if (!this.running || this.permanent.get(k) !== entry) return;
      const now = this.now();
      if (this.amongClosest(key)) this.storeLocal(key, value, now, "");
      await Promise.all(
        this.families.map((family) =>
          this.searchAndSend(key, family, "find", TARGET_NODES, async (s) => {
            try {
              await this.rpc.request(s.node.address, (env) => buildRefresh(env, this.id, key, value.id, s.token!));
            } catch (e) {
              if (!(e instanceof RemoteError) || e.remoteCode !== ErrorCode.NotFound) throw e;
              const { field, fragments } = splitValues([value]);
              await this.rpc.request(s.node.address, (env) => buildPut(env, this.id, key, field, s.token!), fragments);
            }
          }),
        ),
      ).catch(() => {});
      if (this.permanent.get(k) === entry) schedule(now);
    };
    schedule(created);
  }

  // ---- incoming ---------------------------------------------------------------------------------------------

  private receive(msg: ParsedMessage, from: SocketAddress): void {
    if (msg.id?.equals(this.id)) return;
    if (msg.kind !== "query") return;
    if (this.limiter && !this.limiter.allow(from.address, this.now())) return;
    this.heard(msg, from, false);
    handleQuery(this.queryContext, msg, from);
  }

  /** A message from a node: liveness in the routing table. */
  private heard(msg: ParsedMessage, from: SocketAddress, isReply: boolean): void {
    if (!msg.id || msg.id.equals(this.id)) return;
    const table = this.tables.get(from.family);
    if (!table) return;
    if (msg.isClient && !isReply) return;
    const node = table.upsert(new RemoteNode(msg.id, from, msg.isClient));
    const now = this.now();
    node.received(now, isReply);
    // A node of our table that only queried us is dubious until it answers: confirm it now, as OpenDHT's
    // maintenance would. Nodes left out of a full bucket are not pinged (two such nodes would ping-pong).
    const kept = table.get(msg.id) === node;
    if (kept && !isReply && !node.isGood(now) && now - node.pingedAt > 60_000) this.confirm(node);
    if (isReply && !this.connected) {
      this.connected = true;
      clearTimeout(this.bootstrapTimer);
      this.bootstrapDelay = BOOTSTRAP_FIRST_DELAY_MS;
      this.emit("connected");
    }
  }

  private learn(entry: NodeEntry): RemoteNode | undefined {
    if (entry.id.equals(this.id)) return undefined;
    const table = this.tables.get(entry.address.family);
    if (!table) return undefined;
    return table.get(entry.id) ?? table.upsert(new RemoteNode(entry.id, entry.address));
  }

  private pingOld(old: RemoteNode, candidate: RemoteNode): void {
    this.ping(old.address).then(
      () => old.received(this.now(), true),
      () => {
        old.failed(this.now());
        this.tables.get(old.address.family)?.replace(old, candidate);
      },
    );
  }

  /** OpenDHT stores only if fewer than 8 good nodes it knows are closer to the key than itself. */
  private amongClosest(key: InfoHash): boolean {
    const now = this.now();
    return this.families.every((f) => {
      const closer = this.tables
        .get(f)!
        .closest(key, SEARCH_NODES, now)
        .filter((n) => key.xorCompare(n.id, this.id) < 0);
      return closer.length < TARGET_NODES;
    });
  }

  /** Stores a value and tells local and remote listeners. */
  private storeLocal(key: InfoHash, value: Value, created: number, source: string): boolean {
    const outcome = this.storage.store(key, value, this.now(), created, source);
    if (outcome.result === "rejected") {
      log("refused value %s at %s: %s", value.id, key, outcome.reason);
      return false;
    }
    if (outcome.result === "refreshed") this.notifyRefreshed(key, [value.id]);
    else this.notifyValues(key, [outcome.stored.value]);
    this.scheduleMaintenance(Math.max(0, (this.storage.nextExpiry() ?? Infinity) - this.now()));
    return true;
  }

  /** */
  private notifyValues(key: InfoHash, values: Value[]): void {
    for (const sub of this.localSubscriptions.get(key.toString()) ?? []) for (const v of values) if (matchesQuery(v, sub.filter)) sub.deliver(v);
    for (const l of this.remoteListeners.get(key.toString())?.values() ?? []) {
      const matching = values.filter((v) => matchesQuery(v, l.filter));
      if (matching.length) this.pushValues(key, l, matching);
    }
  }

  /** */
  private notifyRefreshed(key: InfoHash, ids: bigint[]): void {
    for (const sub of this.localSubscriptions.get(key.toString()) ?? []) sub.deliverRefreshed(ids);
    for (const l of this.remoteListeners.get(key.toString())?.values() ?? []) this.pushIds(l, ids, "re");
  }

  private notifyExpired(key: InfoHash, ids: bigint[]): void {
    for (const sub of this.localSubscriptions.get(key.toString()) ?? []) sub.deliverExpired(ids);
    for (const l of this.remoteListeners.get(key.toString())?.values() ?? []) this.pushIds(l, ids, "exp");
  }

  /** Sends an `update` with values to a remote listener (retried 3 times like any request). */
  private pushValues(key: InfoHash, l: RemoteListener, values: Value[]): void {
    const { field, fragments } = splitValues(values);
    const token = this.tokens.issue(l.address, this.now());
    this.rpc.request(l.address, (env) => buildUpdateValues(env, this.id, key, l.sid, field, token), fragments).catch(() => {});
  }

  private pushIds(l: RemoteListener, ids: bigint[], what: "re" | "exp"): void {
    const token = this.tokens.issue(l.address, this.now());
    this.rpc.request(l.address, (env) => buildUpdateIds(env, this.id, l.sid, token, ids, what)).catch(() => {});
  }

  /** An `update` for one of our listens. */
  private deliverUpdate(msg: ParsedMessage): boolean {
    const sub = msg.sid === undefined ? undefined : this.sids.get(msg.sid);
    if (!sub) return false;
    if (msg.hash && !msg.hash.equals(sub.key)) return false;
    for (const v of msg.values) if (matchesQuery(v, sub.filter)) sub.deliver(v);
    if (msg.refreshed.length) sub.deliverRefreshed(msg.refreshed);
    if (msg.expired.length) sub.deliverExpired(msg.expired);
    return true;
  }

  // ---- maintenance ------------------------------------------------------------------------------------------

  private nextMaintenance = Infinity;

  private scheduleMaintenance(delay: number): void {
    if (!this.running) return;
    const at = this.now() + delay;
    if (this.maintenanceTimer && this.nextMaintenance <= at) return;
    clearTimeout(this.maintenanceTimer);
    this.nextMaintenance = at;
    this.maintenanceTimer = setTimeout(() => this.maintain(), Math.min(delay, 2 ** 31 - 1));
    this.maintenanceTimer.unref?.();
  }

  private maintain(): void {
    this.maintenanceTimer = undefined;
    this.nextMaintenance = Infinity;
    if (!this.running) return;
    const now = this.now();
    for (const [key, ids] of this.storage.expire(now)) this.notifyExpired(InfoHash.fromHex(key), ids);
    for (const [key, listeners] of this.remoteListeners) {
      for (const [k, l] of listeners) if (now - l.refreshed > REMOTE_LISTENER_EXPIRE_MS) listeners.delete(k);
      if (listeners.size === 0) this.remoteListeners.delete(key);
    }
    const good = [...this.tables.values()].reduce((n, t) => n + t.counts(now).good, 0);
    if (good === 0 && this.connected) {
      this.connected = false;
      this.emit("disconnected");
      this.scheduleBootstrap();
    }
    // A small table is filled by searching our own id; otherwise each bucket not confirmed for 10 min gets a
    // search for a random id in its range (OpenDHT's bucket maintenance).
    if (good > 0 && good < TARGET_NODES) void this.findNodes(this.id).catch(() => {});
    else if (good > 0 && now - this.lastBucketRefresh > BUCKET_REFRESH_MS) this.refreshStaleBuckets(now);
    this.pingDubious(now);
    const nextExpiry = this.storage.nextExpiry();
    const busy = good < TARGET_NODES;
    const period = busy ? 5000 + Math.random() * 20_000 : 60_000 + Math.random() * 120_000;
    this.scheduleMaintenance(Math.min(period, nextExpiry === undefined ? Infinity : Math.max(0, nextExpiry - now)));
  }

  /** Up to two searches per round, for the ranges (by shared prefix length) whose nodes last replied > 10 min ago. */
  private refreshStaleBuckets(now: number): void {
    const lastReply = new Map<number, number>();
    for (const table of this.tables.values()) {
      for (const n of table.all()) {
        const depth = Math.min(this.id.commonBits(n.id), 159);
        lastReply.set(depth, Math.max(lastReply.get(depth) ?? 0, n.lastReplied));
      }
    }
    const stale = [...lastReply].filter(([, t]) => now - t > BUCKET_REFRESH_MS).map(([depth]) => depth);
    if (stale.length === 0) this.lastBucketRefresh = now;
    for (const depth of stale.slice(0, 2)) void this.findNodes(this.id.randomAtDepth(depth)).catch(() => {});
  }

  /** Dubious nodes get a ping; failures mark them expired (they are replaced first). */
  private pingDubious(now: number): void {
    for (const table of this.tables.values()) {
      for (const n of table.all()) if (!n.expired && !n.isGood(now) && now - n.pingedAt > 60_000) this.confirm(n);
    }
  }

  private confirm(n: RemoteNode): void {
    n.pingedAt = this.now();
    this.ping(n.address).then(
      () => n.received(this.now(), true),
      () => n.failed(this.now()),
    );
  }

  private scheduleBootstrap(): void {
    if (!this.running || this.bootstrapAddresses.length === 0 || this.bootstrapTimer) return;
    this.bootstrapTimer = setTimeout(() => {
      this.bootstrapTimer = undefined;
      if (this.connected || !this.running) return;
      this.bootstrapDelay = Math.min(this.bootstrapDelay * 2, BOOTSTRAP_MAX_DELAY_MS);
      void this.bootstrap().catch(() => {});
    }, this.bootstrapDelay);
    this.bootstrapTimer.unref?.();
  }
}
