import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CertificateCache } from "../src/members.js";
import type { ObjectReader, RawObject } from "../src/objects.js";

/** An object store holding `blobs` (content-addressed as git does). */
function store(...blobs: Uint8Array[]): { reader: ObjectReader; oids: string[] } {
  const objects = new Map<string, RawObject>();
  const oids = blobs.map((content) => {
    const oid = createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
    objects.set(oid, { type: "blob", content });
    return oid;
  });
  return {
    reader: {
      read: async (oid) => {
        const o = objects.get(oid);
        if (!o) throw Object.assign(new Error("missing"), { code: "OBJECT_NOT_FOUND" });
        return o;
      },
      has: async (oid) => objects.has(oid),
    },
    oids,
  };
}

describe("parsed certificates, shared by the repositories of a process", () => {
  const pem = new Uint8Array(readFileSync(join(__dirname, "vectors", "bob.device-chain.pem")));

  it("a certificate file held by two repositories is parsed once; a repository that lacks the blob gets no answer from the other's", async () => {
    const first = store(pem);
    const second = store(pem);
    const [oid] = first.oids;
    const a = await new CertificateCache(first.reader).chain(oid!);
    expect(a.length).toBeGreaterThan(0);
    // the same objects: parsed once, held once
    expect(await new CertificateCache(second.reader).chain(oid!)).toBe(a);
    // a tree may name a blob its repository does not hold: the shared entry is not used for it
    await expect(new CertificateCache(store().reader).chain(oid!)).rejects.toMatchObject({ code: "OBJECT_NOT_FOUND" });
  });
});
