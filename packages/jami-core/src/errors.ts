/**
 * The base of every error the jami-* packages throw: a stable `code` (a string union per package), a message
 * for people, an optional `cause`, and a JSON form for logs and the CLI. Each package has one subclass
 * (`IdentityError`, `DhtError`, `IceError`, `LinkError`, `AccountError`, …).
 */
export class JamiError<Code extends string = string> extends Error {
  override name = "JamiError";
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** `{name, code, message, cause?}`; a cause that is a JamiError nests its own JSON. */
  toJSON(): { name: string; code: string; message: string; cause?: unknown } {
    const cause = this.cause;
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      ...(cause === undefined
        ? {}
        : { cause: cause instanceof JamiError ? cause.toJSON() : cause instanceof Error ? { name: cause.name, message: cause.message } : cause }),
    };
  }
}

/** Whether `error` is one of ours (any package), and with `code` when given. */
export function isJamiError<Code extends string = string>(error: unknown, code?: Code): error is JamiError<Code> {
  return error instanceof JamiError && (code === undefined || error.code === code);
}

/** Encoding or decoding failed (msgpack and the other codecs here). */
export class CodecError extends JamiError<"ENCODE" | "DECODE"> {
  override name = "CodecError";
}
