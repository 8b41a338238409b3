import git from "isomorphic-git";
import createDebug from "debug";
import { toBase64 } from "jami-core";
import type { DeviceIdentity } from "jami-identity";
import { decodeBody, encodeBody, isCommitId, messageFields, type CommitBody, type ConversationMode } from "./bodies.js";
import { parseCommit, signedCommitBytes, unsignedCommitBytes, type CommitObject, type GitPerson } from "./commit-object.js";
import { CommitRejectedError, SwarmError } from "./errors.js";
import { exists, joinPath, type GitFs } from "./fs.js";
import { walkNewestFirst } from "./history.js";
import { CertificateCache, membersAt, releaseIdleCertificates, type Member } from "./members.js";
import { ObjectStore, objectId, releaseIdleRecentObjects, readTyped, type ObjectReader, type ObjectType, type RawObject } from "./objects.js";
import { EMPTY_TREE, TreeReader, editTree } from "./tree.js";
import * as ops from "./ops.js";
import type { ConversationProfile } from "./profile.js";
import type { CallBody } from "./bodies.js";
import { applyFetch, cloneFromPack, mergeInto, type FetchOutcome } from "./sync.js";
import type { PackLimits } from "./pack.js";
import { CommitValidator, type ValidationOptions } from "./validator.js";

const log = createDebug("jami:swarm");

/** A commit as an application shows it: jamid's message map, typed. */
export interface SwarmMessage {
  id: string;
  parents: string[];
  /** The next commit of the display walk (jamid's `linearizedParent`). */
  linearizedParent?: string;
  /** The author's Jami ID (issuer of its device certificate). */
  author: string;
  /** The author's device id (commit e-mail). */
  device: string;
  /** Author time, Unix seconds. */
  timestamp: number;
  body: CommitBody;
  /** Every JSON member as a string, as jamid gives clients (empty for merges). */
  fields: Record<string, string>;
}

/** Who writes commits in this repository: a device of the local account. */
export interface SwarmAuthor {
  device: DeviceIdentity;
  /** Shown in the commit's author name (jamid: the display name, else the device id). */
  displayName?: string;
}

export interface RepositoryOptions extends ValidationOptions {
  fs: GitFs;
  /** The local device that writes commits; without it the repository is read-only. */
  author?: SwarmAuthor;
  /** The clock, for commit times (tests inject one). */
  now?: () => Date;
}

const encoder = new TextEncoder();
const MAIN = "refs/heads/main";

let sharedReleasedAt = -Infinity;

/**
 * Drops what the repositories of this process share (recent objects, parsed certificates) and was not used since
 * the last release: with every repository's `releaseIdle`, an idle process keeps no object contents. Several
 * callers (accounts of one process, each on its own timer) may call it: a call less than half of `periodMs` after the
 * last release (by `now`, in ms) does nothing, so what is used about once a period is kept however many call.
 */
export function releaseIdleSharedCaches(options: { now: number; periodMs: number }): void {
  if (options.now - sharedReleasedAt < options.periodMs / 2) return;
  sharedReleasedAt = options.now;
  releaseIdleRecentObjects();
  releaseIdleCertificates();
}

/**
 * One conversation: a jamid-compatible git repository (non-bare, branch `main`, remotes named after device
 * ids) on an injected file system. Reads, typed commits, validation and merging; the wire is elsewhere.
 */
export class SwarmRepository {
  readonly store: ObjectStore;
  readonly trees: TreeReader;
  private readonly certs: CertificateCache;
  private writing: Promise<unknown> = Promise.resolve();
  private initial: { mode: ConversationMode; creator: string; invited?: string } | undefined;
  private displayOrder: { head: string; walked: Awaited<ReturnType<typeof walkNewestFirst>> } | undefined;
  private displayOrderUsed = false;

  protected constructor(
    readonly dir: string,
    readonly conversationId: string,
    protected readonly options: RepositoryOptions,
  ) {
    this.store = new ObjectStore(options.fs, joinPath(dir, ".git"));
    this.trees = new TreeReader(this.store);
    this.certs = new CertificateCache(this.store);
  }

