import { parseCommit, type CommitObject } from "./commit-object.js";
import { readTyped, type ObjectReader } from "./objects.js";
import { EMPTY_TREE, type TreeReader } from "./tree.js";

/**
 * The best common ancestor of two commits (git's merge base for two heads): walk both sides newest first and
 * return the first commit reached from both. Undefined when the histories are unrelated.
 */
export async function mergeBase(objects: ObjectReader, a: string, b: string): Promise<string | undefined> {
  if (a === b) return a;
  const flags = new Map<string, number>();
  const times = new Map<string, number>();
  const queue: string[] = [];
  const read = async (oid: string): Promise<CommitObject> => parseCommit(await readTyped(objects, oid, "commit"));
  const push = async (oid: string, flag: number): Promise<void> => {
    const had = flags.get(oid) ?? 0;
    if ((had & flag) === flag) return;
    flags.set(oid, had | flag);
    if (!times.has(oid)) {
      times.set(oid, (await read(oid)).committer.timestamp);
      queue.push(oid);
    }
  };
  await push(a, 1);
  await push(b, 2);
  while (queue.length > 0) {
    // newest first; ties broken by id so the walk is deterministic
    queue.sort((x, y) => times.get(x)! - times.get(y)! || (x < y ? -1 : 1));
    const oid = queue.pop()!;
    const flag = flags.get(oid)!;
    if (flag === 3) return oid;
    for (const parent of (await read(oid)).parents) await push(parent, flag);
  }
  return undefined;
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
