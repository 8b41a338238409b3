import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DeviceIdentity } from "jami-identity";
import { SwarmRepository } from "../src/index.js";
import { decodeCommitGraph, encodeCommitGraph } from "../src/stored-packs.js";
import { fetchOver, newAccount, nodeFs, tempDir } from "./helpers.js";

describe("the commit graph kept beside each fetched pack", () => {
  let tmp: ReturnType<typeof tempDir>;
  let alice: DeviceIdentity, bob: DeviceIdentity;
  beforeAll(async () => {
    [alice, bob] = [(await newAccount()).devices[0]!, (await newAccount()).devices[0]!];
  });
  beforeEach(() => (tmp = tempDir()));
  afterEach(() => tmp.cleanup());

  it("encodes and decodes every commit's tree, time and parents", () => {
    const links = new Map([
      ["a".repeat(40), { tree: "b".repeat(40), time: 1795552284, parents: [] }],
      ["c".repeat(40), { tree: "b".repeat(40), time: 1795552285, parents: ["a".repeat(40), "d".repeat(40)] }],
    ]);
    expect(decodeCommitGraph(encodeCommitGraph(links))).toEqual(links);
    expect(() => decodeCommitGraph(new Uint8Array([1, 2, 3, 4]))).toThrow(expect.objectContaining({ code: "OBJECT_INVALID" }));
  });

  it("a fetch writes it under .git/jami/graph (not beside the pack, where git calls it garbage); a broken one is ignored", async () => {
    const a = await SwarmRepository.create(join(tmp.dir, "a"), { mode: 2 }, { fs: nodeFs, author: { device: alice } });
    await a.addMember(bob.certificate.issuer.uid!);
    for (let i = 0; i < 5; i++) await a.sendText(`m${i}`);
    const first = await fetchOver(a, undefined);
    const b = await SwarmRepository.clone(
      join(tmp.dir, "b"),
      { conversationId: a.conversationId, remoteDevice: "a".repeat(64), head: first.head, pack: first.pack! },
      { fs: nodeFs },
    );
    const graphDir = join(b.gitdir, "jami", "graph");
    const [file] = readdirSync(graphDir);
    expect(readdirSync(join(b.gitdir, "objects", "pack")).sort()).toEqual([`${file}.idx`, `${file}.pack`]);
    const graph = decodeCommitGraph(readFileSync(join(graphDir, file!)));
    expect(graph.size).toBe(7);
    expect(graph.get(await a.head())).toEqual({
      tree: (await a.readCommit(await a.head())).tree,
      time: (await a.readCommit(await a.head())).committer.timestamp,
      parents: (await a.readCommit(await a.head())).parents,
    });
    // a reopened repository serves from it; with the file broken it reads the commits instead, same result
    const served = await fetchOver(await SwarmRepository.open(b.dir, { fs: nodeFs }), undefined);
    writeFileSync(join(graphDir, file!), "JGR1 broken");
    const fallback = await fetchOver(await SwarmRepository.open(b.dir, { fs: nodeFs }), undefined);
    expect(fallback.pack).toEqual(served.pack);
    expect(served.head).toBe(await a.head());
  });
});