  /**
   * Lets go of what this repository keeps in memory to go faster — loaded packs, parsed trees, the commit graph, the
   * display order, which objects and certificates it holds — if it was not used since the last call. Called every
   * so often (the SDK: every 30 s), a conversation left alone for one whole period holds almost nothing, however long
   * its history; the next use reads its files again. With `releaseIdleSharedCaches` for what repositories share.
   */
  releaseIdle(): void {
    this.store.releaseIdle();
    this.trees.releaseIdle();
    this.certs.releaseIdle();
    if (!this.displayOrderUsed) this.displayOrder = undefined;
    this.displayOrderUsed = false;
  }

  /** The account (issuer UID) of a device certificate file. */
  protected async issuerOf(blobOid: string): Promise<string | undefined> {
    try {
      return (await this.certs.first(blobOid)).issuer.uid;
    } catch {
      return undefined;
    }
  }

  get fs(): GitFs {
    return this.options.fs;
  }

  get gitdir(): string {
    return joinPath(this.dir, ".git");
  }

  /** Opens a conversation repository (ours, or a jamid data folder's `conversations/<id>`). */
  static async open(dir: string, options: RepositoryOptions): Promise<SwarmRepository> {
    const gitdir = joinPath(dir, ".git");
    let head: string;
    try {
      head = await git.resolveRef({ fs: options.fs, gitdir, ref: MAIN });
    } catch (cause) {
      throw new SwarmError("NOT_A_CONVERSATION", `${dir} has no main branch`, { cause });
    }
    const store = new ObjectStore(options.fs, gitdir);
    const base = dir.split("/").filter(Boolean).pop() ?? "";
    let root: string | undefined;
    if (isCommitId(base)) {
      try {
        if (parseCommit(await readTyped(store, base, "commit")).parents.length === 0) root = base;
      } catch {
        root = undefined;
      }
    }
    root ??= await findRoot(store, head);
    const repo = new SwarmRepository(dir, root, options);
    await repo.initialInfo();
    return repo;
  }

  /**
   * Creates a conversation under `parentDir/<conversationId>` with its initial commit by `options.author` (mode 0
   * needs `invited`),
   * exactly as jamid's `createConversation`: `admins/<uri>.crt`, `devices/<device>.crt`, `invited/<peer>`.
   */
  static async create(parentDir: string, init: { mode: ConversationMode; invited?: string }, options: RepositoryOptions): Promise<SwarmRepository> {
    const author = options.author;
    if (!author) throw new SwarmError("INVALID_ARGUMENT", "creating a conversation needs the author device");
    if (![0, 1, 2, 3].includes(init.mode)) throw new SwarmError("INVALID_ARGUMENT", `mode ${init.mode} is not 0–3`);
    if (init.mode === 0 && !/^[0-9a-f]{40}$/.test(init.invited ?? ""))
      throw new SwarmError("INVALID_ARGUMENT", "a one-to-one needs the invited peer's Jami ID");
    if (init.mode !== 0 && init.invited !== undefined)
      throw new SwarmError("INVALID_ARGUMENT", "only a one-to-one names an invited peer in its initial commit");
    const uri = accountUri(author.device);
    const staged = new StagingSink();
    const files = new Map<string, Uint8Array | null>([
      [`admins/${uri}.crt`, encoder.encode(memberPem(author.device))],
      [`devices/${author.device.certificate.deviceId}.crt`, encoder.encode(author.device.certificate.toPem())],
    ]);
    if (init.mode === 0) files.set(`invited/${init.invited}`, new Uint8Array(0));
    const tree = await editTree(staged, new TreeReader(staged), EMPTY_TREE, files);
    const body = encodeBody({ type: "initial", mode: init.mode, ...(init.invited ? { invited: init.invited } : {}) });
    // The id is the initial commit's hash: the same author creating twice in one second would get the same id (and
    // reset that conversation), so a taken id moves the commit time one second on, until it is free.
    let when = options.now?.() ?? new Date();
    let commit = signCommit(author, tree, [], body, when);
    let conversationId = objectId("commit", commit);
    for (let tries = 0; await exists(options.fs, joinPath(parentDir, conversationId)); tries++) {
      if (tries >= 1000) throw new SwarmError("INVALID_ARGUMENT", "no free conversation id in the next 1000 seconds");
      when = new Date(when.getTime() + 1000);
      commit = signCommit(author, tree, [], body, when);
      conversationId = objectId("commit", commit);
    }
    const dir = joinPath(parentDir, conversationId);
    await git.init({ fs: options.fs, dir, defaultBranch: "main" });
    const repo = new SwarmRepository(dir, conversationId, options);
    for (const object of staged.objects.values()) await repo.store.write(object.type, object.content);
    await repo.store.write("commit", commit);
    await new CommitValidator(repo.store, conversationId, options).validateOne({ oid: conversationId, body: commit });
    await repo.moveMain(conversationId, undefined);
    await repo.initialInfo();
    log("created conversation %s (mode %d)", conversationId, init.mode);
    return repo;
  }

