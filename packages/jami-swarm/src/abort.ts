import { SwarmError } from "./errors.js";

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new SwarmError("ABORTED", "aborted", { cause: signal.reason });
}
