import { IceError } from "./errors.js";
import { dialable } from "./host.js";

/** Candidates read from one description; jamid offers a few per interface (host, server-reflexive, relayed). */
export const MAX_CANDIDATES = 32;
/** Remote candidates an agent sends checks or connections to, the highest priorities first. */
export const MAX_CHECKED_CANDIDATES = 16;

export type CandidateType = "host" | "srflx" | "prflx" | "relay";
export type TcpType = "active" | "passive" | "so";

/** One ICE candidate (component 1 only, as Jami uses a single stream with one component). */
export interface Candidate {
  foundation: string;
  component: number;
  transport: "UDP" | "TCP";
  priority: number;
  address: string;
  port: number;
  type: CandidateType;
  /** TCP candidates only (RFC 6544). */
  tcpType?: TcpType;
}

const TYPE_PREFERENCE: Record<CandidateType, number> = { host: 126, prflx: 110, srflx: 100, relay: 0 };

/**
 * RFC 8445 §5.1.2.1 priority; for TCP the local preference carries RFC 6544 §4.2's direction preference
 * (host and relayed: active 6, passive 4, so 2; server- and peer-reflexive: so 6, active 4, passive 2).
 */
export function candidatePriority(type: CandidateType, transport: "UDP" | "TCP", tcpType?: TcpType, otherPreference = 8191, component = 1): number {
  let local = 65535;
  if (transport === "TCP") {
    const nat = type === "srflx" || type === "prflx";
    const direction = tcpType === "active" ? (nat ? 4 : 6) : tcpType === "passive" ? (nat ? 2 : 4) : nat ? 6 : 2;
    local = (direction << 13) | (otherPreference & 0x1fff);
  }
  return ((TYPE_PREFERENCE[type] << 24) + (local << 8) + (256 - component)) >>> 0;
}

/** The `a=candidate` value without its prefix, as jamid writes it in `ice_msg` (no raddr/rport). */
export function formatCandidate(c: Candidate): string {
  const base = `${c.foundation} ${c.component} ${c.transport} ${c.priority} ${c.address} ${c.port} typ ${c.type}`;
  return c.tcpType ? `${base} tcptype ${c.tcpType}` : base;
}

/** Parses one candidate line (RFC 5245/6544 fields; extra tokens such as raddr/rport are ignored). */
export function parseCandidate(line: string): Candidate {
  const t = line
    .trim()
    .replace(/^a=candidate:/, "")
    .replace(/^candidate:/, "")
    .split(/\s+/);
  const fail = (why: string): never => {
    throw new IceError("ICE_MSG_MALFORMED", `bad candidate "${line}": ${why}`);
  };
  if (t.length < 8 || t[6] !== "typ") fail("expected 'foundation component transport priority address port typ type'");
  const [foundation, comp, transport, prio, address, port, , type] = t as [string, string, string, string, string, string, string, string];
  const tr = transport.toUpperCase();
  if (tr !== "UDP" && tr !== "TCP") fail(`transport ${transport}`);
  if (!["host", "srflx", "prflx", "relay"].includes(type)) fail(`type ${type}`);
  const component = Number(comp);
  const priority = Number(prio);
  const portNumber = Number(port);
  if (!Number.isInteger(component) || component < 1 || component > 256) fail("component");
  if (!Number.isInteger(priority) || priority < 0 || priority > 0xffffffff) fail("priority");
  if (!Number.isInteger(portNumber) || portNumber < 0 || portNumber > 65535) fail("port");
  if (!/^[0-9a-fA-F:.]+$/.test(address)) fail("address");
  const candidate: Candidate = {
    foundation,
    component,
    transport: tr as "UDP" | "TCP",
    priority,
    address,
    port: portNumber,
    type: type as CandidateType,
  };
  if (tr === "TCP") {
    const i = t.indexOf("tcptype");
    const tcpType = i > 0 ? t[i + 1] : undefined;
    if (tcpType !== "active" && tcpType !== "passive" && tcpType !== "so") fail("TCP candidate without a valid tcptype");
    candidate.tcpType = tcpType as TcpType;
  }
  return candidate;
}

/** What one side sends the other: its ICE credentials and candidates. */
export interface IceDescription {
  ufrag: string;
  pwd: string;
  candidates: Candidate[];
}

/** Jami's `ice_msg` text (spec §4.2): ufrag, pwd, then one candidate per line, each line ending in `\n`. */
export function encodeIceMessage(d: IceDescription): string {
  return [d.ufrag, d.pwd, ...d.candidates.map(formatCandidate)].map((l) => `${l}\n`).join("");
}

/** Reads an `ice_msg`; unusable candidate lines are skipped (as jamid does), missing credentials are an error. */
export function decodeIceMessage(text: string): IceDescription {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
  const [ufrag, pwd] = lines;
  if (!ufrag || !pwd || /\s/.test(ufrag) || /\s/.test(pwd)) throw new IceError("ICE_MSG_MALFORMED", "ice_msg needs a ufrag and a pwd line");
  const candidates: Candidate[] = [];
  for (const line of lines.slice(2)) {
    if (candidates.length === MAX_CANDIDATES) break;
    if (!line.trim()) continue;
    try {
      candidates.push(parseCandidate(line));
    } catch {
      /* skipped, as jamid skips lines it cannot read */
    }
  }
  return { ufrag, pwd, candidates };
}

/**
 * The peer's candidates we will contact: addresses we may dial (see `dialable`: no loopback or link-local unless
 * we offer such addresses ourselves), at most MAX_CHECKED_CANDIDATES, highest priority first. One connection
 * request must not make us scan ports or flood addresses of the sender's choosing.
 */
export function candidatesToContact(remote: readonly Candidate[], ownAddresses: readonly string[]): Candidate[] {
  return remote
    .filter((c) => dialable(c.address, ownAddresses))
    .sort((a, b) => b.priority - a.priority)
    .slice(0, MAX_CHECKED_CANDIDATES);
}
