import git from "isomorphic-git";
import { createHash } from "node:crypto";
import { SwarmError } from "./errors.js";
import type { GitFs } from "./fs.js";

export type ObjectType = "commit" | "tree" | "blob" | "tag";

export interface RawObject {
  type: ObjectType;
  content: Uint8Array;
}

const encoder = new TextEncoder();

/** A git object id: SHA-1 of `"<type> <length>\0" + content`, lowercase hex. */
export function objectId(type: ObjectType, content: Uint8Array): string {
  return createHash("sha1")
    .update(encoder.encode(`${type} ${content.byteLength}\0`))
    .update(content)
    .digest("hex");
}

/**
 * Reads and writes git objects of one repository through isomorphic-git (loose and packed), with a staging
 * overlay: objects received in a pack are validated from memory before anything is written, so a refused fetch
 * stores nothing.
 */
export class ObjectStore {
  private readonly cache: object = {};
  private readonly recent = new Map<string, RawObject>();
  private static readonly RECENT_LIMIT = 4096;

  constructor(
    readonly fs: GitFs,
    readonly gitdir: string,
  ) {}

  /** A view that reads `staged` first, then this store; nothing is written by it. */
  withStaged(staged: ReadonlyMap<string, RawObject>): ObjectReader {
    return {
      read: async (oid) => staged.get(oid) ?? this.read(oid),
      has: async (oid) => staged.has(oid) || this.has(oid),
    };
  }

  async read(oid: string): Promise<RawObject> {
    const hit = this.recent.get(oid);
    if (hit) return hit;
    let result: { type: string; object: unknown };
    try {
      result = await git.readObject({ fs: this.fs, gitdir: this.gitdir, oid, format: "content", cache: this.cache });
    } catch (cause) {
      throw new SwarmError("OBJECT_NOT_FOUND", `object ${oid} is not in the repository`, { cause });
    }
    const object: RawObject = { type: result.type as ObjectType, content: result.object as Uint8Array };
    this.remember(oid, object);
    return object;
  }

  async has(oid: string): Promise<boolean> {
    if (this.recent.has(oid)) return true;
    try {
      await this.read(oid);
      return true;
    } catch {
      return false;
    }
  }

  /** Writes one loose object and returns its id. */
  async write(type: ObjectType, content: Uint8Array): Promise<string> {
    const oid = objectId(type, content);
    if (!this.recent.has(oid)) {
      await git.writeObject({ fs: this.fs, gitdir: this.gitdir, type, object: content, format: "content", oid });
      this.remember(oid, { type, content });
    }
    return oid;
  }

  /** After a pack was added on disk: isomorphic-git caches the pack list, so start afresh. */
  forgetPacks(): void {
    for (const key of Object.keys(this.cache)) delete (this.cache as Record<string, unknown>)[key];
  }

  private remember(oid: string, object: RawObject): void {
    if (this.recent.size >= ObjectStore.RECENT_LIMIT) this.recent.delete(this.recent.keys().next().value!);
    this.recent.set(oid, object);
  }
}

/** What validation and tree walks need: reading objects, wherever they are. */
export interface ObjectReader {
  read(oid: string): Promise<RawObject>;
  has(oid: string): Promise<boolean>;
}

export async function readTyped(reader: ObjectReader, oid: string, type: ObjectType): Promise<Uint8Array> {
  const object = await reader.read(oid);
  if (object.type !== type) throw new SwarmError("OBJECT_INVALID", `object ${oid} is a ${object.type}, expected a ${type}`);
  return object.content;
}
