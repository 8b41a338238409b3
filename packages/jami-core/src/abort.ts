import { JamiError } from "./errors.js";

/** The options every async call of the jami-* packages ends with. */
export interface AbortOptions {
  signal?: AbortSignal;
}

/**
 * A signal that aborts when `signal` does or after `timeoutMs`, whichever comes first, and `dispose` to drop
 * the timer and the listener once the work is done (so neither outlives it).
 */
export function withTimeout(timeoutMs: number, signal?: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new JamiError("TIMEOUT", `timed out after ${timeoutMs} ms`)), timeoutMs);
  const onAbort = (): void => controller.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    },
  };
}

/**
 * `promise`, or a rejection with `onAbort()`'s error as soon as `signal` aborts (the work itself is not
 * stopped: give it the signal too when it can stop).
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined, onAbort: () => Error): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(onAbort());
  return new Promise<T>((resolve, reject) => {
    const abort = (): void => reject(onAbort());
    signal.addEventListener("abort", abort, { once: true });
    promise.then(
      (v) => (signal.removeEventListener("abort", abort), resolve(v)),
      (e: unknown) => (signal.removeEventListener("abort", abort), reject(e)),
    );
  });
}
