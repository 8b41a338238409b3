import { Certificate } from "jami-identity";
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

/** Parsed certificates by blob id: parsing is the slow part of validation and the same files recur. */
export class CertificateCache {
  private readonly parsed = new Map<string, Certificate[] | Error>();

  constructor(private readonly objects: ObjectReader) {}

  /** The certificates of a PEM blob (device file: one; member file: account then CA). Throws if unreadable. */
  async chain(blobOid: string): Promise<Certificate[]> {
    let hit = this.parsed.get(blobOid);
    if (!hit) {
      try {
        const pem = new TextDecoder().decode(await readTyped(this.objects, blobOid, "blob"));
        const chain = Certificate.chainFromPem(pem);
        hit = chain.length > 0 ? chain : new Error("no certificate in the file");
      } catch (error) {
        hit = error as Error;
      }
      if (this.parsed.size > 4096) this.parsed.clear();
      this.parsed.set(blobOid, hit);
    }
    if (hit instanceof Error) throw hit;
    return hit;
  }

  async first(blobOid: string): Promise<Certificate> {
    return (await this.chain(blobOid))[0]!;
  }
}
