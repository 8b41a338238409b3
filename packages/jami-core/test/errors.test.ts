import { abortable, CodecError, decodeMsgpack, isJamiError, JamiError, withTimeout } from "jami-core";

class DemoError extends JamiError<"A" | "B"> {
  override name = "DemoError";
}

describe("the error base", () => {
  it("every package error is a JamiError with a code, a cause and a JSON form", () => {
    const cause = new DemoError("A", "inner");
    const e = new DemoError("B", "outer", { cause });
    expect(e).toBeInstanceOf(Error);
    expect(isJamiError(e)).toBe(true);
    expect(isJamiError(e, "B")).toBe(true);
    expect(isJamiError(e, "A")).toBe(false);
    expect(isJamiError(new Error("plain"))).toBe(false);
    expect(JSON.parse(JSON.stringify(e))).toEqual({
      name: "DemoError",
      code: "B",
      message: "outer",
      cause: { name: "DemoError", code: "A", message: "inner" },
    });
    expect(new DemoError("A", "x", { cause: new TypeError("t") }).toJSON().cause).toEqual({ name: "TypeError", message: "t" });
  });

  it("msgpack failures are CodecErrors (DECODE)", () => {
    let caught: unknown;
    try {
      decodeMsgpack(new Uint8Array([0xc4, 0x05, 0x01]));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(CodecError);
    expect(isJamiError(caught, "DECODE")).toBe(true);
  });
});

describe("abort helpers", () => {
  it("withTimeout aborts with TIMEOUT after its delay, or with the outer signal's reason", async () => {
    const t = withTimeout(10);
    await new Promise((r) => t.signal.addEventListener("abort", r));
    expect(isJamiError(t.signal.reason, "TIMEOUT")).toBe(true);
    t.dispose();
    const outer = new AbortController();
    const u = withTimeout(60_000, outer.signal);
    outer.abort("stop");
    expect(u.signal.aborted).toBe(true);
    expect(u.signal.reason).toBe("stop");
    u.dispose();
  });

  it("abortable rejects when the signal aborts and passes the result through otherwise", async () => {
    await expect(abortable(Promise.resolve(1), undefined, () => new Error("x"))).resolves.toBe(1);
    const c = new AbortController();
    const pending = abortable(new Promise(() => undefined), c.signal, () => new DemoError("A", "aborted"));
    c.abort();
    await expect(pending).rejects.toMatchObject({ code: "A" });
    await expect(abortable(Promise.resolve(2), AbortSignal.abort(), () => new DemoError("B", "already"))).rejects.toMatchObject({ code: "B" });
  });
});
