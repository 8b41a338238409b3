/** RFC 3261 §7.3.3 compact forms, and the ones of later RFCs pjsip knows. */
const COMPACT: Record<string, string> = {
  i: "Call-ID",
  m: "Contact",
  e: "Content-Encoding",
  l: "Content-Length",
  c: "Content-Type",
  f: "From",
  s: "Subject",
  k: "Supported",
  t: "To",
  v: "Via",
  o: "Event",
  r: "Refer-To",
  b: "Referred-By",
  u: "Allow-Events",
  x: "Session-Expires",
};

/** Canonical spellings for the headers we write or read by name. */
const CANONICAL = new Map(
  [
    "Call-ID",
    "CSeq",
    "Via",
    "From",
    "To",
    "Contact",
    "Content-Type",
    "Content-Length",
    "Max-Forwards",
    "Message-ID",
    "User-Agent",
    "Date",
    "Allow",
    "Supported",
  ].map((n) => [n.toLowerCase(), n] as const),
);

export function canonicalName(name: string): string {
  const full = name.length === 1 ? (COMPACT[name.toLowerCase()] ?? name) : name;
  return CANONICAL.get(full.toLowerCase()) ?? full;
}

/** Ordered SIP headers with case-insensitive, compact-form-aware lookup. Values are kept as received. */
export class SipHeaders {
  private readonly list: Array<[string, string]> = [];

  constructor(entries: Iterable<readonly [string, string]> = []) {
    for (const [name, value] of entries) this.append(name, value);
  }

  append(name: string, value: string): this {
    if (/[\r\n]/.test(name + value)) throw new TypeError("header names and values cannot contain line breaks");
    this.list.push([canonicalName(name), value]);
    return this;
  }

  /** Replaces every header of that name with one value. */
  set(name: string, value: string): this {
    this.delete(name);
    return this.append(name, value);
  }

  delete(name: string): void {
    const key = canonicalName(name).toLowerCase();
    for (let i = this.list.length - 1; i >= 0; i--) if (this.list[i]![0].toLowerCase() === key) this.list.splice(i, 1);
  }

  get(name: string): string | undefined {
    const key = canonicalName(name).toLowerCase();
    return this.list.find(([n]) => n.toLowerCase() === key)?.[1];
  }

  /** Every value of that name, in order (headers like Via may repeat or hold comma-separated values). */
  getAll(name: string): string[] {
    const key = canonicalName(name).toLowerCase();
    return this.list.filter(([n]) => n.toLowerCase() === key).map(([, v]) => v);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  get size(): number {
    return this.list.length;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.list.map(([n, v]) => [n, v] as [string, string])[Symbol.iterator]();
  }
}