  async head(): Promise<string> {
    return git.resolveRef({ fs: this.fs, gitdir: this.gitdir, ref: MAIN });
  }

  async readCommit(oid: string): Promise<CommitObject> {
    return parseCommit(await readTyped(this.store, oid, "commit"));
  }

  async mode(): Promise<ConversationMode> {
    return (await this.initialInfo()).mode;
  }

  /** Members and their roles at `commit` (default: `main`), as jamid derives them. */
  async members(commit?: string): Promise<Member[]> {
    const info = await this.initialInfo();
    const tree = (await this.readCommit(commit ?? (await this.head()))).tree;
    return membersAt(this.trees, tree, info.mode === 0 ? [info.creator, info.invited ?? ""].filter(Boolean) : []);
  }

  async roleOf(uri: string, commit?: string): Promise<Member["role"] | undefined> {
    return (await this.members(commit)).find((m) => m.uri === uri)?.role;
  }

  /** A file of the tree at `main` (e.g. `profile.vcf`), or undefined. */
  async readFile(path: string, commit?: string): Promise<Uint8Array | undefined> {
    const tree = (await this.readCommit(commit ?? (await this.head()))).tree;
    return this.trees.blob(tree, path);
  }

  /**
   * Messages newest first in jamid's display order (`loadConversationMessages`): from `from` (inclusive, default
   * `main`), at most `n` (0 or absent: all), merges included unless `skipMerge`.
   */
  async load(options: { from?: string; n?: number; skipMerge?: boolean } = {}): Promise<SwarmMessage[]> {
    // jamid walks from HEAD and starts logging at `from` (or walks from `from` when HEAD does not reach it); the
    // walk of the current head is kept, so paging through a long history walks it once
    const head = await this.head();
    this.displayOrderUsed = true;
    if (this.displayOrder?.head !== head) this.displayOrder = { head, walked: await walkNewestFirst(this.store, head) };
    let walked = this.displayOrder.walked;
    let first = 0;
    if (options.from !== undefined && options.from !== head) {
      first = walked.findIndex((c) => c.oid === options.from);
      if (first < 0) {
        walked = await walkNewestFirst(this.store, options.from);
        first = 0;
      }
    }
    const out: SwarmMessage[] = [];
    for (let i = first; i < walked.length && (!options.n || out.length < options.n); i++) {
      const { oid, commit } = walked[i]!;
      if (options.skipMerge && commit.parents.length > 1) continue;
      const message = await this.toMessage(oid, commit, walked[i + 1]?.oid);
      if (message) out.push(message);
    }
    return out;
  }

  /** Every message from `main`, newest first, page by page. */
  async *messages(pageSize = 100): AsyncGenerator<SwarmMessage> {
    let from: string | undefined = await this.head();
    while (from) {
      const page = await this.load({ from, n: pageSize + 1 });
      for (const message of page.slice(0, pageSize)) yield message;
      from = page.length > pageSize ? page[pageSize]!.id : undefined;
    }
  }

  /** The message map of one commit, or undefined when jamid would hide it (not JSON, no type). */
  async toMessage(oid: string, commit: CommitObject, linearizedParent?: string): Promise<SwarmMessage | undefined> {
    const device = commit.author.email;
    const deviceFile = (await this.trees.lookup(commit.tree, `devices/${device}.crt`))?.oid ?? (await this.parentDeviceFile(commit, device));
    let author = "";
    if (deviceFile) author = (await this.issuerOf(deviceFile)) ?? "";
    const base = { id: oid, parents: commit.parents, author, device, timestamp: commit.author.timestamp, ...(linearizedParent ? { linearizedParent } : {}) };
    if (commit.parents.length > 1) return { ...base, body: { type: "merge", message: commit.message }, fields: {} };
    const fields = messageFields(commit.message);
    if (!fields) return undefined;
    return { ...base, body: decodeBody(commit.message), fields };
  }

