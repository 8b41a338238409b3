import type { InfoHash } from "./infohash.js";
import type { ValueQuery } from "./messages.js";
import { TypedEmitter } from "jami-core";
import type { Value } from "./value.js";

export type ListenEvent = { type: "value"; value: Value } | { type: "expired"; ids: bigint[]; values: Value[] } | { type: "refreshed"; ids: bigint[] };

export interface SubscriptionEvents {
  /** A new value, or a new version (higher seq) of one already seen. */
  value: [Value];
  /** Values that expired at the storage nodes (ids, and the values as last seen). */
  expired: [bigint[], Value[]];
  /** Values whose life was extended by their owner. */
  refreshed: [bigint[]];
}

/**
 * A live `listen` on a key: typed events, or `for await (const e of sub)`. Values are deduplicated across the
 * storage nodes pushing them; `cancel()` (or the AbortSignal given to `listen`) ends it.
 */
export class Subscription extends TypedEmitter<SubscriptionEvents> implements AsyncIterable<ListenEvent> {
  private readonly known = new Map<bigint, Value>();
  private readonly queue: ListenEvent[] = [];
  private wake?: () => void;
  private ended = false;
  private iterating = false;
  /** Set by the node: stops the network side. */
  onCancel: () => void = () => {};

  constructor(
    readonly key: InfoHash,
    readonly filter?: ValueQuery,
  ) {
    super();
  }

  get cancelled(): boolean {
    return this.ended;
  }

  /** The values currently known at the key, by id (latest version of each). */
  get values(): ReadonlyMap<bigint, Value> {
    return this.known;
  }

  /** @internal Called by the node with each received value. */
  deliver(value: Value): void {
    if (this.ended) return;
    const seen = this.known.get(value.id);
    if (seen !== undefined && seen.seq >= value.seq) return;
    this.known.set(value.id, value);
    this.push({ type: "value", value });
    this.emit("value", value);
  }

  /** @internal */
  deliverExpired(ids: bigint[]): void {
    const values = ids.flatMap((id) => {
      const v = this.known.get(id);
      return v ? [v] : [];
    });
    for (const v of values) this.known.delete(v.id);
    if (this.ended || values.length === 0) return;
    const gone = values.map((v) => v.id);
    this.push({ type: "expired", ids: gone, values });
    this.emit("expired", gone, values);
  }

  /** @internal */
  deliverRefreshed(ids: bigint[]): void {
    const known = ids.filter((id) => this.known.has(id));
    if (this.ended || known.length === 0) return;
    this.push({ type: "refreshed", ids: known });
    this.emit("refreshed", known);
  }

  private push(e: ListenEvent): void {
    if (!this.iterating) return;
    if (this.queue.length > 10_000) this.queue.shift();
    this.queue.push(e);
    this.wake?.();
  }

  cancel(): void {
    if (this.ended) return;
    this.ended = true;
    this.onCancel();
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ListenEvent> {
    this.iterating = true;
    try {
      for (;;) {
        const next = this.queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
    } finally {
      this.cancel();
    }
  }
}
