import { isIP } from "node:net";
import { DhtError } from "./errors.js";
import { InfoHash } from "./infohash.js";

export type Family = 4 | 6;

/** A UDP endpoint. IPv4-mapped IPv6 sources are normalised to plain IPv4, as OpenDHT does. */
export interface SocketAddress {
  address: string;
  port: number;
  family: Family;
}

/** A node as carried in `n4` / `n6`: its id and endpoint. */
export interface NodeEntry {
  id: InfoHash;
  address: SocketAddress;
}

export const COMPACT_V4 = 26;
export const COMPACT_V6 = 38;

export function socketAddress(address: string, port: number): SocketAddress {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) address = mapped[1]!;
  const family = isIP(address);
  if (family !== 4 && family !== 6) throw new DhtError("INVALID_ARGUMENT", `not an IP address: ${address}`);
  return { address, port, family };
}

/** Parses `host:port`, `[v6]:port` or a bare host with `defaultPort`. */
export function parseHostPort(text: string, defaultPort = 4222): SocketAddress {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracket) return socketAddress(bracket[1]!, bracket[2] ? Number(bracket[2]) : defaultPort);
  const colon = text.lastIndexOf(":");
  if (colon > 0 && text.indexOf(":") === colon) return socketAddress(text.slice(0, colon), Number(text.slice(colon + 1)));
  return socketAddress(text, defaultPort);
}

export function addressKey(a: SocketAddress): string {
  return a.family === 6 ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

export function ipBytes(address: string): Uint8Array {
  const family = isIP(address);
  if (family === 4) return Uint8Array.from(address.split(".").map(Number));
  if (family !== 6) throw new DhtError("INVALID_ARGUMENT", `not an IP address: ${address}`);
  const [head = "", tail = ""] = address.includes("::") ? address.split("::") : [address, ""];
  const groups = (s: string): number[] => {
    if (!s) return [];
    const parts = s.split(":");
    const last = parts[parts.length - 1]!;
    if (last.includes(".")) {
      const b = last.split(".").map(Number);
      parts.splice(parts.length - 1, 1, ((b[0]! << 8) | b[1]!).toString(16), ((b[2]! << 8) | b[3]!).toString(16));
    }
    return parts.map((p) => parseInt(p, 16));
  };
  const h = groups(head);
  const t = groups(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

export function ipFromBytes(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join(".");
  if (bytes.length !== 16) throw new DhtError("DECODE", `an IP address is 4 or 16 bytes, got ${bytes.length}`);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // Canonical text (RFC 5952): the longest run of zero groups becomes "::".
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  if (bestStart < 0) return groups.join(":");
  return `${groups.slice(0, bestStart).join(":")}::${groups.slice(bestStart + bestLen).join(":")}`;
}

export function encodeCompactNodes(nodes: NodeEntry[], family: Family): Uint8Array {
  const size = family === 4 ? COMPACT_V4 : COMPACT_V6;
  const out = new Uint8Array(nodes.length * size);
  nodes.forEach((n, i) => {
    const at = i * size;
    out.set(n.id.bytes, at);
    out.set(ipBytes(n.address.address), at + 20);
    out[at + size - 2] = n.address.port >> 8;
    out[at + size - 1] = n.address.port & 0xff;
  });
  return out;
}

/** Throws `DECODE` when the length is not a multiple of the entry size (OpenDHT's error 423 case). */
export function decodeCompactNodes(bytes: Uint8Array, family: Family): NodeEntry[] {
  const size = family === 4 ? COMPACT_V4 : COMPACT_V6;
  if (bytes.length % size !== 0) throw new DhtError("DECODE", `compact node list length ${bytes.length} is not a multiple of ${size}`);
  const out: NodeEntry[] = [];
  for (let at = 0; at < bytes.length; at += size) {
    const ip = ipFromBytes(bytes.subarray(at + 20, at + size - 2));
    const port = (bytes[at + size - 2]! << 8) | bytes[at + size - 1]!;
    out.push({ id: new InfoHash(bytes.subarray(at, at + 20)), address: { address: ip, port, family } });
  }
  return out;
}

/** OpenDHT's "martian" filter: sources never accepted. */
export function isMartian(a: SocketAddress): boolean {
  if (a.port === 0) return true;
  const b = ipBytes(a.address);
  if (a.family === 4) return b[0] === 0 || b[0]! >= 224;
  if (b[0] === 0xff) return true;
  if (b.every((x) => x === 0)) return true;
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return true;
  return false;
}

export function isLoopback(a: SocketAddress): boolean {
  return a.family === 4 ? a.address.startsWith("127.") : a.address === "::1";
}
