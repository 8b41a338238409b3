import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runCli } from "../src/cli/run.js";

const REPO = resolve(__dirname, "../../..");
/** alice.test-password.gz: an archive jamid 13.7 exported (from the jami vectors, see jami-identity/test/vectors). */
const VECTORS = resolve(__dirname, "fixtures");
const ALICE = "33096fc5f7bd08bea12ad2b19d77c18d3c650cac";
const tmp = () => mkdtempSync(join(tmpdir(), "jami-cli-"));

async function jami(...argv: string[]): Promise<{ status: number; json: any; text: string }> {
  let text = "";
  const status = await runCli(argv, { stdout: (t) => (text += t), stderr: () => {} });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status, json, text };
}

describe("jami account", () => {
  it("inspect reads jamid's encrypted archive", async () => {
    const { status, json } = await jami("account", "inspect", "--archive", join(VECTORS, "alice.test-password.gz"), "--password", "test-password");
    expect(status).toBe(0);
    expect(json).toMatchObject({
      jamiId: ALICE,
      displayName: "alice",
      deviceIds: ["80cda52e8d537bde629b907df80e5a63d02af0f474324bc15233f9d4a85ca02f"],
      contactsCount: 1,
      conversationsCount: 1,
      encrypted: true,
    });
  });

  it("create → export → import → inspect: one account, two devices", async () => {
    const root = tmp();
    const created = await jami("account", "create", "--dir", join(root, "a"), "--password", "pw", "--name", "Eve");
    expect(created.status).toBe(0);
    expect(created.json.jamiId).toMatch(/^[0-9a-f]{40}$/);
    expect(created.json.deviceId).toMatch(/^[0-9a-f]{64}$/);
    expect(created.json.certificates.map((c: { subject: string }) => c.subject.split(",")[0])).toEqual(["CN=Jami device", "CN=Jami", "CN=Jami CA"]);
    expect(created.json.certificates[0].keyBits).toBe(4096);

    const out = join(root, "a.gz");
    const exported = await jami("account", "export", "--dir", join(root, "a"), "--out", out, "--password", "pw");
    expect(exported).toMatchObject({ status: 0, json: { out, encrypted: true } });
    expect(statSync(out).mode & 0o777).toBe(0o600);

    const imported = await jami("account", "import", "--archive", out, "--dir", join(root, "b"), "--password", "pw");
    expect(imported.status).toBe(0);
    expect(imported.json.jamiId).toBe(created.json.jamiId);
    expect(imported.json.deviceId).not.toBe(created.json.deviceId);
    expect(imported.json.displayName).toBe("Eve");

    const inspected = await jami("account", "inspect", "--archive", out, "--password", "pw");
    expect(inspected.json).toMatchObject({ jamiId: created.json.jamiId, displayName: "Eve", deviceIds: [created.json.deviceId], contactsCount: 0 });
  });

  it.each([
    ["a wrong password", ["account", "inspect", "--archive", join(VECTORS, "alice.test-password.gz"), "--password", "bad"], 1, "ARCHIVE_BAD_PASSWORD"],
    ["a missing password", ["account", "inspect", "--archive", join(VECTORS, "alice.test-password.gz")], 1, "ARCHIVE_PASSWORD_REQUIRED"],
    ["a missing file", ["account", "inspect", "--archive", "/nonexistent/x.gz"], 1, "FS_ENOENT"],
    ["a missing flag", ["account", "create"], 2, "USAGE"],
    ["an unknown option", ["account", "create", "--dri", "x"], 2, "USAGE"],
    ["an unknown command", ["frobnicate"], 2, "USAGE"],
  ])("%s: {error: {code, message}} and a non-zero status", async (_, argv, status, code) => {
    const result = await jami(...argv);
    expect(result.status).toBe(status);
    expect(result.json).toEqual({ error: { code, message: expect.any(String) } });
  });

  it("import with a wrong password leaves no directory behind", async () => {
    const root = tmp();
    const result = await jami("account", "import", "--archive", join(VECTORS, "alice.test-password.gz"), "--dir", join(root, "x"), "--password", "no");
    expect(result.json.error.code).toBe("ARCHIVE_BAD_PASSWORD");
    expect(readdirSync(root)).toEqual([]);
  });
});

describe("the jami process", () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", "packages/jami-sdk/src/cli.ts", ...args], {
      cwd: REPO,
      encoding: "utf8",
      env: { ...process.env, JAMI_PASSWORD: "test-password" },
    });

  it("prints one JSON document and exits 0, taking the password from JAMI_PASSWORD", () => {
    const result = run("account", "inspect", "--archive", join(VECTORS, "alice.test-password.gz"));
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout).jamiId).toBe(ALICE);
  });

  it("exits non-zero with the error document on stdout", () => {
    const result = run("account", "inspect", "--archive", join(VECTORS, "alice.test-password.gz"), "--password", "wrong");
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout).error.code).toBe("ARCHIVE_BAD_PASSWORD");
  });
});

describe("jami demo", () => {
  it("walks through create, reload, export, second device, revocation, two accounts meeting on a local DHT, a device link and a chat", async () => {
    const { status, text } = await jami("demo");
    expect(status).toBe(0);
    expect(text).toMatch(/Jami ID\s+[0-9a-f]{40}/);
    expect(text).toContain("same Jami ID: true, same device: true");
    expect(text).toContain("the revoked device is now refused: CHAIN_REVOKED");
    expect(text).toContain("the first device still verifies");
    expect(text).toContain("alice finds bob's device on the DHT, chain verified");
    expect(text).toContain("bob receives it from alice");
    expect(text).toContain("alice sees bob online");
    expect(text).toMatch(/alice's contact list: [0-9a-f]{8}… confirmed=true/);
    expect(text).toMatch(/alice opens channel "echo" to bob's device in/);
    expect(text).toContain("bob's device answers: HELLO OVER THE LINK");
    // and ends in a chat: the one-to-one named by the trust request, cloned by bob, messages both ways
    expect(text).toMatch(/alice's trust request named conversation [0-9a-f]{12}…; bob cloned it when he accepted, and joined/);
    expect(text).toContain('bob receives: "Hi Bob! This is a swarm message."');
    expect(text).toContain('alice receives: "Hello Alice, got it."');
    expect(text).toContain("alice's history, newest first: text/plain, text/plain, member, initial");
  }, 300_000); // RSA-4096 keys for four devices: a bound for a slow machine, not a timing check
});