  private async parentDeviceFile(commit: CommitObject, device: string): Promise<string | undefined> {
    const parent = commit.parents[0];
    if (!parent) return undefined;
    return (await this.trees.lookup((await this.readCommit(parent)).tree, `devices/${device}.crt`))?.oid;
  }

  async initialInfo(): Promise<{ mode: ConversationMode; creator: string; invited?: string }> {
    if (!this.initial) {
      const root = await this.readCommit(this.conversationId);
      const fields = messageFields(root.message);
      const mode = Number(fields?.mode);
      if (!fields || fields.type !== "initial" || ![0, 1, 2, 3].includes(mode)) {
        throw new CommitRejectedError(this.conversationId, "mode", "the initial commit has no valid mode");
      }
      const device = await this.trees.lookup(root.tree, `devices/${root.author.email}.crt`);
      const creator = device ? ((await this.issuerOf(device.oid)) ?? "") : "";
      this.initial = { mode: mode as ConversationMode, creator, ...(fields.invited ? { invited: fields.invited } : {}) };
    }
    return this.initial;
  }

  // ── typed commits (each checks what jamid's API checks, then signs as the `author` device) ──

  /** A text message (`replyTo`: a known commit). Returns the commit id. */
  sendText(body: string, options: { replyTo?: string } = {}): Promise<string> {
    return this.exclusive(() => ops.sendText(this.host(), body, options));
  }

  react(to: string, emoji: string): Promise<string> {
    return this.exclusive(() => ops.react(this.host(), to, emoji));
  }

  /** Edits one's own text (13.7 format by default; `today`: `text/plain` + `edit`, an empty body deletes). */
  edit(target: string, body: string, format: "13.7" | "today" = "13.7"): Promise<string> {
    return this.exclusive(() => ops.edit(this.host(), target, body, format));
  }

  addMember(uri: string): Promise<string> {
    return this.exclusive(() => ops.addMember(this.host(), uri));
  }

  /** The invited local account joins (after cloning). */
  join(): Promise<string> {
    return this.exclusive(() => ops.join(this.host()));
  }

  /** Leaves: removes the member file and the given own devices' files (default: this device). */
  leave(ownDevices?: string[]): Promise<string> {
    return this.exclusive(() => ops.leave(this.host(), ownDevices ?? [this.author().device.certificate.deviceId.toString()]));
  }

  /** An admin's ban vote, and the ban itself once more than half the admins voted. Returns the commits. */
  ban(uri: string): Promise<string[]> {
    return this.exclusive(() => ops.voteBan(this.host(), uri, "ban", (u) => this.devicesOf(u)));
  }

  unban(uri: string): Promise<string[]> {
    return this.exclusive(() => ops.voteBan(this.host(), uri, "unban", async () => []));
  }

  updateProfile(update: ConversationProfile): Promise<string> {
    return this.exclusive(() => ops.updateProfile(this.host(), update));
  }

  /** Announces a file: give its `content`, or its `sha3sum` and `totalSize`. */
  sendFile(file: Parameters<typeof ops.fileCommit>[1]): Promise<string> {
    return this.exclusive(() => ops.fileCommit(this.host(), file));
  }

  recordCall(call: Omit<CallBody, "type">): Promise<string> {
    return this.exclusive(() => ops.callHistory(this.host(), call));
  }

  /** Device ids in `devices/` whose certificate was issued by `uri`. */
  async devicesOf(uri: string, commit?: string): Promise<string[]> {
    const tree = (await this.readCommit(commit ?? (await this.head()))).tree;
    const out: string[] = [];
    for (const entry of await this.trees.list(tree, "devices")) {
      if ((await this.issuerOf(entry.oid)) === uri) out.push(entry.name.replace(/\.crt$/, ""));
    }
    return out;
  }

  protected author(): SwarmAuthor {
    if (!this.options.author) throw new SwarmError("NOT_PERMITTED", "this repository was opened without an author device");
    return this.options.author;
  }

