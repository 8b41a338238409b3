import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Certificate, PrivateKey, createAccountKeys, createDevice, type AccountKeys, type DeviceIdentity } from "jami-identity";
import type { GitFs } from "../src/index.js";

export const nodeFs = fs as unknown as GitFs;
const VECTORS = join(__dirname, "vectors");

export const ids = JSON.parse(readFileSync(join(VECTORS, "ids.json"), "utf8")) as {
  alice: { jamiId: string; devices: Record<string, { deviceId: string }> };
  bob: { jamiId: string; devices: Record<string, { deviceId: string }> };
  conversations: Record<string, { mode: number; commits_newest_first: Record<string, string> }>;
};
export const ONE_TO_ONE = "18c68b406ff66cbd892378aa4a932e230b4ebbc9";
export const GROUP = "0c739fd6c0bfe5faaa4b26aea49ef73a1f131e51";

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "jami-swarm-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Unpacks one of jamid's vector repositories into `parent`; returns its directory. */
export function unpackVector(conversationId: string, parent: string): string {
  execFileSync("tar", ["xzf", join(VECTORS, `swarm-${conversationId}.alice-copy.tar.gz`), "-C", parent]);
  return join(parent, conversationId);
}

/** A device of the vector accounts (`alice`, `alice-device2`, `bob`) with its key. */
export function vectorDevice(name: "alice" | "alice-device2" | "bob"): DeviceIdentity {
  const chain = Certificate.chainFromPem(readFileSync(join(VECTORS, `${name}.device-chain.pem`), "utf8"));
  return { key: PrivateKey.fromPem(readFileSync(join(VECTORS, `${name}.device.key.pem`), "utf8")), certificate: chain[0]!, issuers: chain.slice(1) };
}

/** A new account with `devices` devices (2048-bit keys: fast, and accepted by the chain checks). */
export async function newAccount(devices = 1): Promise<{ account: AccountKeys; devices: DeviceIdentity[] }> {
  const account = await createAccountKeys({ bits: 2048 });
  const list: DeviceIdentity[] = [];
  for (let i = 0; i < devices; i++) list.push(await createDevice(account, { bits: 2048 }));
  return { account, devices: list };
}

/** Runs the system git in `dir`; returns stdout. Throws with stderr when git fails. */
export function gitCli(dir: string, ...args: string[]): string {
  const result = spawnSync("git", ["-C", dir, ...args], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`git ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

import { fetchPack, serveUploadPack, SwarmRepository as Repo } from "../src/index.js";
import { duplexPair } from "./streams.js";

/** `client` fetches `server`'s main over an in-memory stream through our upload-pack server and client. */
export async function fetchOver(server: Repo, client: Repo | undefined, conversationId = server.conversationId): Promise<{ head: string; pack?: Uint8Array }> {
  const [serverSide, clientSide] = duplexPair();
  const serving = serveUploadPack(serverSide, async (id) => (id === server.conversationId ? server : undefined));
  const hasCommit = client ? async (oid: string) => client.store.has(oid) : undefined;
  const fetched = await fetchPack(clientSide, { conversationId, host: "0".repeat(64), haves: client ? await client.haves() : [], hasCommit });
  await serving;
  return fetched;
}
