import KBucket from "k-bucket";
import { InfoHash } from "./infohash.js";
import type { Family, NodeEntry, SocketAddress } from "./node-entry.js";

/** OpenDHT timings for node liveness (`Node::isGood`, `NODE_GOOD_TIME`, `NODE_EXPIRE_TIME`). */
export const NODE_GOOD_TIME_MS = 120 * 60_000;
export const NODE_EXPIRE_TIME_MS = 10 * 60_000;
export const TARGET_NODES = 8;
const MAX_AUTH_ERRORS = 3;

const RECENT_FAILURE_MS = 60_000;

/** What we know of a remote node on one address family. */
export class RemoteNode {
  lastSeen = 0;
  lastReplied = 0;
  expired = false;
  authErrors = 0;
  pingedAt = 0;
  failedAt = 0;

  constructor(
    readonly id: InfoHash,
    public address: SocketAddress,
    readonly isClient = false,
  ) {}

  /** OpenDHT's `Node::isGood`: replied within 2 h and heard from within 10 min, not expired. */
  isGood(now: number): boolean {
    return !this.expired && this.lastReplied > 0 && now - this.lastReplied < NODE_GOOD_TIME_MS && now - this.lastSeen < NODE_EXPIRE_TIME_MS;
  }

  /** Any message revives an expired node (as OpenDHT's `Node::received`); a reply also confirms it. */
  received(now: number, isReply: boolean): void {
    this.lastSeen = now;
    this.expired = false;
    if (isReply) {
      this.lastReplied = now;
      this.authErrors = 0;
    }
  }

  failed(now: number): void {
    this.expired = true;
    this.failedAt = now;
  }

  /** Timed out within the last minute (and silent since): not worth asking again in a search. */
  recentlyFailed(now: number): boolean {
    return this.expired && now - this.failedAt < RECENT_FAILURE_MS;
  }

  authError(): void {
    if (++this.authErrors > MAX_AUTH_ERRORS) this.expired = true;
  }

  toEntry(): NodeEntry {
    return { id: this.id, address: this.address };
  }
}

interface Contact {
  id: Uint8Array;
  vectorClock: number;
  node: RemoteNode;
}

/**
 * One family's routing table: k-bucket's Kademlia tree (8 nodes per bucket; only the bucket holding our own id
 * splits). When a bucket is full, its least recently seen node is replaced if it is expired; otherwise the
 * newcomer waits for `pingOld` to decide, as OpenDHT pings a dubious node before dropping it.
 */
export class RoutingTable {
  private readonly buckets: KBucket<Contact>;
  private clock = 0;

  constructor(
    readonly localId: InfoHash,
    readonly family: Family,
    private readonly pingOld: (old: RemoteNode, candidate: RemoteNode) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.buckets = new KBucket<Contact>({
      localNodeId: localId.bytes,
      numberOfNodesPerKBucket: TARGET_NODES,
      numberOfNodesToPing: TARGET_NODES,
      arbiter: (incumbent, candidate) => (incumbent.vectorClock > candidate.vectorClock ? incumbent : candidate),
    });
    // A full bucket that cannot split: an expired node makes room; else a dubious one is pinged (at most every
    // 10 s) and replaced if it stays silent; a bucket of good nodes keeps them and drops the newcomer (OpenDHT).
    this.buckets.on("ping", (bucket: Contact[], candidate: Contact) => {
      const now = this.now();
      const expired = bucket.find((c) => c.node.expired);
      if (expired) {
        this.buckets.remove(expired.id);
        this.buckets.add(candidate);
        return;
      }
      const dubious = bucket.find((c) => !c.node.isGood(now) && now - c.node.pingedAt > 10_000);
      if (dubious) {
        dubious.node.pingedAt = now;
        this.pingOld(dubious.node, candidate.node);
      }
    });
  }

  get size(): number {
    return this.buckets.count();
  }

  get(id: InfoHash): RemoteNode | undefined {
    return this.buckets.get(id.bytes)?.node;
  }

  /** Inserts or refreshes a node; returns the node object kept in the table (or the newcomer when it is not). */
  upsert(node: RemoteNode): RemoteNode {
    const existing = this.get(node.id);
    if (existing) {
      existing.address = node.address;
      this.buckets.add({ id: existing.id.bytes, vectorClock: ++this.clock, node: existing });
      return existing;
    }
    this.buckets.add({ id: node.id.bytes, vectorClock: ++this.clock, node });
    return node;
  }

  remove(id: InfoHash): void {
    this.buckets.remove(id.bytes);
  }

  /** Replaces `old` by `candidate` after `old` failed to answer. */
  replace(old: RemoteNode, candidate: RemoteNode): void {
    this.buckets.remove(old.id.bytes);
    this.upsert(candidate);
  }

  /** The `count` closest nodes to `target` (exact XOR order), good ones only unless `includeDubious`. */
  closest(target: InfoHash, count: number, now: number, includeDubious = false): RemoteNode[] {
    const nodes = this.buckets
      .closest(target.bytes, Math.max(count * 3, 24))
      .map((c) => c.node)
      .filter((n) => !n.expired && (includeDubious || n.isGood(now)));
    nodes.sort((a, b) => target.xorCompare(a.id, b.id));
    return nodes.slice(0, count);
  }

  all(): RemoteNode[] {
    return this.buckets.toArray().map((c) => c.node);
  }

  counts(now: number): { good: number; dubious: number } {
    let good = 0;
    for (const n of this.all()) if (n.isGood(now)) good++;
    return { good, dubious: this.size - good };
  }
}
