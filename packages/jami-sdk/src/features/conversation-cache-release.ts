import type { ConversationShelf } from "./conversation-shelf.js";

export interface CacheReleaseOptions {
  /**
   * Every this many ms, conversations not used since the last time let go of what they keep in memory to go faster
   * (a cloned history's pack, parsed trees and certificates…): an idle conversation holds almost nothing, and is read
   * from disk again when next used. Default 30 000; 0 never releases.
   */
  cacheReleaseMs?: number;
  /** Runs `fn` every `ms` until the returned function is called (default: an unref'd `setInterval`). */
  every?: (ms: number, fn: () => void) => () => void;
  /** The clock, in ms (default `Date.now`). */
  now?: () => number;
}

function every(ms: number, fn: () => void): () => void {
  const timer = setInterval(fn, ms);
  timer.unref();
  return () => clearInterval(timer);
}

/** Releases the shelf's idle caches every period (`jami-swarm`'s `releaseIdle`); returns the function that stops it. */
export function startCacheRelease(shelf: ConversationShelf, options: CacheReleaseOptions): () => void {
  const periodMs = options.cacheReleaseMs ?? 30_000;
  if (periodMs <= 0) return () => undefined;
  const now = options.now ?? Date.now;
  return (options.every ?? every)(periodMs, () => shelf.releaseIdle({ now: now(), periodMs }));
}
