/**
 * JSON exactly as jamid 13.7 writes commit bodies (jsoncpp's compact writer): object keys sorted by their UTF-8
 * bytes, no spaces, non-ASCII as `\uXXXX` UTF-16 units in lowercase hex, no trailing newline. Byte-identical
 * bodies matter because the commit id and its signature cover them.
 */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

const SHORT_ESCAPES: Record<string, string> = { '"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function quote(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const code = text.charCodeAt(i);
    const short = SHORT_ESCAPES[ch];
    if (short) out += short;
    else if (code < 0x20 || code > 0x7f) out += "\\u" + code.toString(16).padStart(4, "0");
    else out += ch;
  }
  return out + '"';
}

/** Byte order of the keys' UTF-8, as std::map<std::string> orders them. */
function compareKeys(a: string, b: string): number {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return Buffer.compare(x, y);
}

export function jsoncppStringify(value: JsonValue): string {
  if (value === null) return "null";
  if (typeof value === "string") return quote(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError("JSON numbers must be finite");
    return String(value);
  }
  if (Array.isArray(value)) return "[" + value.map(jsoncppStringify).join(",") + "]";
  const keys = Object.keys(value)
    .filter((k) => value[k] !== undefined)
    .sort(compareKeys);
  return "{" + keys.map((k) => quote(k) + ":" + jsoncppStringify(value[k]!)).join(",") + "}";
}
