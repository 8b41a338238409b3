import { randomBytes } from "node:crypto";
import { networkInterfaces } from "node:os";

const ICE_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";

/** Fresh ICE credentials from the ice-char set (RFC 8445 §5.3: ufrag ≥ 4, pwd ≥ 22 characters). */
export function iceCredentials(): { ufrag: string; pwd: string } {
  const text = (length: number): string => [...randomBytes(length)].map((b) => ICE_CHARS[b & 63]).join("");
  return { ufrag: text(8), pwd: text(24) };
}

/** The non-internal interface addresses (IPv6 link-local left out: they need a scope). */
export function hostAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal || (a.family === "IPv6" && a.address.toLowerCase().startsWith("fe80"))) continue;
      out.push(a.address);
    }
  }
  return out;
}

/** 6 for an IPv6 address (text form), else 4. */
export function familyOf(address: string): 4 | 6 {
  return address.includes(":") ? 6 : 4;
}
