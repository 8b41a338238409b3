import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** How often long-running commands collect by default (`--gc-interval`, minutes; 0 turns it off). */
export const DEFAULT_GC_MINUTES = 5;

/** V8's full garbage collection, exposed at run time (as `node --expose-gc` would). */
export function fullGc(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

/**
 * A full garbage collection every `minutes` (0: none) while a long-running command (`jami online`, `jami dht node`)
 * runs; returns the function that stops it. Why: an idle process allocates little, so V8 runs no major GC for hours
 * and the old generation fills with garbage that scavenges promoted — the resident memory of an idle account grew
 * about 8 MB/h that way (bench/soak-processes.ts), while what survives a full GC stayed flat. A full GC of a heap
 * this size takes a few milliseconds.
 */
export function collectPeriodically(minutes: number, gc: () => void = minutes > 0 ? fullGc() : () => undefined): () => void {
  if (!(minutes > 0)) return () => undefined;
  const timer = setInterval(gc, minutes * 60_000);
  timer.unref();
  return () => clearInterval(timer);
}
