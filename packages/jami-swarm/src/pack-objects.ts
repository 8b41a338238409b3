import type { ObjectStore, ObjectType } from "./objects.js";
import { DIRECTORY_MODE, TreeReader } from "./tree.js";

/**
 * The objects a fetch of `want` needs when the client has `haves` (git's revision walk, newest first, stopping
 * when only commits the client has are left): commits first, then their new trees and blobs, by id and type.
 */
export async function objectsToSend(store: ObjectStore, want: string, haves: readonly string[]): Promise<Map<string, ObjectType>> {
  const UNINTERESTING = 1;
  const flags = new Map<string, number>();
  const queued = new Map<string, { time: number; parents: string[]; tree: string }>();
  const queue: string[] = [];
  const load = async (oid: string): Promise<void> => {
    if (queued.has(oid)) return;
    queued.set(oid, await store.links(oid));
    queue.push(oid);
  };
  for (const have of haves) {
    flags.set(have, UNINTERESTING);
    await load(have);
  }
  flags.set(want, flags.get(want) ?? 0);
  await load(want);
  const sent: string[] = [];
  const boundaryTrees: string[] = [];
  const done = new Set<string>();
  let interesting = queue.filter((oid) => flags.get(oid) !== UNINTERESTING).length;
  while (interesting > 0 && queue.length > 0) {
    if (queue.length > 1) queue.sort((a, b) => queued.get(a)!.time - queued.get(b)!.time || (a < b ? -1 : 1));
    const oid = queue.pop()!;
    const uninteresting = flags.get(oid) === UNINTERESTING;
    if (!uninteresting) interesting--;
    if (done.has(oid)) continue;
    done.add(oid);
    const entry = queued.get(oid)!;
    if (uninteresting) boundaryTrees.push(entry.tree);
    else sent.push(oid);
    for (const parent of entry.parents) {
      if (done.has(parent)) continue;
      const wasQueued = queued.has(parent);
      const before = flags.get(parent);
      if (uninteresting) flags.set(parent, UNINTERESTING);
      else if (before === undefined) flags.set(parent, 0);
      if (!wasQueued) {
        if (!(await store.has(parent))) continue;
        await load(parent);
        if (flags.get(parent) !== UNINTERESTING) interesting++;
      } else if (before !== UNINTERESTING && flags.get(parent) === UNINTERESTING) interesting--;
    }
  }
  const trees = new TreeReader(store);
  const known = new Set<string>();
  const markKnown = async (tree: string): Promise<void> => {
    if (known.has(tree)) return;
    known.add(tree);
    for (const entry of await trees.entries(tree)) {
      if (entry.mode === DIRECTORY_MODE) await markKnown(entry.oid);
      else known.add(entry.oid);
    }
  };
  for (const tree of boundaryTrees) await markKnown(tree);
  const out = new Map<string, ObjectType>();
  for (const oid of sent) out.set(oid, "commit");
  const addTree = async (tree: string): Promise<void> => {
    if (known.has(tree) || out.has(tree)) return;
    out.set(tree, "tree");
    for (const entry of await trees.entries(tree)) {
      if (entry.mode === DIRECTORY_MODE) await addTree(entry.oid);
      else if (!known.has(entry.oid) && !out.has(entry.oid)) out.set(entry.oid, "blob");
    }
  };
  for (const oid of sent) await addTree(queued.get(oid)!.tree);
  return out;
}
