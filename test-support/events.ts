import type { TypedEmitter } from "jami-core";

/** Test helpers shared by every suite: wait for an event or a condition, failing (not hanging) after a bound. */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyEmitter = TypedEmitter<any>;
/** The event map of a TypedEmitter. */
type EventMapOf<T> = T extends TypedEmitter<infer E> ? E : never;

/**
 * The next `event` of `emitter` (its arguments); rejects after `timeoutMs` (default 20 s) — a bound on a
 * failure, never a timed assertion. `filter` skips events until one matches.
 */
export function next<T extends AnyEmitter, K extends keyof EventMapOf<T> & string>(
  emitter: T,
  event: K,
  options: { timeoutMs?: number; filter?: (...args: EventMapOf<T>[K]) => boolean } = {},
): Promise<EventMapOf<T>[K]> {
  type Args = EventMapOf<T>[K];
  return new Promise((resolve, reject) => {
    const onEvent = (...args: Args): void => {
      if (options.filter && !options.filter(...args)) return void emitter.once(event, onEvent);
      clearTimeout(timer);
      resolve(args);
    };
    const timer = setTimeout(() => {
      emitter.off(event, onEvent);
      reject(new Error(`no ${event} event within ${options.timeoutMs ?? 20_000} ms`));
    }, options.timeoutMs ?? 20_000);
    emitter.once(event, onEvent);
  });
}

/** Resolves once `condition()` holds (checked every 20 ms); rejects after `timeoutMs` (default 20 s). */
export async function waitFor(condition: () => boolean | Promise<boolean>, options: { timeoutMs?: number; what?: string } = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${options.what ?? "condition"} not met within ${options.timeoutMs ?? 20_000} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