  private host(): ops.OpsHost {
    const author = this.author();
    const self = accountUri(author.device);
    const tree = async (): Promise<string> => (await this.readCommit(await this.head())).tree;
    return {
      selfUri: () => self,
      selfDevice: () => author.device.certificate.deviceId.toString(),
      mode: () => this.mode(),
      initialMembers: async () => {
        const info = await this.initialInfo();
        return [info.creator, info.invited ?? ""].filter(Boolean);
      },
      roleOf: (uri) => this.roleOf(uri),
      exists: async (path) => (await this.trees.lookup(await tree(), path)) !== undefined,
      readFile: (path) => this.readFile(path),
      hasCommit: async (oid) => /^[0-9a-f]{40}$/.test(oid) && (await this.store.has(oid)) && (await this.store.read(oid)).type === "commit",
      authorOf: async (oid) => {
        const message = await this.toMessage(oid, await this.readCommit(oid)).catch(() => undefined);
        return message ? { uri: message.author, type: message.fields.type } : undefined;
      },
      memberFile: () => encoder.encode(memberPem(author.device)),
      admins: async () => (await this.trees.list(await tree(), "admins")).map((e) => e.name.replace(/\.crt$/, "")),
      commit: (body, changes) => this.commitOnMain(author, body, changes),
    };
  }

  // ── sync ──

  /**
   * Applies a fetch from a member device (see `fetchPack`): validates the new commits, stores them, then
   * fast-forwards `main` or merges with a signed `Merge commit '<sha>'`. Throws `CommitRejectedError` (nothing
   * stored, the remote-tracking branch pruned) when a commit breaks a rule.
   */
  applyFetch(remoteDevice: string, remoteHead: string, pack: Uint8Array | undefined, options: { limits?: Partial<PackLimits> } = {}): Promise<FetchOutcome> {
    return this.exclusive(() => applyFetch(this, remoteDevice, remoteHead, pack, { ...this.options, ...options }));
  }

  /**
   * Clones a conversation from a pack holding its whole history (validated first; nothing is written when it
   * fails) into `parentDir/<conversationId>`. `requireMember`: refuse (`NOT_PERMITTED`, nothing written) unless
   * that Jami ID is an admin, member or invited at the head.
   */
  static async clone(
    parentDir: string,
    source: { conversationId: string; remoteDevice: string; head: string; pack: Uint8Array },
    options: RepositoryOptions & { limits?: Partial<PackLimits>; requireMember?: string },
  ): Promise<SwarmRepository> {
    const dir = await cloneFromPack(parentDir, source.conversationId, source.remoteDevice, source.head, source.pack, options);
    return SwarmRepository.open(dir, options);
  }

  /**
   * Whether `commit` is `head` or one of its ancestors (false when either is unknown here). Walks the commit graph
   * the store keeps cached, so asking about recent messages of a long history stays cheap after the first time.
   */
  async contains(head: string, commit: string): Promise<boolean> {
    if (!(await this.store.has(head)) || !(await this.store.has(commit))) return false;
    const seen = new Set<string>();
    const queue = [head];
    while (queue.length > 0) {
      const oid = queue.pop()!;
      if (oid === commit) return true;
      if (seen.has(oid)) continue;
      seen.add(oid);
      for (const parent of (await this.store.links(oid)).parents) if (!seen.has(parent)) queue.push(parent);
    }
    return false;
  }

  /** Commits we have to offer as `have`s in a fetch: `main` and its recent ancestors, newest first. */
  async haves(limit = 64): Promise<string[]> {
    const out: string[] = [];
    let oid: string | undefined = await this.head();
    while (oid && out.length < limit) {
      out.push(oid);
      oid = (await this.readCommit(oid)).parents[0];
    }
    return out;
  }

  /** @internal fast-forward or merge `main` with an already validated remote head. */
  async mergeRemote(remoteHead: string, knownAncestors?: ReadonlySet<string>): Promise<{ result: FetchOutcome["result"]; mergeCommit?: string }> {
    return mergeInto(
      this,
      remoteHead,
      async (changes, parents) => {
        const author = this.author();
        return this.commitOnMain(author, { type: "merge", message: `Merge commit '${parents[1]}'` }, changes, parents);
      },
      knownAncestors,
    );
  }

