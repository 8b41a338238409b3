import type { InfoHash } from "./infohash.js";
import type { ValueQuery } from "./messages.js";
import type { Subscription } from "./subscription.js";
import type { Value } from "./value.js";

export interface GetOptions {
  filter?: ValueQuery;
  signal?: AbortSignal;
}

export interface PutOptions {
  /** Keep the value alive (refresh before it expires) until `cancelPut`. */
  permanent?: boolean;
  /** Creation time in ms since the epoch (defaults to now). */
  created?: number;
  /**
   * Resolve as soon as this many nodes acknowledged the value; the put goes on to the other closest nodes in the
   * background. Default: resolve when the search is complete (OpenDHT's done callback), which waits for nodes that
   * stopped answering to time out.
   */
  acknowledgedBy?: number;
  signal?: AbortSignal;
}

export interface PutResult {
  /** Remote nodes that acknowledged the put (through a proxy: 1 when the proxy accepted it). */
  nodes: number;
  /** Whether this node keeps a copy itself (it is among the closest to the key). */
  storedLocally: boolean;
}

/**
 * What the layers above need from the DHT, whether it is reached as a node on UDP (`DhtNode`) or through an
 * OpenDHT proxy over HTTP (`DhtProxyClient`).
 */
export interface DhtClient {
  get(key: InfoHash, options?: GetOptions): AsyncGenerator<Value, void, undefined>;
  getAll(key: InfoHash, options?: GetOptions): Promise<Value[]>;
  put(key: InfoHash, value: Value, options?: PutOptions): Promise<PutResult>;
  cancelPut(key: InfoHash, id: bigint): boolean;
  listen(key: InfoHash, options?: GetOptions): Subscription;
  close(): Promise<void>;
}
