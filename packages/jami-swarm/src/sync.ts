import git from "isomorphic-git";
import createDebug from "debug";
import { CommitRejectedError, SwarmError } from "./errors.js";
import { joinPath, mkdirp, type GitFs } from "./fs.js";
import { walkNewestFirst } from "./history.js";
import { mergeBase } from "./merge-check.js";
import { mergeTrees } from "./merge-trees.js";
import type { CommitLinks, ObjectReader, RawObject } from "./objects.js";
import { commitLinks } from "./commit-object.js";
import { encodeCommitGraph } from "./stored-packs.js";
import { parsePack, writePackIndex, type PackLimits, type ParsedPack } from "./pack.js";
import type { RepositoryOptions, SwarmMessage, SwarmRepository } from "./repository.js";
import { TreeReader } from "./tree.js";
import { membersAt } from "./members.js";
import { CommitValidator } from "./validator.js";

const log = createDebug("jami:swarm:sync");

export interface FetchOutcome {
  /** What happened to `main`. */
  result: "up-to-date" | "fast-forward" | "merged";
  head: string;
  /** The commits new to us, oldest first (with the merge commit we made, if any): what jamid announces. */
  newCommits: SwarmMessage[];
}

/** Stores a validated pack and its index under `objects/pack/`. */
async function storePack(fs: GitFs, gitdir: string, pack: Uint8Array, parsed: ParsedPack): Promise<void> {
  if (parsed.entries.length === 0) return;
  const base = joinPath(gitdir, "objects", "pack", `pack-${parsed.checksum}`);
  await mkdirp(fs, joinPath(gitdir, "objects", "pack"));
  await fs.promises.writeFile(`${base}.pack`, pack);
  await fs.promises.writeFile(`${base}.idx`, writePackIndex(parsed.entries, parsed.checksum));
  const commits = parsed.entries.filter((e) => e.type === "commit").map((e): [string, CommitLinks] => [e.oid, commitLinks(e.content)]);
  // beside the pack, git would call it garbage: our own files live under .git/jami/
  await mkdirp(fs, joinPath(gitdir, "jami", "graph"));
  await fs.promises.writeFile(joinPath(gitdir, "jami", "graph", `pack-${parsed.checksum}`), encodeCommitGraph(commits));
}

/**
 * Applies what a member device sent (jamid's `pull`: fetch → `validFetch` → `merge`): the new commits are
 * validated from memory, oldest first; only then is the pack stored, `refs/remotes/<device>/main` set and `main`
 * fast-forwarded or merged. A refusal prunes that remote-tracking branch and leaves everything else untouched.
 */
export async function applyFetch(
  repo: SwarmRepository,
  remoteDevice: string,
  remoteHead: string,
  pack: Uint8Array | undefined,
  options: RepositoryOptions & { limits?: Partial<PackLimits> },
): Promise<FetchOutcome> {
  if (!/^[0-9a-f]{64}$/.test(remoteDevice)) throw new SwarmError("INVALID_ARGUMENT", "a remote is named by a device id");
  const parsed = pack ? parsePack(pack, { limits: options.limits }) : { objects: new Map<string, RawObject>(), entries: [], checksum: "" };
  const staged = repo.store.withStaged(parsed.objects);
  if (!(await staged.has(remoteHead))) throw new SwarmError("PACK_INVALID", `the pack does not carry the advertised head ${remoteHead}`);
  const persisted = (oid: string): Promise<boolean> => repo.store.has(oid);
  const remoteRef = `refs/remotes/${remoteDevice}/main`;
  let fresh;
  const boundary = new Set<string>();
  try {
    fresh = (
      await walkNewestFirst(staged, remoteHead, async (oid) => {
        // what the pack carries is validated (again, if we had it: harmless); only what it lacks must be ours
        if (parsed.objects.has(oid)) return false;
        const known = await persisted(oid);
        if (known) boundary.add(oid);
        return known;
      })
    ).reverse();
    await new CommitValidator(staged, repo.conversationId, options).validate(fresh);
  } catch (error) {
    await git.deleteRef({ fs: repo.fs, gitdir: repo.gitdir, ref: remoteRef }).catch(() => undefined);
    if (error instanceof CommitRejectedError) log("refused fetch from %s: %s", remoteDevice, error.message);
    if (error instanceof SwarmError && error.code === "OBJECT_NOT_FOUND") {
      throw new CommitRejectedError(remoteHead, "parents", "the fetched history does not reach a known commit", { cause: error });
    }
    throw error;
  }
  if (pack && fresh.length > 0) {
    await storePack(repo.fs, repo.gitdir, pack, parsed as ParsedPack);
    repo.store.forgetPacks();
  }
  await git.writeRef({ fs: repo.fs, gitdir: repo.gitdir, ref: remoteRef, value: remoteHead, force: true });
  const outcome = await repo.mergeRemote(remoteHead, boundary);
  const newCommits: SwarmMessage[] = [];
  for (const { oid, commit } of fresh) {
    const message = await repo.toMessage(oid, commit);
    if (message) newCommits.push(message);
  }
  if (outcome.mergeCommit) {
    const message = await repo.toMessage(outcome.mergeCommit, await repo.readCommit(outcome.mergeCommit));
    if (message) newCommits.push(message);
  }
  return { result: outcome.result, head: await repo.head(), newCommits };
}

