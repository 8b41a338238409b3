import { randomBytes } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { commitLinks, parseCommit, unsignedCommitBytes } from "../src/commit-object.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const hex = (): string => randomBytes(20).toString("hex");

/** Live heap after two full collections (the second takes what only weak references held). */
function liveHeap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe("ids read from a commit", () => {
  it("hold none of the commit's text: 2,000 kept trees and parents cost their ids, not 2,000 commits", () => {
    const COMMITS = 2000;
    // a long author and message: each commit is ~6 KB of text, ~12 MB for all of them were it kept
    const person = { name: "n".repeat(2000), email: "device", timestamp: 1700000000, timezone: "+0000" };
    const bodies = Array.from({ length: COMMITS }, () =>
      unsignedCommitBytes({ tree: hex(), parents: [hex()], author: person, committer: person, message: "m".repeat(2000) }),
    );
    const before = liveHeap();
    const kept: string[] = [];
    for (const body of bodies) {
      const commit = parseCommit(body);
      const links = commitLinks(body);
      kept.push(commit.tree, ...commit.parents, links.tree, ...links.parents);
    }
    const grown = liveHeap() - before;
    // 8,000 ids of 40 characters are ~0.5 MB with the array; the texts they would keep are ~16 MB (UTF-16 headers)
    expect(kept).toHaveLength(4 * COMMITS);
    expect(grown).toBeLessThan(2 << 20);
  });
});
