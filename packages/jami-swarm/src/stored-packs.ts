import { fromHex, toHex } from "jami-core";
import { SwarmError } from "./errors.js";
import { joinPath, type GitFs } from "./fs.js";
import type { CommitLinks, RawObject } from "./objects.js";
import { applyDelta, inflateEntry, PACK_TYPES, readEntryHeader } from "./pack.js";

interface StoredPack {
  /** The commits of the pack as its graph file lists them (parents, tree, time), when that file is there. */
  graph?: Map<string, CommitLinks>;
  bytes: Uint8Array;
  offsets: Map<string, number>;
  /** Offset of each entry → offset of the entry after it: where its zlib data ends. */
  next: Map<number, number>;
}

/** Deltas deeper than this are refused (git's own default depth is 50). */
const MAX_DELTA_DEPTH = 1000;

/**
 * Reads objects from the repository's `objects/pack/*.pack` through their `.idx` (version 2), with node:zlib:
 * isomorphic-git's reader re-lists the pack directory and inflates with pako on every read, which made serving
 * a 10,000-commit clone 15× slower than git. Packs are loaded whole (a conversation's packs are small; a fetch
 * is capped at 256 MiB).
 */
export class StoredPacks {
  private packs: StoredPack[] | undefined;

  constructor(
    private readonly fs: GitFs,
    private readonly gitdir: string,
  ) {}

  /** Forget what was loaded (after a new pack was written). */
  reset(): void {
    this.packs = undefined;
  }

  /** A commit's links from a pack's graph file, without inflating the commit. */
  async links(oid: string): Promise<CommitLinks | undefined> {
    for (const pack of await this.load()) {
      const links = pack.graph?.get(oid);
      if (links) return links;
    }
    return undefined;
  }

  async has(oid: string): Promise<boolean> {
    return (await this.load()).some((pack) => pack.offsets.has(oid));
  }

  async read(oid: string): Promise<RawObject | undefined> {
    for (const pack of await this.load()) {
      const offset = pack.offsets.get(oid);
      if (offset !== undefined) return this.readAt(pack, offset, 0);
    }
    return undefined;
  }

  /**
   * The stored zlib bytes of a whole (non-delta) object, for a pack writer to copy without inflating and
   * deflating again (git's pack reuse). Undefined when the object is a delta or not in a pack.
   */
  async compressed(oid: string): Promise<{ code: number; size: number; data: Uint8Array } | undefined> {
    for (const pack of await this.load()) {
      const offset = pack.offsets.get(oid);
      if (offset === undefined) continue;
      const end = pack.bytes.byteLength - 20;
      const header = readEntryHeader(pack.bytes, offset, end);
      if (header.baseOffset !== undefined || header.baseOid !== undefined) return undefined;
      const next = pack.next.get(offset) ?? end;
      return { code: header.code, size: header.size, data: pack.bytes.subarray(header.dataStart, next) };
    }
    return undefined;
  }

  private readAt(pack: StoredPack, offset: number, depth: number): RawObject {
    if (depth > MAX_DELTA_DEPTH) throw new SwarmError("PACK_INVALID", "delta chain too deep");
    const end = pack.bytes.byteLength - 20;
    const header = readEntryHeader(pack.bytes, offset, end);
    const { data } = inflateEntry(pack.bytes, header.dataStart, end, header.size, offset);
    if (header.baseOffset !== undefined) {
      const base = this.readAt(pack, header.baseOffset, depth + 1);
      return { type: base.type, content: applyDelta(base.content, data, Number.MAX_SAFE_INTEGER) };
    }
    if (header.baseOid !== undefined) {
      const at = pack.offsets.get(header.baseOid);
      if (at === undefined) throw new SwarmError("PACK_INVALID", `stored delta on ${header.baseOid}, outside its pack`);
      const base = this.readAt(pack, at, depth + 1);
      return { type: base.type, content: applyDelta(base.content, data, Number.MAX_SAFE_INTEGER) };
    }
    return { type: PACK_TYPES[header.code]!, content: data };
  }

