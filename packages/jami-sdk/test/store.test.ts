import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JsonDirectoryStore, JsonFile } from "../src/account/store.js";

describe("JsonFile", () => {
  it("150 concurrent saves of one file all succeed; the last one started is what stays, no temporary file left", async () => {
    const dir = mkdtempSync(join(tmpdir(), "jami-store-"));
    const file = new JsonFile<{ n: number }>(join(dir, "doc.json"));
    const other = new JsonFile<{ n: number }>(join(dir, "doc.json"));
    await Promise.all(Array.from({ length: 150 }, (_, n) => (n % 2 ? other : file).save({ n })));
    await file.save({ n: 150 });
    expect(JSON.parse(readFileSync(join(dir, "doc.json"), "utf8"))).toEqual({ n: 150 });
    expect(readdirSync(dir)).toEqual(["doc.json"]);
    expect(await file.load()).toEqual({ n: 150 });
  });
});

describe("JsonDirectoryStore", () => {
  it("keeps every document inside its directory: a key naming a path elsewhere is refused, nothing is written", async () => {
    const root = mkdtempSync(join(tmpdir(), "jami-store-"));
    const store = new JsonDirectoryStore(join(root, "account"));
    await store.write("contacts", { n: 1 });
    expect(await store.read("contacts")).toEqual({ n: 1 });
    for (const key of ["../outside", "/etc/x", "a/b", ".hidden", ""]) {
      expect(() => store.write(key, { n: 2 })).toThrow(TypeError);
      expect(() => store.read(key)).toThrow(TypeError);
    }
    expect(readdirSync(root)).toEqual(["account"]);
    expect(readdirSync(join(root, "account"))).toEqual(["contacts.json"]);
  });
});
