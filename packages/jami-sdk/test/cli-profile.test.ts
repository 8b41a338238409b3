import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalNetwork, type LocalNetwork } from "jami-sdk";
import { jami } from "./cli-helpers.js";

// accounts start one after the other: a generous budget, not a measure of speed
jest.setTimeout(180_000);

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 9, 9, 9]);

describe("jami profile / jami conversation profile", () => {
  let net: LocalNetwork;
  let dir: string;
  let work: string;
  beforeAll(async () => {
    net = await createLocalNetwork({ accounts: 0, bits: 2048 });
    work = mkdtempSync(join(tmpdir(), "jami-cli-profile-"));
    dir = join(work, "me");
    await jami(["account", "create", "--dir", dir, "--name", "Me"]);
  });
  afterAll(() => net.close());

  it("the account's profile: the name given at creation, then set, with and without an avatar", async () => {
    expect((await jami(["profile", "show", "--dir", dir])).lines[0]).toMatchObject({ displayName: "Me", avatar: null, members: [] });
    const avatar = join(work, "me.png");
    writeFileSync(avatar, PNG);
    const set = await jami(["profile", "set", "--dir", dir, "--name", "Me Again", "--avatar", avatar]);
    expect(set.lines[0]).toMatchObject({ displayName: "Me Again", avatar: { bytes: PNG.length, base64: PNG.toString("base64") } });
    expect(readFileSync(join(dir, "profile.vcf"), "utf8")).toContain(`PHOTO;ENCODING=BASE64;TYPE=PNG:${PNG.toString("base64")}`);
    // what is not given is kept
    expect((await jami(["profile", "set", "--dir", dir, "--no-avatar"])).lines[0]).toMatchObject({ displayName: "Me Again", avatar: null });
    const usage = await jami(["profile", "set", "--dir", dir]);
    expect(usage.status).toBe(2);
  });

  it("a conversation's profile: created with a title, changed by its admin", async () => {
    const created = await jami(["conversation", "create", "--dir", dir, "--title", "First"]);
    const id = created.lines[0].conversationId as string;
    expect((await jami(["conversation", "profile", id, "--dir", dir])).lines[0]).toMatchObject({ conversationId: id, title: "First", mode: 2 });
    const set = await jami([
      "conversation",
      "set-profile",
      id,
      "--dir",
      dir,
      "--bootstrap",
      net.bootstrap[0]!,
      "--bind",
      "127.0.0.1",
      "--description",
      "about",
    ]);
    expect(set.status).toBe(0);
    expect(set.lines[0].commit).toMatch(/^[0-9a-f]{40}$/);
    expect((await jami(["conversation", "profile", id, "--dir", dir])).lines[0]).toMatchObject({ title: "First", description: "about", mode: 2 });
  });
});
