import { createHash } from "node:crypto";
import type { CallBody, CommitBody, FileBody } from "./bodies.js";
import { SwarmError } from "./errors.js";
import { ROLE_RANK, type MemberRole } from "./members.js";
import { readProfileVcf, writeProfileVcf, type ConversationProfile } from "./profile.js";

/**
 * What a typed operation asks of the repository: the author's account, roles, the current tree, and one
 * commit on `main`. Each operation checks what jamid's API checks before it writes.
 */
export interface OpsHost {
  selfUri(): string;
  selfDevice(): string;
  mode(): Promise<number>;
  initialMembers(): Promise<string[]>;
  roleOf(uri: string): Promise<MemberRole | undefined>;
  exists(path: string): Promise<boolean>;
  readFile(path: string): Promise<Uint8Array | undefined>;
  hasCommit(oid: string): Promise<boolean>;
  authorOf(oid: string): Promise<{ uri: string; type?: string } | undefined>;
  memberFile(): Uint8Array;
  admins(): Promise<string[]>;
  commit(body: CommitBody, changes: Map<string, Uint8Array | null>): Promise<string>;
}

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const URI = /^[0-9a-f]{40}$/;

async function requireRole(host: OpsHost, atMost: MemberRole, what: string): Promise<void> {
  const role = await host.roleOf(host.selfUri());
  if (role === undefined || ROLE_RANK[role] > ROLE_RANK[atMost])
    throw new SwarmError("NOT_PERMITTED", `${what} needs the ${atMost} role (you are ${role ?? "not a member"})`);
}

function requireUri(uri: string): void {
  if (!URI.test(uri)) throw new SwarmError("INVALID_ARGUMENT", `"${uri}" is not a Jami ID`);
}

export async function sendText(host: OpsHost, body: string, options: { replyTo?: string } = {}): Promise<string> {
  await requireRole(host, "member", "posting");
  if (options.replyTo !== undefined && !(await host.hasCommit(options.replyTo)))
    throw new SwarmError("INVALID_ARGUMENT", `reply to unknown commit ${options.replyTo}`);
  return host.commit({ type: "text/plain", body, ...(options.replyTo ? { replyTo: options.replyTo } : {}) }, new Map());
}

export async function react(host: OpsHost, to: string, emoji: string): Promise<string> {
  await requireRole(host, "member", "reacting");
  if (!(await host.hasCommit(to))) throw new SwarmError("INVALID_ARGUMENT", `reaction to unknown commit ${to}`);
  return host.commit({ type: "text/plain", body: emoji, reactTo: to }, new Map());
}

/** jamid 13.7 writes `application/edited-message`; today's daemon `text/plain` with `edit` (empty body deletes). */
export async function edit(host: OpsHost, target: string, body: string, format: "13.7" | "today" = "13.7"): Promise<string> {
  await requireRole(host, "member", "editing");
  const edited = await host.authorOf(target);
  if (!edited || edited.uri !== host.selfUri() || edited.type !== "text/plain")
    throw new SwarmError("NOT_PERMITTED", "only one's own text messages can be edited");
  const commitBody: CommitBody = format === "13.7" ? { type: "application/edited-message", body, edit: target } : { type: "text/plain", body, edit: target };
  return host.commit(commitBody, new Map());
}

export async function addMember(host: OpsHost, uri: string): Promise<string> {
  requireUri(uri);
  await requireRole(host, "member", "inviting");
  if (uri === host.selfUri()) throw new SwarmError("INVALID_ARGUMENT", "adding oneself");
  if ((await host.mode()) === 0 && !(await host.initialMembers()).includes(uri))
    throw new SwarmError("NOT_PERMITTED", "a one-to-one only takes its two members");
  const role = await host.roleOf(uri);
  if (role === "banned") throw new SwarmError("NOT_PERMITTED", `${uri} is banned`);
  if (role === "admin" || role === "member" || role === "invited") throw new SwarmError("INVALID_ARGUMENT", `${uri} is already ${role}`);
  return host.commit({ type: "member", action: "add", uri }, new Map([[`invited/${uri}`, EMPTY]]));
}

export async function join(host: OpsHost): Promise<string> {
  const uri = host.selfUri();
  if ((await host.roleOf(uri)) !== "invited") throw new SwarmError("NOT_PERMITTED", "only an invited account can join");
  return host.commit(
    { type: "member", action: "join", uri },
    new Map([
      [`invited/${uri}`, null],
      [`members/${uri}.crt`, host.memberFile()],
    ]),
  );
}

/** Leaving: jamid removes its member file and its known device files. */
export async function leave(host: OpsHost, ownDevices: string[]): Promise<string> {
  const uri = host.selfUri();
  const role = await host.roleOf(uri);
  if (role !== "admin" && role !== "member") throw new SwarmError("NOT_PERMITTED", "only a member can leave");
  const changes = new Map<string, Uint8Array | null>([[role === "admin" ? `admins/${uri}.crt` : `members/${uri}.crt`, null]]);
  for (const device of ownDevices) if (await host.exists(`devices/${device}.crt`)) changes.set(`devices/${device}.crt`, null);
  return host.commit({ type: "member", action: "remove", uri }, changes);
}

