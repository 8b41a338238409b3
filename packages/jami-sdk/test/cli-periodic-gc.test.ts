import { collectPeriodically, fullGc } from "../src/cli/periodic-gc.js";

describe("periodic full GC of long-running commands", () => {
  afterEach(() => jest.useRealTimers());

  it("collects every N minutes until stopped; 0 never", () => {
    jest.useFakeTimers();
    const gc = jest.fn();
    const stop = collectPeriodically(5, gc);
    jest.advanceTimersByTime(5 * 60_000 - 1);
    expect(gc).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(gc).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(10 * 60_000);
    expect(gc).toHaveBeenCalledTimes(3);
    stop();
    jest.advanceTimersByTime(60 * 60_000);
    expect(gc).toHaveBeenCalledTimes(3);
    const never = jest.fn();
    collectPeriodically(0, never)();
    jest.advanceTimersByTime(60 * 60_000);
    expect(never).not.toHaveBeenCalled();
  });

  it("the full GC is V8's: garbage held only weakly is gone after it", async () => {
    const gc = fullGc();
    const ref = new WeakRef({ big: new Array(1000).fill("x") });
    // a WeakRef keeps its target until the current job ends
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(ref.deref()).toBeUndefined();
  });
});
