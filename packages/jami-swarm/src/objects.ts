import { createHash } from "node:crypto";
import { deflateSync, inflateSync } from "node:zlib";
import { SwarmError } from "./errors.js";
import { exists, joinPath, mkdirp, type GitFs } from "./fs.js";
import { StoredPacks } from "./stored-packs.js";
import { commitLinks } from "./commit-object.js";
import { IdleLru } from "./idle-lru.js";

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
  private readonly recent: RecentObjects;
  private static readonly GRAPH_LIMIT = 200_000;
  private readonly graph = new Map<string, CommitLinks>();
  private readonly packs: StoredPacks;
  /** Whether anything was asked of this store since the last `releaseIdle`. */
  private used = false;

  constructor(
    readonly fs: GitFs,
    readonly gitdir: string,
  ) {
    this.packs = new StoredPacks(fs, gitdir);
    this.recent = new RecentObjects();
  }

  /** A view that reads `staged` first, then this store; nothing is written by it. */
  withStaged(staged: ReadonlyMap<string, RawObject>): ObjectReader {
    return {
      read: async (oid) => staged.get(oid) ?? this.read(oid),
      has: async (oid) => staged.has(oid) || this.has(oid),
    };
  }

  async read(oid: string): Promise<RawObject> {
    this.used = true;
    const hit = this.recent.get(oid);
    if (hit) return hit;
    const object = (await this.packs.read(oid)) ?? (await this.readLoose(oid));
    if (!object) throw new SwarmError("OBJECT_NOT_FOUND", `object ${oid} is not in the repository`);
    this.recent.set(oid, object);
    return object;
  }

  /**
   * A commit's parents, tree and committer time, remembered for the life of the store (commits never change):
   * what serving a clone walks, without inflating and parsing every commit again (git's commit-graph idea).
   */
  async links(oid: string): Promise<CommitLinks> {
    this.used = true;
    let links = this.graph.get(oid) ?? (await this.packs.links(oid));
    if (!links) {
      const object = await this.read(oid);
      if (object.type !== "commit") throw new SwarmError("OBJECT_INVALID", `object ${oid} is a ${object.type}, expected a commit`);
      links = commitLinks(object.content);
      if (this.graph.size >= ObjectStore.GRAPH_LIMIT) this.graph.delete(this.graph.keys().next().value!);
      this.graph.set(oid, links);
    }
    return links;
  }

  /** @internal the stored zlib bytes of a packed whole object, for pack reuse. */
  compressed(oid: string): Promise<{ code: number; size: number; data: Uint8Array } | undefined> {
    this.used = true;
    return this.packs.compressed(oid);
  }

  /** A loose object (`objects/xx/yyyy…`, zlib of `"<type> <size>\0" + content`), read with node:zlib. */
  private async readLoose(oid: string): Promise<RawObject | undefined> {
    if (!/^[0-9a-f]{40}$/.test(oid)) return undefined;
    let file: Uint8Array | string;
    try {
      file = await this.fs.promises.readFile(joinPath(this.gitdir, "objects", oid.slice(0, 2), oid.slice(2)));
    } catch {
      return undefined;
    }
    let raw: Uint8Array;
    try {
      raw = inflateSync(typeof file === "string" ? new TextEncoder().encode(file) : file);
    } catch (cause) {
      throw new SwarmError("OBJECT_INVALID", `loose object ${oid} does not inflate`, { cause });
    }
    const nul = raw.indexOf(0);
    const [type, size] = new TextDecoder().decode(raw.subarray(0, nul < 0 ? 0 : nul)).split(" ");
    const content = ownBytes(raw.subarray(nul + 1));
    if (!["commit", "tree", "blob", "tag"].includes(type ?? "") || Number(size) !== content.byteLength || objectId(type as ObjectType, content) !== oid) {
      throw new SwarmError("OBJECT_INVALID", `loose object ${oid} is corrupt`);
    }
    return { type: type as ObjectType, content };
  }

  async has(oid: string): Promise<boolean> {
    this.used = true;
    if (this.recent.has(oid) || this.graph.has(oid) || (await this.packs.has(oid))) return true;
    return /^[0-9a-f]{40}$/.test(oid) && exists(this.fs, joinPath(this.gitdir, "objects", oid.slice(0, 2), oid.slice(2)));
  }

  /** Writes one loose object (node:zlib, as git lays it out) and returns its id. */
  async write(type: ObjectType, content: Uint8Array): Promise<string> {
    this.used = true;
    const oid = objectId(type, content);
    if (this.recent.has(oid)) return oid;
    const dir = joinPath(this.gitdir, "objects", oid.slice(0, 2));
    const path = joinPath(dir, oid.slice(2));
    if (!(await exists(this.fs, path))) {
      await mkdirp(this.fs, dir);
      const header = encoder.encode(`${type} ${content.byteLength}\0`);
      const raw = new Uint8Array(header.byteLength + content.byteLength);
      raw.set(header, 0);
      raw.set(content, header.byteLength);
      await this.fs.promises.writeFile(path, deflateSync(raw));
    }
    // known to be here, but not kept: what is written is mostly never read back (a commit of ours, its trees), and
    // an idle conversation should not hold its last writes; a read takes it into the recent objects
    this.recent.note(oid);
    return oid;
  }

  /**
   * Forgets what this store keeps to go faster (the loaded packs and their indexes, the commit graph, which ids it
   * holds) if nothing was asked of it since the last call: a conversation left alone for a while holds almost nothing.
   * Everything comes back from its files when next used.
   */
  releaseIdle(): void {
    if (!this.used) {
      this.packs.reset();
      this.graph.clear();
      this.recent.forget();
    }
    this.used = false;
  }

  /** After a pack was added on disk: read the pack list afresh. */
  forgetPacks(): void {
    this.packs.reset();
  }
}

