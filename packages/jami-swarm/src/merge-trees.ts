import { SwarmError } from "./errors.js";
import type { ObjectStore } from "./objects.js";
import { editTree, type TreeReader } from "./tree.js";

/**
 * A three-way merge of two trees, as libgit2 does it for a conversation: each path takes the side that changed
 * it since `baseTree`; a path both sides changed differently is a conflict, resolved only for `profile.vcf`
 * (jamid: the side whose head commit id is greater wins). Any other conflict throws `MERGE_CONFLICT`.
 */
export async function mergeTrees(
  store: ObjectStore,
  trees: TreeReader,
  trees3: { base: string; ours: string; theirs: string },
  heads: { ours: string; theirs: string },
): Promise<string> {
  const { base, ours, theirs } = trees3;
  if (ours === theirs || theirs === base) return ours;
  if (ours === base) return theirs;
  const changes = new Map<string, Uint8Array | null>();
  for (const change of await trees.diff(base, theirs)) {
    const mine = (await trees.lookup(ours, change.path))?.oid;
    const baseValue = change.oldOid;
    if (mine === change.newOid) continue;
    if (mine !== baseValue) {
      if (change.path !== "profile.vcf") throw new SwarmError("MERGE_CONFLICT", `both sides changed ${change.path}`);
      if (heads.theirs < heads.ours) continue;
    }
    changes.set(change.path, change.newOid ? await readBlob(store, change.newOid) : null);
  }
  return editTree(store, trees, ours, changes);
}

async function readBlob(store: ObjectStore, oid: string): Promise<Uint8Array> {
  return (await store.read(oid)).content;
}
