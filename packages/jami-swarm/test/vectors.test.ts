import { readFileSync } from "node:fs";
import { join } from "node:path";
import { objectId } from "../src/objects.js";
import { SwarmRepository, verifyConversation, signedPayload, parseCommit } from "../src/index.js";
import { itWith } from "../../../test-support/tools.js";
import { GROUP, ONE_TO_ONE, gitCli, ids, nodeFs, tempDir, unpackVector, vectorDevice } from "./helpers.js";

describe("jamid 13.7's repositories (vectors)", () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir()));
  afterEach(() => tmp.cleanup());

  for (const conversationId of [ONE_TO_ONE, GROUP]) {
    const expected = ids.conversations[conversationId]!;

    it(`${conversationId.slice(0, 8)}: opens, verifies strictly (signatures, chains) and lists members`, async () => {
      const dir = unpackVector(conversationId, tmp.dir);
      const result = await verifyConversation(dir, { fs: nodeFs });
      expect(result.conversationId).toBe(conversationId);
      expect(result.mode).toBe(expected.mode);
      expect(result.commits).toBe(Object.keys(expected.commits_newest_first).length);
      expect(result.members.admins).toEqual([ids.alice.jamiId]);
      expect(result.members.members).toEqual([ids.bob.jamiId]);
      expect(result.members.invited).toEqual([]);
    });

    it(`${conversationId.slice(0, 8)}: shows the messages newest first, typed, as jamid's message map`, async () => {
      const repo = await SwarmRepository.open(unpackVector(conversationId, tmp.dir), { fs: nodeFs });
      const messages = await repo.load();
      expect(messages.map((m) => m.id)).toEqual(Object.keys(expected.commits_newest_first));
      const initial = messages[messages.length - 1]!;
      expect(initial.body).toMatchObject({ type: "initial", mode: expected.mode });
      expect(initial.fields.mode).toBe(String(expected.mode));
      expect(initial.author).toBe(ids.alice.jamiId);
      const join = messages[messages.length - 2]!;
      expect(join.body).toEqual({ type: "member", action: expected.mode === 0 ? "join" : "add", uri: ids.bob.jamiId });
      for (let i = 0; i + 1 < messages.length; i++) expect(messages[i]!.linearizedParent).toBe(messages[i + 1]!.id);
      const paged: string[] = [];
      for await (const m of repo.messages(2)) paged.push(m.id);
      expect(paged).toEqual(messages.map((m) => m.id));
      expect((await repo.load({ from: messages[1]!.id, n: 2 })).map((m) => m.id)).toEqual(messages.slice(1, 3).map((m) => m.id));
    });
  }

  itWith("git")("every commit's id and signed bytes match what git and the recipe of §3.2 say", async () => {
    const dir = unpackVector(ONE_TO_ONE, tmp.dir);
    for (const oid of Object.keys(ids.conversations[ONE_TO_ONE]!.commits_newest_first)) {
      const raw = Buffer.from(gitCli(dir, "cat-file", "commit", oid), "utf8");
      expect(objectId("commit", raw)).toBe(oid);
      const signed = signedPayload(raw)!;
      expect(Buffer.from(signed.signature, "base64")).toHaveLength(512);
      expect(Buffer.from(signed.payload).toString()).not.toContain("signature ");
      const commit = parseCommit(raw);
      expect(commit.author.email).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it("our certificate files are byte-identical to the ones jamid wrote", async () => {
    const dir = unpackVector(ONE_TO_ONE, tmp.dir);
    const alice = vectorDevice("alice");
    const deviceFile = readFileSync(join(dir, `devices/${alice.certificate.deviceId}.crt`), "utf8");
    expect(alice.certificate.toPem()).toBe(deviceFile);
    const adminFile = readFileSync(join(dir, `admins/${ids.alice.jamiId}.crt`), "utf8");
    expect(alice.issuers.map((c) => c.toPem()).join("")).toBe(adminFile);
  });
});
