import { deadline, onAbort, sleep } from "jami-core";

describe("abort helpers", () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it("onAbort runs once when the signal aborts, at once when it already has, and not after it is stopped", () => {
    const calls: unknown[] = [];
    const controller = new AbortController();
    onAbort(controller.signal, (reason) => calls.push(reason));
    const stopped = onAbort(controller.signal, () => calls.push("stopped"));
    stopped();
    controller.abort("why");
    controller.abort("again");
    onAbort(controller.signal, (reason) => calls.push(`late ${String(reason)}`));
    expect(calls).toEqual(["why", "late why"]);
    expect(onAbort(undefined, () => calls.push("never"))).toBeInstanceOf(Function);
  });

  it("deadline ends the work once: on timeout, on abort, at once when already aborted, never once cancelled", () => {
    const ends: string[] = [];
    deadline(100, undefined, (why) => ends.push(`a ${why}`));
    const controller = new AbortController();
    deadline(100, controller.signal, (why) => ends.push(`b ${why}`));
    controller.abort();
    const cancelled = new AbortController();
    const cancel = deadline(100, cancelled.signal, (why) => ends.push(`c ${why}`));
    cancel();
    cancelled.abort();
    deadline(100, AbortSignal.abort(), (why) => ends.push(`d ${why}`));
    jest.advanceTimersByTime(100);
    expect(ends).toEqual(["b aborted", "d aborted", "a timeout"]);
  });

  it("sleep resolves after its time, or early when the signal aborts", async () => {
    let slept = false;
    const done = sleep(1000).then(() => (slept = true));
    await jest.advanceTimersByTimeAsync(999);
    expect(slept).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    await done;
    const controller = new AbortController();
    const early = sleep(60_000, { signal: controller.signal });
    controller.abort();
    await expect(early).resolves.toBeUndefined();
  });
});