  private async load(): Promise<StoredPack[]> {
    if (this.packs) return this.packs;
    const dir = joinPath(this.gitdir, "objects", "pack");
    let names: string[];
    try {
      names = await this.fs.promises.readdir(dir);
    } catch {
      names = [];
    }
    const packs: StoredPack[] = [];
    for (const name of names.filter((n) => n.endsWith(".idx")).sort()) {
      const base = joinPath(dir, name.slice(0, -4));
      try {
        const idx = asBytes(await this.fs.promises.readFile(`${base}.idx`));
        const bytes = asBytes(await this.fs.promises.readFile(`${base}.pack`));
        const offsets = readIndex(idx);
        const sorted = [...offsets.values()].sort((x, y) => x - y);
        const next = new Map(sorted.map((offset, i) => [offset, sorted[i + 1] ?? bytes.byteLength - 20]));
        let graph: Map<string, CommitLinks> | undefined;
        try {
          graph = decodeCommitGraph(asBytes(await this.fs.promises.readFile(joinPath(this.gitdir, "jami", "graph", name.slice(0, -4)))));
        } catch {
          graph = undefined; // absent (a pack git wrote) or unreadable: commits are read from the pack instead
        }
        packs.push({ bytes, offsets, next, ...(graph ? { graph } : {}) });
      } catch {
        continue; // a pack being written, or one git is repacking: the next reset sees it
      }
    }
    this.packs = packs;
    return packs;
  }
}

function asBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? new TextEncoder().encode(data) : data;
}

/** oid → offset from a version-2 `.idx`. */
export function readIndex(idx: Uint8Array): Map<string, number> {
  const view = new DataView(idx.buffer, idx.byteOffset, idx.byteLength);
  if (idx.byteLength < 8 + 1024 + 40 || view.getUint32(0) !== 0xff744f63 || view.getUint32(4) !== 2) {
    throw new SwarmError("PACK_INVALID", "not a version-2 pack index");
  }
  const count = view.getUint32(8 + 255 * 4);
  const oids = 8 + 1024;
  const offsets = oids + count * 24;
  const large = offsets + count * 4;
  if (large + 40 > idx.byteLength) throw new SwarmError("PACK_INVALID", "truncated pack index");
  const out = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    let offset = view.getUint32(offsets + i * 4);
    if (offset & 0x80000000) offset = Number(view.getBigUint64(large + (offset & 0x7fffffff) * 8));
    out.set(toHex(idx.subarray(oids + i * 20, oids + i * 20 + 20)), offset);
  }
  return out;
}

/**
 * A pack's commit graph, stored as `.git/jami/graph/pack-<sha>` (our own file, like git's commit-graph but per
 * pack): per commit its id, tree, committer time and parents. Serving a clone then walks the history without
 * inflating every commit. Layout: "JGR1", then records `oid(20) tree(20) time(u32) count(u8) parents(20×count)`.
 */
export function encodeCommitGraph(commits: Iterable<[string, CommitLinks]>): Uint8Array {
  const parts: Uint8Array[] = [new TextEncoder().encode("JGR1")];
  for (const [oid, links] of commits) {
    const record = new Uint8Array(45 + 20 * links.parents.length);
    record.set(fromHex(oid), 0);
    record.set(fromHex(links.tree), 20);
    new DataView(record.buffer).setUint32(40, Math.max(0, Math.min(links.time, 0xffffffff)));
    record[44] = links.parents.length;
    links.parents.forEach((p, i) => record.set(fromHex(p), 45 + 20 * i));
    parts.push(record);
  }
  return Buffer.concat(parts);
}

export function decodeCommitGraph(bytes: Uint8Array): Map<string, CommitLinks> {
  if (bytes.byteLength < 4 || new TextDecoder().decode(bytes.subarray(0, 4)) !== "JGR1") throw new SwarmError("OBJECT_INVALID", "not a commit graph");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<string, CommitLinks>();
  let at = 4;
  while (at + 45 <= bytes.byteLength) {
    const count = bytes[at + 44]!;
    const end = at + 45 + 20 * count;
    if (end > bytes.byteLength) throw new SwarmError("OBJECT_INVALID", "truncated commit graph");
    const parents: string[] = [];
    for (let i = 0; i < count; i++) parents.push(toHex(bytes.subarray(at + 45 + 20 * i, at + 65 + 20 * i)));
    out.set(toHex(bytes.subarray(at, at + 20)), { tree: toHex(bytes.subarray(at + 20, at + 40)), time: view.getUint32(at + 40), parents });
    at = end;
  }
  if (at !== bytes.byteLength) throw new SwarmError("OBJECT_INVALID", "trailing bytes in a commit graph");
  return out;
}
