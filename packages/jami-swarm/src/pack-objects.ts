import { parseCommit } from "./commit-object.js";
import { readTyped, type ObjectReader, type RawObject } from "./objects.js";
import { DIRECTORY_MODE, TreeReader } from "./tree.js";

/**
 * The objects a fetch of `want` needs when the client has `haves` (git's revision walk, newest first, stopping
 * when only commits the client has are left), commits first then their new trees and blobs.
 */
export async function objectsToSend(objects: ObjectReader, want: string, haves: readonly string[]): Promise<Map<string, RawObject>> {
  const UNINTERESTING = 1;
  const flags = new Map<string, number>();
  const queued = new Map<string, { time: number; parents: string[]; tree: string; raw: RawObject }>();
  const queue: string[] = [];
  const load = async (oid: string): Promise<void> => {
    if (queued.has(oid)) return;
    const raw = await objects.read(oid);
    const commit = parseCommit(raw.content);
    queued.set(oid, { time: commit.committer.timestamp, parents: commit.parents, tree: commit.tree, raw });
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
  while (queue.some((oid) => !done.has(oid) && flags.get(oid) !== UNINTERESTING)) {
    queue.sort((a, b) => queued.get(a)!.time - queued.get(b)!.time || (a < b ? -1 : 1));
    const oid = queue.pop()!;
    if (done.has(oid)) continue;
    done.add(oid);
    const entry = queued.get(oid)!;
    const uninteresting = flags.get(oid) === UNINTERESTING;
    if (uninteresting) boundaryTrees.push(entry.tree);
    else sent.push(oid);
    for (const parent of entry.parents) {
      if (uninteresting) flags.set(parent, UNINTERESTING);
      else if (!flags.has(parent)) flags.set(parent, 0);
      if (!done.has(parent) && (await objects.has(parent))) await load(parent);
    }
  }
  const trees = new TreeReader(objects);
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
  const out = new Map<string, RawObject>();
  for (const oid of sent) out.set(oid, queued.get(oid)!.raw);
  const addTree = async (tree: string): Promise<void> => {
    if (known.has(tree) || out.has(tree)) return;
    out.set(tree, { type: "tree", content: await readTyped(objects, tree, "tree") });
    for (const entry of await trees.entries(tree)) {
      if (entry.mode === DIRECTORY_MODE) await addTree(entry.oid);
      else if (!known.has(entry.oid) && !out.has(entry.oid)) out.set(entry.oid, await objects.read(entry.oid));
    }
  };
  for (const oid of sent) await addTree(queued.get(oid)!.tree);
  return out;
}
