import { Certificate } from "jami-identity";
import { SwarmError } from "./errors.js";
import { IdleLru } from "./idle-lru.js";
import { readTyped, type ObjectReader } from "./objects.js";
import { DIRECTORY_MODE, type TreeReader } from "./tree.js";

/** A member's role at a commit, in jamid's order (smaller = more rights). */
export type MemberRole = "admin" | "member" | "invited" | "banned" | "left";
export const ROLE_RANK: Record<MemberRole, number> = { admin: 0, member: 1, invited: 2, banned: 3, left: 4 };

export interface Member {
  /** The member's Jami ID (40 hex). */
  uri: string;
  role: MemberRole;
}

/** Where jamid's `initMembers` looks, in order: a URI takes the role of the first directory it appears in. */
const ROLE_DIRECTORIES: ReadonlyArray<[string, MemberRole]> = [
  ["admins", "admin"],
  ["members", "member"],
  ["invited", "invited"],
  ["banned/members", "banned"],
  ["banned/invited", "banned"],
  ["banned/admins", "banned"],
];

/**
 * The members of a conversation at a tree, as jamid derives them; `initialMembers` (one-to-one: creator and
 * invited) who appear nowhere are reported as `left`.
 */
export async function membersAt(trees: TreeReader, tree: string, initialMembers: readonly string[] = []): Promise<Member[]> {
  const seen = new Map<string, MemberRole>();
  for (const [directory, role] of ROLE_DIRECTORIES) {
    for (const entry of await trees.list(tree, directory)) {
      if (entry.mode === DIRECTORY_MODE) continue;
      const uri = entry.name.endsWith(".crt") ? entry.name.slice(0, -4) : entry.name;
      if (!seen.has(uri)) seen.set(uri, role);
    }
  }
  for (const uri of initialMembers) if (!seen.has(uri)) seen.set(uri, "left");
  return [...seen].map(([uri, role]) => ({ uri, role }));
}

/**
 * Parsed certificates by blob id, shared by every repository of the process: a blob id names its content, and the
 * same members' certificates recur in every conversation they share (parsed once, held once). Bounded; the least
 * recently used is forgotten first.
 */
const PARSED = new IdleLru<string, Certificate[] | Error>();
export const MAX_PARSED_CERTIFICATE_FILES = 1024;

/** Drops the shared parsed certificates not used since the last call (least recently used first). */
export function releaseIdleCertificates(): void {
  PARSED.sweep();
}

/** One repository's (or validation's) view of the shared parsed certificates. */
export class CertificateCache {
  /** Blob ids seen in `objects`: a shared entry is used only for a blob this repository really holds. */
  private readonly present = new Set<string>();
  private used = false;

  constructor(private readonly objects: ObjectReader) {}

  /** Forgets which blobs this repository holds if no certificate was asked since the last call. */
  releaseIdle(): void {
    if (!this.used) this.present.clear();
    this.used = false;
  }

  /** The certificates of a PEM blob (device file: one; member file: account then CA). Throws if unreadable. */
  async chain(blobOid: string): Promise<Certificate[]> {
    this.used = true;
    let hit = PARSED.get(blobOid);
    if (hit && !this.present.has(blobOid)) {
      // parsed from another repository: this one must hold the blob too (a tree may name one it lacks)
      if (!(await this.objects.has(blobOid))) throw new SwarmError("OBJECT_NOT_FOUND", `object ${blobOid} is not in the repository`);
      this.remember(blobOid);
    }
    if (!hit) {
      try {
        const pem = new TextDecoder().decode(await readTyped(this.objects, blobOid, "blob"));
        const chain = Certificate.chainFromPem(pem);
        hit = chain.length > 0 ? chain : new Error("no certificate in the file");
      } catch (error) {
        if (error instanceof SwarmError && error.code === "OBJECT_NOT_FOUND") throw error; // not a fact about the content
        hit = error as Error;
      }
      this.remember(blobOid);
      PARSED.set(blobOid, hit);
      while (PARSED.size > MAX_PARSED_CERTIFICATE_FILES) PARSED.dropOldest();
    }
    if (hit instanceof Error) throw hit;
    return hit;
  }

  private remember(blobOid: string): void {
    if (this.present.size >= 4096) this.present.clear();
    this.present.add(blobOid);
  }

  async first(blobOid: string): Promise<Certificate> {
    return (await this.chain(blobOid))[0]!;
  }
}
