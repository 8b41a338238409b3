import { setMaxListeners } from "node:events";
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

/**
 * Calls `fn` once when `signal` aborts — at once when it already has — and returns the function that stops
 * listening (call it when the work ended by itself, so the listener does not outlive it).
 */
export function onAbort(signal: AbortSignal | undefined, fn: (reason: unknown) => void): () => void {
  if (!signal) return () => undefined;
  if (signal.aborted) {
    fn(signal.reason);
    return () => undefined;
  }
  const listener = (): void => fn(signal.reason);
  signal.addEventListener("abort", listener, { once: true });
  return () => signal.removeEventListener("abort", listener);
}

/** Why a {@link deadline} ended the work. */
export type DeadlineEnd = "timeout" | "aborted";

/**
 * The timeout-or-abort guard of a piece of work: calls `end("timeout")` after `timeoutMs`, or `end("aborted")`
 * as soon as `signal` aborts (at once when it already has), whichever comes first and only once. Returns the
 * function that cancels both; call it when the work ended by itself. The timer does not keep the process alive.
 */
export function deadline(timeoutMs: number | undefined, signal: AbortSignal | undefined, end: (why: DeadlineEnd) => void): () => void {
  let ended = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopListening = (): void => undefined;
  const cancel = (): void => {
    ended = true;
    clearTimeout(timer);
    stopListening();
  };
  const finish = (why: DeadlineEnd): void => {
    if (ended) return;
    cancel();
    end(why);
  };
  if (timeoutMs !== undefined) {
    timer = setTimeout(() => finish("timeout"), timeoutMs);
    timer.unref?.();
  }
  stopListening = onAbort(signal, () => finish("aborted"));
  return cancel;
}

/**
 * Resolves after `ms`, or early when `signal` aborts (callers look at their own state afterwards: a retry loop
 * that pauses between tries ends as soon as its owner closes). The timer does not keep the process alive.
 */
export function sleep(ms: number, options?: AbortOptions): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => (stop(), resolve()), ms);
    timer.unref?.();
    const stop = onAbort(options?.signal, () => (clearTimeout(timer), resolve()));
  });
}

/**
 * The controller of a long-lived scope (an account's lifetime): every operation in flight listens to its signal,
 * so the default warning at 11 listeners would fire under ordinary load; a real leak (thousands) still warns.
 */
export function lifetimeController(maxListeners = 5000): AbortController {
  const controller = new AbortController();
  setMaxListeners(maxListeners, controller.signal);
  return controller;
}
