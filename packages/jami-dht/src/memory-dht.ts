import type { DhtClient, GetOptions, PutOptions, PutResult } from "./client.js";
import { DhtError } from "./errors.js";
import type { InfoHash } from "./infohash.js";
import { matchesQuery } from "./storage.js";
import { Subscription } from "./subscription.js";
import type { Value } from "./value.js";

/**
 * An in-process DHT for tests and examples: every client of one `MemoryDht` reads and writes the same storage,
 * values reach listeners on the next turn of the event loop (as from the network), nothing expires. What it
 * leaves out on purpose: routing, tokens, expiry, size limits — use `DhtNode` on 127.0.0.1 for those.
 */
export class MemoryDht {
  private readonly values = new Map<string, Map<bigint, Value>>();
  private readonly listeners = new Map<string, Set<Subscription>>();

  /** A client of this DHT (each has its own subscriptions, ended by its `close`). */
  client(): DhtClient {
    return new MemoryDhtClient(this);
  }

  /** @internal */
  stored(key: InfoHash): Value[] {
    return [...(this.values.get(key.toString())?.values() ?? [])];
  }

  /** @internal Keeps the highest seq of each (key, id), as a storage node does, and tells the listeners. */
  store(key: InfoHash, value: Value): boolean {
    const k = key.toString();
    let atKey = this.values.get(k);
    if (!atKey) this.values.set(k, (atKey = new Map()));
    const known = atKey.get(value.id);
    if (known && known.seq > value.seq) return false;
    atKey.set(value.id, value);
    for (const sub of this.listeners.get(k) ?? []) setImmediate(() => matchesQuery(value, sub.filter) && sub.deliver(value));
    return true;
  }

  /** @internal */
  watch(sub: Subscription): () => void {
    const k = sub.key.toString();
    let set = this.listeners.get(k);
    if (!set) this.listeners.set(k, (set = new Set()));
    set.add(sub);
    for (const v of this.stored(sub.key)) setImmediate(() => matchesQuery(v, sub.filter) && sub.deliver(v));
    return () => void set.delete(sub);
  }
}

class MemoryDhtClient implements DhtClient {
  private readonly subscriptions = new Set<Subscription>();
  private closed = false;

  constructor(private readonly dht: MemoryDht) {}

  private check(signal?: AbortSignal): void {
    if (this.closed) throw new DhtError("NOT_RUNNING", "client is closed");
    if (signal?.aborted) throw new DhtError("ABORTED", "aborted");
  }

  async *get(key: InfoHash, options: GetOptions = {}): AsyncGenerator<Value, void, undefined> {
    this.check(options.signal);
    await new Promise((r) => setImmediate(r));
    for (const v of this.dht.stored(key)) if (matchesQuery(v, options.filter)) yield v;
  }

  async getAll(key: InfoHash, options: GetOptions = {}): Promise<Value[]> {
    const all: Value[] = [];
    for await (const v of this.get(key, options)) all.push(v);
    return all;
  }

  async put(key: InfoHash, value: Value, options: PutOptions = {}): Promise<PutResult> {
    this.check(options.signal);
    if (!this.dht.store(key, value)) throw new DhtError("REMOTE_ERROR", "a newer version of this value is stored");
    return { nodes: 1, storedLocally: false };
  }

  cancelPut(): boolean {
    return false;
  }

  listen(key: InfoHash, options: GetOptions = {}): Subscription {
    this.check(options.signal);
    const sub = new Subscription(key, options.filter);
    const unwatch = this.dht.watch(sub);
    const cancel = (): void => sub.cancel();
    options.signal?.addEventListener("abort", cancel, { once: true });
    sub.onCancel = () => {
      unwatch();
      this.subscriptions.delete(sub);
      options.signal?.removeEventListener("abort", cancel);
    };
    this.subscriptions.add(sub);
    return sub;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const sub of [...this.subscriptions]) sub.cancel();
  }
}
