import { toHex, fromHex } from "jami-core";
import { SwarmError } from "./errors.js";
import { objectId, readTyped, type ObjectReader, type ObjectStore } from "./objects.js";

export interface TreeEntry {
  /** `100644` for files, `40000` for directories (git's own spelling). */
  mode: string;
  name: string;
  oid: string;
}

export const DIRECTORY_MODE = "40000";
export const FILE_MODE = "100644";
export const EMPTY_TREE = objectId("tree", new Uint8Array(0));
const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

export function parseTree(content: Uint8Array): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let at = 0;
  while (at < content.length) {
    const space = content.indexOf(0x20, at);
    const nul = content.indexOf(0, space + 1);
    if (space < 0 || nul < 0 || nul + 21 > content.length) throw new SwarmError("OBJECT_INVALID", "truncated tree entry");
    let mode: string;
    let name: string;
    try {
      mode = decoder.decode(content.subarray(at, space));
      name = decoder.decode(content.subarray(space + 1, nul));
    } catch (cause) {
      throw new SwarmError("OBJECT_INVALID", "tree entry is not UTF-8", { cause });
    }
    if (!/^[0-7]{5,6}$/.test(mode) || name === "" || name.includes("/") || name === "." || name === "..") {
      throw new SwarmError("OBJECT_INVALID", `malformed tree entry "${mode} ${name}"`);
    }
    entries.push({ mode, name, oid: toHex(content.subarray(nul + 1, nul + 21)) });
    at = nul + 21;
  }
  return entries;
}

const sortKey = (e: TreeEntry): string => (e.mode === DIRECTORY_MODE ? e.name + "/" : e.name);

/** Git's tree order: byte order of the names, a directory compared as if its name ended in `/`. */
export function serializeTree(entries: readonly TreeEntry[]): Uint8Array {
  const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(sortKey(a)), Buffer.from(sortKey(b))));
  const parts: Uint8Array[] = [];
  for (const entry of sorted) {
    parts.push(encoder.encode(`${entry.mode} ${entry.name}\0`), fromHex(entry.oid));
  }
  return Buffer.concat(parts);
}

/** Reads trees by path with a small memo: a conversation's trees are tiny and shared by most commits. */
export class TreeReader {
  private readonly memo = new Map<string, TreeEntry[]>();
  private used = false;

  constructor(readonly objects: ObjectReader) {}

  /** Empties the memo if no tree was read since the last call. */
  releaseIdle(): void {
    if (!this.used) this.memo.clear();
    this.used = false;
  }

  async entries(treeOid: string): Promise<TreeEntry[]> {
    this.used = true;
    let entries = this.memo.get(treeOid);
    if (!entries) {
      entries = treeOid === EMPTY_TREE ? [] : parseTree(await readTyped(this.objects, treeOid, "tree"));
      if (this.memo.size > 2048) this.memo.clear();
      this.memo.set(treeOid, entries);
    }
    return entries;
  }

  /** The entry at `path` (`a/b/c`) in `treeOid`, or undefined. */
  async lookup(treeOid: string, path: string): Promise<TreeEntry | undefined> {
    const names = path.split("/");
    let current = treeOid;
    for (let i = 0; i < names.length; i++) {
      const entry = (await this.entries(current)).find((e) => e.name === names[i]);
      if (!entry) return undefined;
      if (i === names.length - 1) return entry;
      if (entry.mode !== DIRECTORY_MODE) return undefined;
      current = entry.oid;
    }
    return undefined;
  }

  async blob(treeOid: string, path: string): Promise<Uint8Array | undefined> {
    const entry = await this.lookup(treeOid, path);
    if (!entry || entry.mode === DIRECTORY_MODE) return undefined;
    return readTyped(this.objects, entry.oid, "blob");
  }

  /** Names in the directory `path` (files and directories), or [] when absent. */
  async list(treeOid: string, path: string): Promise<TreeEntry[]> {
    if (path === "") return this.entries(treeOid);
    const entry = await this.lookup(treeOid, path);
    return entry && entry.mode === DIRECTORY_MODE ? this.entries(entry.oid) : [];
  }

  /** Every file path (not directories) changed between two trees, with its status. */
  async diff(oldTree: string, newTree: string, prefix = ""): Promise<TreeChange[]> {
    if (oldTree === newTree) return [];
    const before = new Map((await this.entries(oldTree)).map((e) => [e.name, e]));
    const after = new Map((await this.entries(newTree)).map((e) => [e.name, e]));
    const changes: TreeChange[] = [];
    for (const name of new Set([...before.keys(), ...after.keys()])) {
      const a = before.get(name);
      const b = after.get(name);
      if (a && b && a.oid === b.oid && a.mode === b.mode) continue;
      const path = prefix + name;
      const aDir = a?.mode === DIRECTORY_MODE ? a.oid : undefined;
      const bDir = b?.mode === DIRECTORY_MODE ? b.oid : undefined;
      if (aDir || bDir) changes.push(...(await this.diff(aDir ?? EMPTY_TREE, bDir ?? EMPTY_TREE, path + "/")));
      const aFile = a && !aDir ? a : undefined;
      const bFile = b && !bDir ? b : undefined;
      if (aFile && bFile) changes.push({ path, status: "modified", oldOid: aFile.oid, newOid: bFile.oid });
      else if (aFile) changes.push({ path, status: "deleted", oldOid: aFile.oid });
      else if (bFile) changes.push({ path, status: "added", newOid: bFile.oid });
    }
    return changes.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  }

  /** Every file under `treeOid` as path → blob id. */
  async files(treeOid: string, prefix = ""): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const entry of await this.entries(treeOid)) {
      if (entry.mode === DIRECTORY_MODE) for (const [p, o] of await this.files(entry.oid, prefix + entry.name + "/")) out.set(p, o);
      else out.set(prefix + entry.name, entry.oid);
    }
    return out;
  }
}

export interface TreeChange {
  path: string;
  status: "added" | "deleted" | "modified";
  oldOid?: string;
  newOid?: string;
}

/**
 * A new tree: `treeOid` with `changes` applied (path → file content, or `null` to delete). Directories left empty
 * disappear, as in git. New blobs and trees are written to `store`.
 */
export async function editTree(store: ObjectStore, reader: TreeReader, treeOid: string, changes: ReadonlyMap<string, Uint8Array | null>): Promise<string> {
  if (changes.size === 0) return treeOid;
  const byHead = new Map<string, Map<string, Uint8Array | null>>();
  const here = new Map<string, Uint8Array | null>();
  for (const [path, content] of changes) {
    const slash = path.indexOf("/");
    if (slash < 0) here.set(path, content);
    else {
      const head = path.slice(0, slash);
      if (!byHead.has(head)) byHead.set(head, new Map());
      byHead.get(head)!.set(path.slice(slash + 1), content);
    }
  }
  const entries = new Map((await reader.entries(treeOid)).map((e) => [e.name, e]));
  for (const [name, content] of here) {
    if (content === null) entries.delete(name);
    else entries.set(name, { mode: FILE_MODE, name, oid: await store.write("blob", content) });
  }
  for (const [name, sub] of byHead) {
    const existing = entries.get(name);
    const base = existing?.mode === DIRECTORY_MODE ? existing.oid : EMPTY_TREE;
    const oid = await editTree(store, reader, base, sub);
    if (oid === EMPTY_TREE) entries.delete(name);
    else entries.set(name, { mode: DIRECTORY_MODE, name, oid });
  }
  if (entries.size === 0) return EMPTY_TREE;
  return store.write("tree", serializeTree([...entries.values()]));
}
