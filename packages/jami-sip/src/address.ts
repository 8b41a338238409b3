import { SipError } from "./errors.js";

export interface SipUri {
  scheme: "sip" | "sips";
  user?: string;
  host: string;
  port?: number;
  params: Record<string, string>;
}

/** `name-addr` or `addr-spec` with header parameters: `"Alice" <sip:id@ring.dht>;tag=abc`. */
export interface SipAddress {
  displayName?: string;
  uri: SipUri;
  params: Record<string, string>;
}

function params(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(";").slice(1)) {
    if (!part) continue;
    const eq = part.indexOf("=");
    out[(eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase()] = eq < 0 ? "" : part.slice(eq + 1).trim();
  }
  return out;
}

export function parseSipUri(text: string): SipUri {
  const m = /^(sips?):(?:([^@;]+)@)?(\[[0-9a-fA-F:.]+\]|[^:;?]+)(?::(\d{1,5}))?((?:;[^?]*)?)(?:\?.*)?$/.exec(text.trim());
  if (!m) throw new SipError("MALFORMED", `not a SIP URI: "${text.slice(0, 80)}"`);
  return {
    scheme: m[1] as "sip" | "sips",
    ...(m[2] !== undefined ? { user: decodeURIComponent(m[2]) } : {}),
    host: m[3]!,
    ...(m[4] !== undefined ? { port: Number(m[4]) } : {}),
    params: params(m[5] ?? ""),
  };
}

export function formatSipUri(uri: SipUri): string {
  const user = uri.user !== undefined ? `${uri.user}@` : "";
  const port = uri.port !== undefined ? `:${uri.port}` : "";
  const extra = Object.entries(uri.params)
    .map(([k, v]) => (v === "" ? `;${k}` : `;${k}=${v}`))
    .join("");
  return `${uri.scheme}:${user}${uri.host}${port}${extra}`;
}

/** From, To, Contact: `"Display" <uri>;params`, `<uri>;params` or `uri;params` (then the params are the header's). */
export function parseSipAddress(text: string): SipAddress {
  const value = text.trim();
  const open = value.indexOf("<");
  if (open >= 0) {
    const close = value.indexOf(">", open);
    if (close < 0) throw new SipError("MALFORMED", `unterminated <uri> in "${value.slice(0, 80)}"`);
    let display = value.slice(0, open).trim();
    if (display.startsWith('"') && display.endsWith('"') && display.length >= 2) display = display.slice(1, -1).replace(/\\(.)/g, "$1");
    return { ...(display ? { displayName: display } : {}), uri: parseSipUri(value.slice(open + 1, close)), params: params(value.slice(close + 1)) };
  }
  const semi = value.indexOf(";");
  return { uri: parseSipUri(semi < 0 ? value : value.slice(0, semi)), params: params(semi < 0 ? "" : value.slice(semi)) };
}

export function formatSipAddress(address: SipAddress): string {
  const display = address.displayName ? `"${address.displayName.replace(/(["\\])/g, "\\$1")}" ` : "";
  const extra = Object.entries(address.params)
    .map(([k, v]) => (v === "" ? `;${k}` : `;${k}=${v}`))
    .join("");
  return `${display}<${formatSipUri(address.uri)}>${extra}`;
}
