import { AccountError } from "../errors.js";

export function assertJamiId(jamiId: string): void {
  if (!/^[0-9a-f]{40}$/.test(jamiId)) throw new AccountError("INVALID_ARGUMENT", `not a Jami ID (40 lowercase hex): ${jamiId}`);
}

/** Local operations (store writes) check the signal once, before changing anything. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AccountError("ABORTED", "aborted", { cause: signal.reason });
}
