import git from "isomorphic-git";
import { randomBytes } from "node:crypto";
import { toBase64 } from "jami-core";
import type { DeviceIdentity } from "jami-identity";
import { signedCommitBytes, unsignedCommitBytes } from "../src/commit-object.js";
import { objectId } from "../src/objects.js";
import { editTree } from "../src/tree.js";
import type { SwarmRepository } from "../src/index.js";

/**
 * A hostile peer's tool: writes any commit on `repo`'s main, bypassing every check our writer makes (what
 * `forge.py` did to jamid in the spec's §10), with a good, random or no signature.
 */
export async function forge(
  repo: SwarmRepository,
  author: DeviceIdentity,
  options: {
    message: string;
    changes?: Map<string, Uint8Array | null>;
    parents?: string[];
    tree?: string;
    signature?: "good" | "random" | "none";
    email?: string;
  },
): Promise<string> {
  const head = await repo.head();
  const parents = options.parents ?? [head];
  const tree = options.tree ?? (await editTree(repo.store, repo.trees, (await repo.readCommit(parents[0] ?? head)).tree, options.changes ?? new Map()));
  const when = Math.floor(Date.now() / 1000);
  const who = { name: "forger", email: options.email ?? author.certificate.deviceId.toString(), timestamp: when, timezone: "+0000" };
  const fields = { tree, parents, author: who, committer: who, message: options.message };
  const mode = options.signature ?? "good";
  const signature = mode === "none" ? undefined : toBase64(mode === "good" ? author.key.sign(unsignedCommitBytes(fields), "sha512") : randomBytes(512));
  const bytes = signedCommitBytes({ ...fields, signature });
  const oid = await repo.store.write("commit", bytes);
  if (oid !== objectId("commit", bytes)) throw new Error("object id mismatch");
  await git.writeRef({ fs: repo.fs, gitdir: repo.gitdir, ref: "refs/heads/main", value: oid, force: true });
  return oid;
}

export const pem = (device: DeviceIdentity): Uint8Array => new TextEncoder().encode(device.certificate.toPem());
export const memberFile = (device: DeviceIdentity): Uint8Array => new TextEncoder().encode(device.issuers.map((c) => c.toPem()).join(""));
export const EMPTY = new Uint8Array(0);
