import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runCli } from "../src/cli/run.js";
import { itWith } from "../../../test-support/tools.js";

const GROUP = "0c739fd6c0bfe5faaa4b26aea49ef73a1f131e51";
const BOB_DEVICE = "5711c5425d683401691410ed6b8ffb4e0daac29a0d139728beda2fabda9050e6";

async function jami(...argv: string[]): Promise<{ status: number; text: string }> {
  let text = "";
  const status = await runCli(argv, { stdout: (t) => (text += t), stderr: () => {} });
  return { status, text };
}

describe("jami swarm", () => {
  let root: string;
  let repo: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "jami-cli-swarm-"));
    execFileSync("tar", ["xzf", resolve(__dirname, "fixtures", `swarm-${GROUP}.alice-copy.tar.gz`), "-C", root]);
    repo = join(root, GROUP);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("verify audits jamid's repository: mode, head, commits, members", async () => {
    const { status, text } = await jami("swarm", "verify", repo);
    expect(status).toBe(0);
    expect(JSON.parse(text)).toEqual({
      conversationId: GROUP,
      mode: 2,
      head: "4bcbbf0fd0cc32aa8ab73529c6b5b1dbf8ff8ee8",
      commits: 4,
      members: { admins: ["33096fc5f7bd08bea12ad2b19d77c18d3c650cac"], members: ["71e552330d6d929b149ea6894d9dd4884ab7c52f"], invited: [], banned: [] },
    });
  });

  it("log prints the messages newest first as JSON lines", async () => {
    const { status, text } = await jami("swarm", "log", repo);
    expect(status).toBe(0);
    const lines = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.id)[0]).toBe("4bcbbf0fd0cc32aa8ab73529c6b5b1dbf8ff8ee8");
    expect(lines[0]).toMatchObject({
      body: { type: "text/plain", body: "group hello from bob" },
      author: "71e552330d6d929b149ea6894d9dd4884ab7c52f",
      device: BOB_DEVICE,
    });
    expect(lines).toHaveLength(4);
  });

  itWith("git")("verify names the first refused commit and its rule, exit 1: unsigned (strict only), then an extra file", async () => {
    const env = { ...process.env, GIT_AUTHOR_NAME: "bob", GIT_AUTHOR_EMAIL: BOB_DEVICE, GIT_COMMITTER_NAME: "bob", GIT_COMMITTER_EMAIL: BOB_DEVICE };
    const git = (...args: string[]) => spawnSync("git", ["-C", repo, ...args], { env, encoding: "utf8" });
    expect(git("commit", "-q", "--allow-empty", "-m", '{"body":"unsigned","type":"text/plain"}').status).toBe(0);
    const unsigned = git("rev-parse", "HEAD").stdout.trim();
    const strict = await jami("swarm", "verify", repo);
    expect(strict.status).toBe(1);
    expect(JSON.parse(strict.text)).toEqual({ error: { code: "COMMIT_REJECTED", message: expect.any(String), commit: unsigned, rule: "signature" } });
    expect((await jami("swarm", "verify", repo, "--lenient")).status).toBe(0); // 13.7 never checked signatures

    writeFileSync(join(repo, "evil.txt"), "x");
    git("add", "evil.txt");
    expect(git("commit", "-q", "-m", '{"body":"evil","type":"text/plain"}').status).toBe(0);
    const evil = git("rev-parse", "HEAD").stdout.trim();
    const lenient = await jami("swarm", "verify", repo, "--lenient");
    expect(lenient.status).toBe(1);
    expect(JSON.parse(lenient.text).error).toMatchObject({ commit: evil, rule: "user-diff" });
  });

  it("usage errors: no directory, unknown subcommand", async () => {
    expect((await jami("swarm", "verify")).status).toBe(2);
    expect((await jami("swarm", "frobnicate", repo)).status).toBe(2);
  });
});
