import createDebug from "debug";
import { onAbort } from "jami-core";
import type { InfoHash } from "./infohash.js";
import type { ParsedMessage } from "./messages.js";
import type { NodeEntry } from "./node-entry.js";
import type { RemoteNode } from "./routing-table.js";

const log = createDebug("jami:dht:search");

export const SEARCH_NODES = 14;
export const MAX_REQUESTED_SEARCH_NODES = 4;
export const SYNCED_NODES = 8;
export const SEARCH_MAX_BAD_NODES = 25;

export interface SearchCandidate {
  node: RemoteNode;
  state: "new" | "pending" | "replied" | "failed";
  token?: Uint8Array;
}

export interface SearchHooks {
  /** Sends the search's request (find or get) to one node. */
  ask(node: RemoteNode, options: { signal: AbortSignal }): Promise<ParsedMessage>;
  /** The node's clock (ms). */
  now(): number;
  /** Turns a node entry from a reply into the routing table's node object (undefined: not worth asking). */
  learn(entry: NodeEntry): RemoteNode | undefined;
  /** After each reply; `synced` is the replied nodes with a token among the closest kept, closest first. */
  onReply?(node: RemoteNode, reply: ParsedMessage, synced: SearchCandidate[]): void;
}

/**
 * OpenDHT's iterative search: keep the 14 closest known nodes, ask up to 4 at a time, learn nodes from replies,
 * and stop when the 8 closest live nodes have answered ("synced") or nobody is left to ask.
 * Returns the answered nodes closest first, each with the write token it gave.
 */
export async function iterativeSearch(
  target: InfoHash,
  seeds: RemoteNode[],
  hooks: SearchHooks,
  options: { signal?: AbortSignal } = {},
): Promise<SearchCandidate[]> {
  const signal = options.signal;
  const candidates = new Map<string, SearchCandidate>();
  const add = (node: RemoteNode): void => {
    const key = node.id.toString();
    if (!candidates.has(key)) candidates.set(key, { node, state: "new" });
  };
  seeds.forEach(add);
  const inner = new AbortController();
  const stopListening = onAbort(signal, () => inner.abort());
  let failures = 0;
  const inFlight = new Set<Promise<void>>();

  const ranked = (): SearchCandidate[] =>
    [...candidates.values()]
      .filter((c) => c.state !== "failed")
      .sort((a, b) => target.xorCompare(a.node.id, b.node.id))
      .slice(0, SEARCH_NODES);

  try {
    for (;;) {
      if (signal?.aborted) break;
      const top = ranked();
      const closest = top.slice(0, SYNCED_NODES);
      if (closest.length > 0 && closest.every((c) => c.state === "replied")) break;
      if (failures >= SEARCH_MAX_BAD_NODES) break;
      const next = top.filter((c) => c.state === "new");
      while (inFlight.size < MAX_REQUESTED_SEARCH_NODES && next.length > 0) {
        const c = next.shift()!;
        c.state = "pending";
        const p: Promise<void> = hooks
          .ask(c.node, { signal: inner.signal })
          .then((reply) => {
            c.state = "replied";
            if (reply.token) c.token = reply.token;
            for (const entry of [...reply.nodes4, ...reply.nodes6]) {
              const n = hooks.learn(entry);
              if (n && n.address.family === c.node.address.family) add(n);
            }
            hooks.onReply?.(
              c.node,
              reply,
              ranked().filter((r) => r.state === "replied" && r.token),
            );
          })
          .catch((e: Error) => {
            c.state = "failed";
            failures++;
            // A node that let every attempt time out is expired (it is replaced first), as in OpenDHT.
            if ((e as { code?: string }).code === "TIMEOUT") c.node.failed(hooks.now());
            log("search %s: %s failed: %s", target, c.node.id, e.message);
          })
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      if (inFlight.size === 0) break;
      await Promise.race(inFlight);
    }
  } finally {
    stopListening();
    inner.abort();
    await Promise.allSettled([...inFlight]);
  }
  return ranked().filter((c) => c.state === "replied");
}