/** The merge step alone (`main` vs a validated remote head). */
export async function mergeInto(
  repo: SwarmRepository,
  remoteHead: string,
  makeMergeCommit: (changes: Map<string, Uint8Array | null>, parents: [string, string]) => Promise<string>,
  knownAncestors: ReadonlySet<string> = new Set(),
): Promise<{ result: FetchOutcome["result"]; mergeCommit?: string }> {
  const head = await repo.head();
  if (knownAncestors.has(head)) {
    // the usual case, found without a walk: the fetched commits sit right on top of our head
    await repo.moveMain(remoteHead, head);
    return { result: "fast-forward" };
  }
  const base = await mergeBase(repo.store, head, remoteHead);
  if (base === remoteHead) return { result: "up-to-date" };
  if (base === head) {
    await repo.moveMain(remoteHead, head);
    return { result: "fast-forward" };
  }
  if (!base) throw new CommitRejectedError(remoteHead, "parents", "the fetched history shares nothing with ours");
  const trees = new TreeReader(repo.store);
  const [ours, theirs, baseCommit] = [await repo.readCommit(head), await repo.readCommit(remoteHead), await repo.readCommit(base)];
  const merged = await mergeTrees(repo.store, trees, { base: baseCommit.tree, ours: ours.tree, theirs: theirs.tree }, { ours: head, theirs: remoteHead });
  const changes = new Map<string, Uint8Array | null>();
  for (const change of await trees.diff(ours.tree, merged)) changes.set(change.path, change.newOid ? (await repo.store.read(change.newOid)).content : null);
  return { result: "merged", mergeCommit: await makeMergeCommit(changes, [head, remoteHead]) };
}

/**
 * jamid's `cloneConversation`: the whole history in `pack` is validated from its initial commit (which must be
 * `conversationId`) before anything is written; then the repository is created at `parentDir/<conversationId>`
 * with `main`, a remote named after the device, and a work tree.
 */
export async function cloneFromPack(
  parentDir: string,
  conversationId: string,
  remoteDevice: string,
  remoteHead: string,
  pack: Uint8Array,
  options: RepositoryOptions & { limits?: Partial<PackLimits>; requireMember?: string },
): Promise<string> {
  const parsed = parsePack(pack, { limits: options.limits });
  const reader: ObjectReader = {
    read: async (oid) => {
      const object = parsed.objects.get(oid);
      if (!object) throw new SwarmError("OBJECT_NOT_FOUND", `object ${oid} is not in the pack`);
      return object;
    },
    has: async (oid) => parsed.objects.has(oid),
  };
  let history;
  try {
    history = (await walkNewestFirst(reader, remoteHead)).reverse();
  } catch (cause) {
    throw new CommitRejectedError(remoteHead, "parents", "the pack does not hold the whole history", { cause });
  }
  if (history[0]?.oid !== conversationId)
    throw new CommitRejectedError(history[0]?.oid ?? remoteHead, "parents", `the history does not start at ${conversationId}`);
  await new CommitValidator(reader, conversationId, options).validate(history);
  if (options.requireMember !== undefined) {
    // jamid erases a clone that does not list us; we do not write it in the first place
    const head = history[history.length - 1]!;
    const roles = await membersAt(new TreeReader(reader), head.commit.tree);
    const role = roles.find((m) => m.uri === options.requireMember)?.role;
    if (role !== "admin" && role !== "member" && role !== "invited") {
      throw new SwarmError("NOT_PERMITTED", `${options.requireMember} is not a member of ${conversationId} (role: ${role ?? "none"})`);
    }
  }
  const dir = joinPath(parentDir, conversationId);
  await git.init({ fs: options.fs, dir, defaultBranch: "main" });
  await storePack(options.fs, joinPath(dir, ".git"), pack, parsed);
  await git.addRemote({ fs: options.fs, dir, remote: remoteDevice, url: `git://${remoteDevice}/${conversationId}`, force: true });
  await git.writeRef({ fs: options.fs, dir, ref: `refs/remotes/${remoteDevice}/main`, value: remoteHead, force: true });
  await git.writeRef({ fs: options.fs, dir, ref: "refs/heads/main", value: remoteHead, force: true });
  await git.writeRef({ fs: options.fs, dir, ref: "HEAD", value: "refs/heads/main", symbolic: true, force: true });
  await git.checkout({ fs: options.fs, dir, ref: "main", force: true });
  log("cloned %s from %s (%d commits)", conversationId, remoteDevice, history.length);
  return dir;
}
