import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JsonFile } from "../src/account/store.js";

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
