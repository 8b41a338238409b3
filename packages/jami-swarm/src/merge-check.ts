import { parseCommit, type CommitObject } from "./commit-object.js";
import { readTyped, type ObjectReader } from "./objects.js";
import { EMPTY_TREE, type TreeReader } from "./tree.js";

/** Every commit reachable from `start` (itself included), with its parents and time. */
async function ancestry(objects: ObjectReader, start: string): Promise<Map<string, { parents: string[]; time: number }>> {
  const seen = new Map<string, { parents: string[]; time: number }>();
  const stack = [start];
  while (stack.length > 0) {
    const oid = stack.pop()!;
    if (seen.has(oid)) continue;
    const commit = parseCommit(await readTyped(objects, oid, "commit"));
    seen.set(oid, { parents: commit.parents, time: commit.committer.timestamp });
    for (const parent of commit.parents) if (!seen.has(parent)) stack.push(parent);
  }
  return seen;
}

/**
 * The best common ancestor of two commits (git's merge base for two heads): a common ancestor no other common
 * ancestor descends from; the newest when several. Undefined when the histories are unrelated. Commit times
 * are not trusted for correctness (they only order candidates).
 */
export async function mergeBase(objects: ObjectReader, a: string, b: string): Promise<string | undefined> {
  if (a === b) return a;
  const fromA = await ancestry(objects, a);
  if (fromA.has(b)) return b;
  const fromB = await ancestry(objects, b);
  if (fromB.has(a)) return a;
  const common = [...fromA.keys()].filter((oid) => fromB.has(oid));
  const covered = new Set(common.flatMap((oid) => fromA.get(oid)!.parents));
  const best = common.filter((oid) => !covered.has(oid));
  best.sort((x, y) => fromA.get(y)!.time - fromA.get(x)!.time || (x < y ? -1 : 1));
  return best[0];
}

/**
 * What jamid does not check but a merge must satisfy: its tree only combines its two parents. Every path takes
 * the side that changed it since the merge base; both sides changing one path is only allowed for `profile.vcf`
 * (jamid resolves that conflict), and then one side's version must be kept. Returns the problem, or undefined.
 */
export async function checkMerge(objects: ObjectReader, trees: TreeReader, merge: CommitObject): Promise<string | undefined> {
  const [first, second] = merge.parents as [string, string];
  const base = await mergeBase(objects, first, second);
  if (!base) return "the merged histories share no commit";
  const treeOf = async (oid: string): Promise<string> => parseCommit(await readTyped(objects, oid, "commit")).tree;
  const [t1, t2, tb] = [await treeOf(first), await treeOf(second), base ? await treeOf(base) : EMPTY_TREE];
  const value = async (tree: string, path: string): Promise<string | undefined> => (await trees.lookup(tree, path))?.oid;
  for (const [mine, other] of [
    [t1, t2],
    [t2, t1],
  ] as const) {
    for (const change of await trees.diff(mine, merge.tree)) {
      const path = change.path;
      const [vMine, vOther, vBase, vMerge] = [await value(mine, path), await value(other, path), await value(tb, path), change.newOid];
      if (vOther !== vMerge) return `the merge writes ${path}, which neither parent has`;
      if (vMine !== vBase && path !== "profile.vcf") return `the merge drops one side's change to ${path}`;
    }
  }
  return undefined;
}
