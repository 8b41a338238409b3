import * as fs from "node:fs";

/**
 * node:fs in isomorphic-git's shape, counting the files read whose path contains `part` (e.g. `/objects/pack/`:
 * whether a repository read its stored history again or answered from memory).
 */
export function countingFs<T>(part: string): { fs: T; reads: () => number } {
  let reads = 0;
  const promises = {
    ...fs.promises,
    readFile: (path: string, ...rest: unknown[]) => {
      if (String(path).includes(part)) reads++;
      return (fs.promises.readFile as (...a: unknown[]) => Promise<unknown>)(path, ...rest);
    },
  };
  return { fs: { ...fs, promises } as unknown as T, reads: () => reads };
}
