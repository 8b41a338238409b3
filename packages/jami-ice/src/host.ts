import { randomBytes } from "node:crypto";
import { BlockList } from "node:net";
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

/** Addresses a peer's candidate must never make us dial, whatever else we offer. */
const NEVER = new BlockList();
NEVER.addSubnet("0.0.0.0", 8, "ipv4"); // "this network"
NEVER.addSubnet("224.0.0.0", 4, "ipv4"); // multicast
NEVER.addAddress("255.255.255.255", "ipv4");
NEVER.addAddress("::", "ipv6");
NEVER.addSubnet("ff00::", 8, "ipv6");
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");
const LINK_LOCAL = new BlockList();
LINK_LOCAL.addSubnet("169.254.0.0", 16, "ipv4");
LINK_LOCAL.addSubnet("fe80::", 10, "ipv6");

function inList(list: BlockList, address: string): boolean {
  const type = familyOf(address) === 6 ? "ipv6" : "ipv4";
  try {
    return list.check(address, type);
  } catch {
    return true; // not an address Node can read: treat as refused
  }
}

/**
 * Whether we would send to a peer's candidate address. Never to unspecified, multicast or broadcast addresses;
 * to loopback and link-local ones only when one of `own` is of that kind too (a test network on this machine):
 * otherwise a connection request could aim us at this machine's own services or at the local link.
 */
export function dialable(address: string, own: readonly string[]): boolean {
  if (inList(NEVER, address)) return false;
  for (const scope of [LOOPBACK, LINK_LOCAL]) {
    if (inList(scope, address) && !own.some((a) => inList(scope, a))) return false;
  }
  return true;
}