type Target = "members" | "admins" | "invited" | "devices";

async function targetType(host: OpsHost, uri: string, banned: boolean): Promise<Target> {
  const prefix = banned ? "banned/" : "";
  if (await host.exists(`${prefix}admins/${uri}.crt`)) return "admins";
  if (await host.exists(`${prefix}members/${uri}.crt`)) return "members";
  if (await host.exists(`${prefix}invited/${uri}`)) return "invited";
  if (await host.exists(`${prefix}devices/${uri}.crt`)) return "devices";
  throw new SwarmError("INVALID_ARGUMENT", `${uri} is not ${banned ? "banned" : "in the conversation"}`);
}

/**
 * jamid's `removeConversationMember` by an admin: a vote, then (more than half the admins voted) the ban that
 * moves the member's file under `banned/` and deletes its devices. Returns the commits made.
 */
export async function voteBan(host: OpsHost, uri: string, kind: "ban" | "unban", listDevicesOf: (uri: string) => Promise<string[]>): Promise<string[]> {
  await requireRole(host, "admin", kind === "ban" ? "banning" : "unbanning");
  if (uri === host.selfUri()) throw new SwarmError("INVALID_ARGUMENT", "a vote against oneself");
  const type = await targetType(host, uri, kind === "unban");
  const self = host.selfUri();
  const commits = [await host.commit({ type: "vote", uri }, new Map([[`votes/${kind}/${type}/${uri}/${self}`, EMPTY]]))];
  const admins = await host.admins();
  const voters: string[] = [];
  for (const admin of admins) if (await host.exists(`votes/${kind}/${type}/${uri}/${admin}`)) voters.push(admin);
  if (voters.length * 2 <= admins.length) return commits;
  const changes = new Map<string, Uint8Array | null>();
  for (const voter of voters) changes.set(`votes/${kind}/${type}/${uri}/${voter}`, null);
  const file = type === "invited" ? `${type}/${uri}` : `${type}/${uri}.crt`;
  const [from, to] = kind === "ban" ? [file, `banned/${file}`] : [`banned/${file}`, file];
  changes.set(from, null);
  changes.set(to, (await host.readFile(from)) ?? EMPTY);
  if (kind === "ban") for (const device of await listDevicesOf(uri)) changes.set(`devices/${device}.crt`, null);
  commits.push(await host.commit({ type: "member", action: kind, uri }, changes));
  return commits;
}

/** Merges `update` into the current `profile.vcf` (admins only, as 13.7). */
export async function updateProfile(host: OpsHost, update: ConversationProfile): Promise<string> {
  await requireRole(host, "admin", "updating the profile");
  if (!(await host.exists(`devices/${host.selfDevice()}.crt`))) {
    // jamid's writer would add the device certificate to this commit, and its validator refuses exactly that
    throw new SwarmError("NOT_PERMITTED", "a profile update cannot be this device's first commit (jamid refuses it): commit something else first");
  }
  const current = await host.readFile("profile.vcf");
  const merged = { ...(current ? readProfileVcf(new TextDecoder().decode(current)) : {}), ...update };
  return host.commit({ type: "application/update-profile" }, new Map([["profile.vcf", encoder.encode(writeProfileVcf(merged))]]));
}

/** The commit announcing a file (the bytes travel over `data-transfer`): SHA3-512, random tid, size. */
export async function fileCommit(
  host: OpsHost,
  file: { displayName: string; content?: Uint8Array; sha3sum?: string; totalSize?: number; tid?: string; replyTo?: string },
): Promise<string> {
  await requireRole(host, "member", "sending a file");
  const sha3sum = file.sha3sum ?? (file.content ? createHash("sha3-512").update(file.content).digest("hex") : undefined);
  const totalSize = file.totalSize ?? file.content?.byteLength;
  if (!sha3sum || !/^[0-9a-f]{128}$/.test(sha3sum) || totalSize === undefined)
    throw new SwarmError("INVALID_ARGUMENT", "a file needs its content or its SHA3-512 and size");
  const tid = file.tid ?? randomU64();
  const body: FileBody = {
    type: "application/data-transfer+json",
    displayName: file.displayName,
    sha3sum,
    tid,
    totalSize,
    ...(file.replyTo ? { replyTo: file.replyTo } : {}),
  };
  return host.commit(body, new Map());
}

export async function callHistory(host: OpsHost, call: Omit<CallBody, "type">): Promise<string> {
  await requireRole(host, "member", "recording a call");
  return host.commit({ type: "application/call-history+json", ...call }, new Map());
}

function randomU64(): string {
  const bytes = new BigUint64Array(1);
  globalThis.crypto.getRandomValues(bytes);
  return (bytes[0]! === 0n ? 1n : bytes[0]!).toString();
}
