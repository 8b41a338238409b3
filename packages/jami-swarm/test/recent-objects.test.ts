import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ObjectStore, RECENT_OBJECTS_BUDGET, recentObjectsHeld } from "../src/objects.js";
import { parsePack, writePack } from "../src/pack.js";
import { nodeFs, tempDir } from "./helpers.js";

describe("the recent objects every repository of the process shares", () => {
  it("stay within one byte budget however many repositories write, and what fell out is read back from disk", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const first: Array<{ store: ObjectStore; oid: string; content: Uint8Array }> = [];
      // 40 repositories reading back 600 KiB each in 200 KiB blobs: 24 MiB, over the 16 MiB budget
      for (let r = 0; r < 40; r++) {
        const gitdir = join(dir, `r${r}`);
        mkdirSync(gitdir);
        const store = new ObjectStore(nodeFs, gitdir);
        for (let i = 0; i < 3; i++) {
          const content = new Uint8Array(randomBytes(200 << 10));
          const oid = await store.write("blob", content);
          await store.read(oid);
          if (i === 0) first.push({ store, oid, content });
        }
      }
      expect(recentObjectsHeld().bytes).toBeLessThanOrEqual(RECENT_OBJECTS_BUDGET);
      expect(recentObjectsHeld().bytes).toBeGreaterThan(RECENT_OBJECTS_BUDGET / 2);
      const oldest = first[0]!;
      expect(await oldest.store.has(oldest.oid)).toBe(true);
      expect((await oldest.store.read(oldest.oid)).content).toEqual(oldest.content);
    } finally {
      cleanup();
    }
  });

  it("what a repository writes is known to be there but not kept until it is read (an idle conversation holds none of its last writes)", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const store = new ObjectStore(nodeFs, dir);
      const content = new Uint8Array(randomBytes(100 << 10));
      const held = recentObjectsHeld();
      const oid = await store.write("blob", content);
      expect(recentObjectsHeld()).toEqual(held);
      expect(await store.has(oid)).toBe(true);
      expect((await store.read(oid)).content).toEqual(content);
      // taken in (whatever older object the budget then lets go)
      expect(recentObjectsHeld()).not.toEqual(held);
    } finally {
      cleanup();
    }
  });

  it("an object read from a loose file or a pack holds memory of its own size, not zlib's block (kept, it would keep the block)", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const store = new ObjectStore(nodeFs, dir);
      const small = new TextEncoder().encode("a small commit-sized object ".repeat(30));
      const oid = await store.write("blob", small);
      const loose = (await store.read(oid)).content;
      expect(loose).toEqual(small);
      expect(loose.buffer.byteLength).toBe(small.byteLength);
      const packed = parsePack(writePack([{ type: "blob", content: small }])).objects.get(oid)!.content;
      expect(packed).toEqual(small);
      expect(packed.buffer.byteLength).toBe(small.byteLength);
    } finally {
      cleanup();
    }
  });

  it("a repository erased and made again does not believe it holds what the erased one wrote", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const gitdir = join(dir, "conv");
      mkdirSync(gitdir);
      const oid = await new ObjectStore(nodeFs, gitdir).write("blob", new TextEncoder().encode("hello"));
      rmSync(gitdir, { recursive: true });
      mkdirSync(gitdir);
      const again = new ObjectStore(nodeFs, gitdir);
      expect(await again.has(oid)).toBe(false);
      await expect(again.read(oid)).rejects.toMatchObject({ code: "OBJECT_NOT_FOUND" });
    } finally {
      cleanup();
    }
  });

  it("an object another repository read is no answer for one that lacks it (a hostile tree naming a blob we hold elsewhere)", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const [ours, theirs] = [join(dir, "ours"), join(dir, "theirs")];
      mkdirSync(ours);
      mkdirSync(theirs);
      const holder = new ObjectStore(nodeFs, ours);
      const oid = await holder.write("blob", new TextEncoder().encode("a certificate held in one conversation"));
      await holder.read(oid); // now among the shared recent objects
      const lacking = new ObjectStore(nodeFs, theirs);
      expect(await lacking.has(oid)).toBe(false);
      await expect(lacking.read(oid)).rejects.toMatchObject({ code: "OBJECT_NOT_FOUND" });
    } finally {
      cleanup();
    }
  });
});
