import { parseCommit, type CommitObject } from "./commit-object.js";
import { SwarmError } from "./errors.js";
import { readTyped, type ObjectReader } from "./objects.js";

export interface WalkedCommit {
  oid: string;
  commit: CommitObject;
  body: Uint8Array;
}

/**
 * Commits reachable from `start` in jamid's display order (libgit2 `GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME`, newest
 * first): a commit comes after every child of it in the walk, and among those ready the newest goes first.
 * `stopAt(oid)` excludes commits (and their ancestors through them) the caller already has.
 */
export async function walkNewestFirst(
  objects: ObjectReader,
  start: string,
  stopAt: (oid: string) => boolean | Promise<boolean> = () => false,
): Promise<WalkedCommit[]> {
  const found = new Map<string, WalkedCommit>();
  const childCount = new Map<string, number>();
  const stack = [start];
  if (await stopAt(start)) return [];
  while (stack.length > 0) {
    const oid = stack.pop()!;
    if (found.has(oid)) continue;
    let body: Uint8Array;
    try {
      body = await readTyped(objects, oid, "commit");
    } catch (cause) {
      throw new SwarmError("OBJECT_NOT_FOUND", `commit ${oid} is missing from the history`, { cause });
    }
    const commit = parseCommit(body);
    found.set(oid, { oid, commit, body });
    for (const parent of commit.parents) {
      if (await stopAt(parent)) continue;
      childCount.set(parent, (childCount.get(parent) ?? 0) + 1);
      if (!found.has(parent)) stack.push(parent);
    }
  }
  const ready: WalkedCommit[] = [found.get(start)!];
  const out: WalkedCommit[] = [];
  const byTime = (a: WalkedCommit, b: WalkedCommit): number => a.commit.committer.timestamp - b.commit.committer.timestamp || (a.oid < b.oid ? -1 : 1);
  while (ready.length > 0) {
    ready.sort(byTime);
    const next = ready.pop()!;
    out.push(next);
    for (const parent of next.commit.parents) {
      const left = (childCount.get(parent) ?? 0) - 1;
      childCount.set(parent, left);
      if (left === 0 && found.has(parent)) ready.push(found.get(parent)!);
    }
  }
  return out;
}