  /** Runs writes one at a time: every commit is built on the `main` the previous one left. */
  protected exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.writing.then(work, work);
    this.writing = run.catch(() => undefined);
    return run;
  }

  /** Moves `main` (and the work tree, when the tree changed) from `previous` to `next`. */
  async moveMain(next: string, previous: string | undefined): Promise<void> {
    await git.writeRef({ fs: this.fs, gitdir: this.gitdir, ref: MAIN, value: next, force: true });
    if (previous === undefined) await git.writeRef({ fs: this.fs, gitdir: this.gitdir, ref: "HEAD", value: MAIN, symbolic: true, force: true });
    const changed = previous === undefined || (await this.readCommit(previous)).tree !== (await this.readCommit(next)).tree;
    if (changed) await git.checkout({ fs: this.fs, dir: this.dir, gitdir: this.gitdir, ref: "main", force: true });
  }

  /** Builds, signs, validates and stores a commit on `main` with `changes` to the tree. */
  protected async commitOnMain(author: SwarmAuthor, body: CommitBody, changes: Map<string, Uint8Array | null>, parents?: string[]): Promise<string> {
    const head = await this.head();
    const parentTree = (await this.readCommit(head)).tree;
    const devicePath = `devices/${author.device.certificate.deviceId}.crt`;
    if (body.type !== "merge" && !changes.has(devicePath) && !(await this.trees.lookup(parentTree, devicePath))) {
      // jamid's addUserDevice: a device's first commit brings its certificate
      changes.set(devicePath, encoder.encode(author.device.certificate.toPem()));
    }
    const tree = await editTree(this.store, this.trees, parentTree, changes);
    const bytes = signCommit(author, tree, parents ?? [head], encodeBody(body), this.options.now?.() ?? new Date());
    const oid = objectId("commit", bytes);
    const validator = new CommitValidator(this.store.withStaged(new Map([[oid, { type: "commit", content: bytes }]])), this.conversationId, this.options, {
      certs: this.certs,
    });
    await validator.validateOne({ oid, body: bytes });
    await this.store.write("commit", bytes);
    await this.moveMain(oid, head);
    return oid;
  }
}

/** jamid names an account by the UID of the device certificate's issuer. */
export function accountUri(device: DeviceIdentity): string {
  const uid = device.certificate.issuer.uid;
  if (!uid) throw new SwarmError("INVALID_ARGUMENT", "the device certificate has no issuer UID");
  return uid;
}

/** `admins/`/`members/` file content: the account certificate followed by its CA (jamid's `toString(true)`). */
export function memberPem(device: DeviceIdentity): string {
  return device.issuers.map((c) => c.toPem()).join("");
}

function person(author: SwarmAuthor, when: Date): GitPerson {
  const deviceId = author.device.certificate.deviceId.toString();
  const name = (author.displayName ?? "").replace(/[<>\n]/g, "") || deviceId;
  return { name, email: deviceId, timestamp: Math.floor(when.getTime() / 1000), timezone: "+0000" };
}

/** A commit body signed as jamid signs it (RSA PKCS#1 v1.5, SHA-512, over the buffer without the header). */
export function signCommit(author: SwarmAuthor, tree: string, parents: string[], message: string, when: Date): Uint8Array {
  const who = person(author, when);
  const fields = { tree, parents, author: who, committer: who, message };
  const signature = toBase64(author.device.key.sign(unsignedCommitBytes(fields), "sha512"));
  return signedCommitBytes({ ...fields, signature });
}

async function findRoot(store: ObjectReader, head: string): Promise<string> {
  let oid = head;
  for (;;) {
    const commit = parseCommit(await readTyped(store, oid, "commit"));
    if (commit.parents.length === 0) return oid;
    oid = commit.parents[0]!;
  }
}

/** Objects built in memory before the repository exists (the initial commit names the directory). */
class StagingSink extends ObjectStore {
  readonly objects = new Map<string, RawObject>();
  constructor() {
    super(undefined as unknown as GitFs, "");
  }
  override async write(type: ObjectType, content: Uint8Array): Promise<string> {
    const oid = objectId(type, content);
    this.objects.set(oid, { type, content });
    return oid;
  }
  override async read(oid: string): Promise<RawObject> {
    const object = this.objects.get(oid);
    if (!object) throw new SwarmError("OBJECT_NOT_FOUND", `object ${oid} is not staged`);
    return object;
  }
}