/**
 * @internal `bytes` in memory of their own. zlib hands back a small result as a view of a larger block (its 16 KiB
 * output chunk, or Node's shared 8 KiB pool): an object kept among the recent ones would keep that whole block.
 */
export function ownBytes(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
}

/**
 * Objects read or written lately, for every repository of the process together, by object id (git's ids name
 * content, so a certificate file or tree that recurs in many conversations is held once), within one byte budget:
 * a thousand idle conversations hold no more than a busy one. Least recently used first out; an object larger than
 * `MAX_RECENT_OBJECT` is not kept.
 */
const RECENT = new IdleLru<string, RawObject>();
let recentBytes = 0;
export const RECENT_OBJECTS_BUDGET = 16 << 20;
const MAX_RECENT_OBJECT = 256 << 10;

/** @internal how much the shared recent objects hold (tests). */
export function recentObjectsHeld(): { objects: number; bytes: number } {
  return { objects: RECENT.size, bytes: recentBytes };
}

/**
 * Drops the shared recent objects not used since the last call: two calls apart with nothing read, an idle process
 * holds none (the byte budget bounds a busy one).
 */
export function releaseIdleRecentObjects(): void {
  RECENT.sweep((object) => (recentBytes -= object.content.byteLength));
}

/**
 * One store's view of the shared recent objects: the ids it knows it holds (a shared object is used only for one of
 * those — another repository's object is no proof this one has it; an erased and re-cloned repository gets a new
 * store that knows nothing). Bounded: past the limit it forgets and asks its files again.
 */
class RecentObjects {
  private readonly present = new Set<string>();
  private static readonly PRESENT_LIMIT = 4096;

  get(oid: string): RawObject | undefined {
    return this.present.has(oid) ? RECENT.get(oid) : undefined;
  }

  has(oid: string): boolean {
    return this.present.has(oid);
  }

  /** Knows nothing any more (asks the files again); the shared objects stay. */
  forget(): void {
    this.present.clear();
  }

  /** `oid` is in this repository (its content is not kept). */
  note(oid: string): void {
    if (this.present.size >= RecentObjects.PRESENT_LIMIT) this.present.clear();
    this.present.add(oid);
  }

  set(oid: string, object: RawObject): void {
    this.note(oid);
    if (object.content.byteLength > MAX_RECENT_OBJECT) return;
    recentBytes += object.content.byteLength - (RECENT.set(oid, object)?.content.byteLength ?? 0);
    while (recentBytes > RECENT_OBJECTS_BUDGET) recentBytes -= RECENT.dropOldest()!.content.byteLength;
  }
}

export interface CommitLinks {
  parents: string[];
  tree: string;
  /** Committer time, Unix seconds. */
  time: number;
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
