import { verify as nodeVerify } from "node:crypto";
import { fromBase64 } from "jami-core";
import { verifyDeviceChain, type Certificate, type RevocationList } from "jami-identity";
import { messageFields } from "./bodies.js";
import { parseCommit, signedPayload, type CommitObject } from "./commit-object.js";
import { CommitRejectedError, type SwarmRule } from "./errors.js";
import { CertificateCache } from "./members.js";
import { readTyped, type ObjectReader } from "./objects.js";
import { EMPTY_TREE, TreeReader, type TreeChange } from "./tree.js";
import { checkMerge } from "./merge-check.js";

export interface ValidationOptions {
  /**
   * `strict` (default) adds what jamid 13.7 skips and today's daemon or plain safety require: commit signatures,
   * device certificates signed by their account, revocation, `join`/`remove` only for oneself, merge trees that
   * only combine their parents. `lenient` is 13.7's validator exactly, for repositories 13.7 peers wrote.
   */
  mode?: "strict" | "lenient";
  /** Revocation lists of member accounts (strict mode refuses commits by revoked devices). */
  revocationLists?: () => Iterable<RevocationList>;
}

/** One commit to check, with its id and raw body. */
export interface CommitToCheck {
  oid: string;
  body: Uint8Array;
}

const DEVICE_ID = /^[0-9a-f]{64}$/;
const VOTE_PATH = /^votes\/(ban|unban)\/(members|devices|admins|invited)\/([^/]+)\/([^/]+)$/;

/**
 * jamid's `validCommits` (spec §4.2): every commit, oldest first, against its own parents' trees; the first
 * failure throws a `CommitRejectedError` naming the commit and the rule. Reads only; writes nothing.
 */
export class CommitValidator {
  readonly trees: TreeReader;
  readonly certs: CertificateCache;
  /** @internal chains whose signatures and revocation were checked, by certificate fingerprints. */
  readonly verifiedChains = new WeakMap<Certificate, WeakMap<Certificate, { notAfter: number }>>();
  /** @internal the revocation lists, read once per validation. */
  readonly revocationLists: RevocationList[];
  private readonly strict: boolean;

  constructor(
    private readonly objects: ObjectReader,
    private readonly conversationId: string,
    private readonly options: ValidationOptions = {},
    shared: { certs?: CertificateCache } = {},
  ) {
    this.trees = new TreeReader(objects);
    // parsed certificates are keyed by blob id (content): a repository can share them across validations
    this.certs = shared.certs ?? new CertificateCache(objects);
    this.strict = (options.mode ?? "strict") === "strict";
    this.revocationLists = [...(options.revocationLists?.() ?? [])];
  }

  /**
   * Validates commits oldest first. Signatures are verified on the thread pool while the next commits' rules
   * are checked; the refusal reported is still the first one in commit order.
   */
  async validate(commits: Iterable<CommitToCheck>): Promise<void> {
    const signatures: Array<Promise<void>> = [];
    let settled = 0;
    const settle = async (): Promise<void> => {
      for (; settled < signatures.length; settled++) await signatures[settled];
    };
    try {
      for (const commit of commits) {
        await this.check(commit, signatures);
        // keep the number in flight bounded
        if (signatures.length - settled >= 256) await settle();
      }
    } catch (error) {
      await settle();
      throw error;
    }
    await settle();
  }

  async validateOne(commit: CommitToCheck): Promise<CommitObject> {
    const signatures: Array<Promise<void>> = [];
    const parsed = await this.check(commit, signatures);
    await Promise.all(signatures);
    return parsed;
  }

  private async check({ oid, body }: CommitToCheck, signatures: Array<Promise<void>>): Promise<CommitObject> {
    let commit: CommitObject;
    try {
      commit = parseCommit(body);
    } catch (cause) {
      throw new CommitRejectedError(oid, "commit-format", (cause as Error).message, { cause });
    }
    const check = new CommitCheck(this, oid, commit, body, this.strict, this.options, signatures);
    const device = commit.author.email;
    if (!DEVICE_ID.test(device)) check.fail("commit-format", `author e-mail "${device}" is not a device id`);
    if (commit.parents.length === 0) {
      if (oid !== this.conversationId) check.fail("parents", "a second initial commit");
      await check.initial();
    } else if (commit.parents.length === 1) await check.single();
    else await check.merge();
    return commit;
  }

  async readCommit(oid: string): Promise<CommitObject> {
    return parseCommit(await readTyped(this.objects, oid, "commit"));
  }

  reader(): ObjectReader {
    return this.objects;
  }

  /** The conversation's mode and initial members (creator, and the invited peer of a one-to-one). */
  async initialInfo(): Promise<{ mode: number; members: string[] }> {
    if (!this.initial) {
      const root = await this.readCommit(this.conversationId);
      const fields = messageFields(root.message) ?? {};
      const device = await this.trees.lookup(root.tree, `devices/${root.author.email}.crt`);
      const creator = device ? (await this.certs.first(device.oid)).issuer.uid : undefined;
      this.initial = { mode: Number(fields.mode), members: [creator ?? "", fields.invited ?? ""].filter((m) => m !== "") };
    }
    return this.initial;
  }
  private initial: { mode: number; members: string[] } | undefined;
}

/** The checks of one commit; `fail` throws the typed refusal. */
class CommitCheck {
  readonly device: string;
  private readonly trees: TreeReader;
  private readonly certs: CertificateCache;
  private readonly time: Date;

  constructor(
    private readonly validator: CommitValidator,
    readonly oid: string,
    readonly commit: CommitObject,
    private readonly body: Uint8Array,
    private readonly strict: boolean,
    private readonly options: ValidationOptions,
    private readonly signatures: Array<Promise<void>>,
  ) {
    this.device = commit.author.email;
    this.trees = validator.trees;
    this.certs = validator.certs;
    this.time = new Date(commit.author.timestamp * 1000);
  }

  fail(rule: SwarmRule, message: string): never {
    throw new CommitRejectedError(this.oid, rule, message);
  }

  private async has(tree: string, path: string): Promise<boolean> {
    return (await this.trees.lookup(tree, path)) !== undefined;
  }

  private async cert(tree: string, path: string, rule: SwarmRule): Promise<Certificate[]> {
    const entry = await this.trees.lookup(tree, path);
    if (!entry) this.fail(rule, `${path} is missing`);
    try {
      return await this.certs.chain(entry.oid);
    } catch (cause) {
      this.fail(rule, `${path} is not a certificate: ${(cause as Error).message}`);
    }
  }

  /** The author's account: the issuer UID of its device certificate in `tree` (jamid's `uriFromDevice`). */
  private async authorUri(...trees: string[]): Promise<string> {
    for (const tree of trees) {
      if (!(await this.has(tree, `devices/${this.device}.crt`))) continue;
      const [device] = await this.cert(tree, `devices/${this.device}.crt`, "device-certificate");
      const uid = device!.issuer.uid;
      if (!uid) this.fail("device-certificate", "device certificate has no issuer UID");
      return uid;
    }
    this.fail("user-at-commit", `device ${this.device} has no certificate in the tree`);
  }

  private async parentTree(index = 0): Promise<string> {
    const parent = this.commit.parents[index]!;
    try {
      return (await this.validator.readCommit(parent)).tree;
    } catch {
      this.fail("parents", `parent ${parent} is not a known commit`);
    }
  }

  private async changes(from: string, to: string): Promise<TreeChange[]> {
    return this.trees.diff(from, to);
  }

  private verifySignature(deviceCert: Certificate): void {
    if (!this.strict) return;
    const signed = signedPayload(this.body);
    if (!signed) this.fail("signature", "commit has no signature header");
    let signature: Uint8Array;
    try {
      signature = fromBase64(signed.signature);
    } catch {
      this.fail("signature", "signature is not base64");
    }
    const oid = this.oid;
    this.signatures.push(
      new Promise<void>((resolve, reject) => {
        nodeVerify("sha512", signed.payload, deviceCert.publicKey.keyObject, signature, (error, valid) => {
          if (!error && valid) resolve();
          else reject(new CommitRejectedError(oid, "signature", "signature does not verify with the author's device key"));
        });
      }),
    );
    // the rejection is read in commit order by `validate`; never let it surface as unhandled meanwhile
    this.signatures[this.signatures.length - 1]!.catch(() => undefined);
  }

  /** Today's chain check: the device certificate is signed by the member's account certificate, not revoked. */
  private verifyChain(deviceCert: Certificate, memberChain: Certificate[]): void {
    if (!this.strict) return;
    const chain = [deviceCert, ...memberChain];
    // The signatures of a chain do not change from one commit to the next: check them once per validator,
    // and only the commit-time-dependent part (validity window) per commit.
    // certificates come from the cache by blob, so the same files give the same objects
    let byMember = this.validator.verifiedChains.get(deviceCert);
    if (!byMember) this.validator.verifiedChains.set(deviceCert, (byMember = new WeakMap()));
    const known = byMember.get(memberChain[0]!);
    const time = this.time.getTime();
    if (known && time <= known.notAfter) return;
    try {
      // Validity is judged at the commit's time, as jamid judges expiry; a commit dated before its certificates
      // (clock skew) is not a forgery, so the start of validity is not held against it.
      const notBefore = Math.max(...chain.map((c) => c.notBefore.getTime()));
      verifyDeviceChain(chain, { now: new Date(Math.max(time, notBefore)), revocationLists: this.validator.revocationLists });
    } catch (cause) {
      this.fail("device-certificate", `device certificate: ${(cause as Error).message}`);
    }
    byMember.set(memberChain[0]!, { notAfter: Math.min(...chain.map((c) => c.notAfter.getTime())) });
  }

  async initial(): Promise<void> {
    const fields = messageFields(this.commit.message);
    const mode = fields && fields.type === "initial" ? Number(fields.mode) : NaN;
    if (!(Number.isInteger(mode) && mode >= 0 && mode <= 3) || !/^\d$/.test(fields?.mode ?? "")) {
      this.fail("mode", "initial commit without a mode 0–3");
    }
    const tree = this.commit.tree;
    const uri = await this.authorUri(tree);
    const allowed = new Set([`admins/${uri}.crt`, `devices/${this.device}.crt`, `CRLs/${uri}`]);
    if (mode === 0) allowed.add(`invited/${fields!.invited ?? ""}`);
    for (const change of await this.changes(EMPTY_TREE, tree)) {
      if (!allowed.has(change.path)) this.fail("initial-commit", `initial commit adds ${change.path}`);
    }
    if (mode === 0 && !(await this.has(tree, `invited/${fields!.invited ?? ""}`))) this.fail("initial-commit", "one-to-one without its invited peer");
    const admin = await this.cert(tree, `admins/${uri}.crt`, "initial-commit");
    const [device] = await this.cert(tree, `devices/${this.device}.crt`, "initial-commit");
    if (!admin[0]!.jamiId.equals(uri)) this.fail("member-certificate", "admin certificate is not the author's account");
    if (!device!.deviceId.equals(this.device)) this.fail("device-certificate", "device certificate is not the author's device");
    this.verifyChain(device!, admin);
    this.verifySignature(device!);
  }

  async single(): Promise<void> {
    const parentTree = await this.parentTree();
    const tree = this.commit.tree;
    const fields = messageFields(this.commit.message) ?? {};
    const changes = await this.changes(parentTree, tree);
    let userTree = tree;
    switch (fields.type) {
      case "vote":
        await this.vote(parentTree, tree, changes);
        break;
      case "member":
        switch (fields.action) {
          case "add":
            await this.add(fields.uri ?? "", parentTree, tree, changes);
            break;
          case "join":
            await this.join(fields.uri ?? "", parentTree, tree, changes);
            break;
          case "remove":
            await this.remove(fields.uri ?? "", parentTree, tree, changes);
            userTree = parentTree;
            break;
          case "ban":
          case "unban":
            await this.voteResolution(fields.action, fields.uri ?? "", parentTree, tree, changes);
            break;
          default:
            this.fail("member-action", `unknown member action "${fields.action}"`);
        }
        break;
      case "application/update-profile":
        await this.profileUpdate(parentTree, changes);
        break;
      case "application/edited-message":
        await this.edit(fields.edit ?? "", parentTree);
        await this.userDiff(parentTree, tree, changes);
        break;
      default:
        if (this.strict && fields.edit !== undefined) await this.edit(fields.edit, parentTree);
        await this.userDiff(parentTree, tree, changes);
    }
    await this.userAtCommit(userTree);
  }

  async merge(): Promise<void> {
    if (this.commit.parents.length !== 2) this.fail("merge", `merge with ${this.commit.parents.length} parents`);
    if (this.strict) {
      const problem = await checkMerge(this.validator.reader(), this.trees, this.commit);
      if (problem) this.fail("merge", problem);
    }
    await this.userAtCommit(this.commit.tree);
  }

  /** jamid's `isValidUserAtCommit`, plus (strict) the signature and the device chain. */
  private async userAtCommit(tree: string): Promise<void> {
    const devicePath = `devices/${this.device}.crt`;
    if (!(await this.has(tree, devicePath))) this.fail("user-at-commit", `${devicePath} is not in the tree`);
    const [device] = await this.cert(tree, devicePath, "device-certificate");
    const uri = device!.issuer.uid;
    if (!uri) this.fail("device-certificate", "device certificate has no issuer UID");
    const memberPath = (await this.has(tree, `members/${uri}.crt`)) ? `members/${uri}.crt` : `admins/${uri}.crt`;
    if (!(await this.has(tree, memberPath))) this.fail("user-at-commit", `author ${uri} is not a member at this commit`);
    const member = await this.cert(tree, memberPath, "member-certificate");
    if (device!.notAfter < this.time) this.fail("device-certificate", "device certificate expired before the commit");
    if (member[0]!.notAfter < this.time) this.fail("member-certificate", "member certificate expired before the commit");
    if (!member[0]!.jamiId.equals(uri)) this.fail("member-certificate", `${memberPath} is not ${uri}'s certificate`);
    if (this.strict && !device!.deviceId.equals(this.device)) this.fail("device-certificate", `${devicePath} holds another device's certificate`);
    this.verifyChain(device!, member);
    this.verifySignature(device!);
  }

  private async ownDeviceChange(change: TreeChange, parentTree: string, tree: string): Promise<boolean> {
    return (
      change.path === `devices/${this.device}.crt` &&
      (await this.has(tree, change.path)) &&
      (change.status === "added" || (await this.sameDevice(parentTree, tree)))
    );
  }

  /** A renewed device certificate: same key, same issuer. */
  private async sameDevice(parentTree: string, tree: string): Promise<boolean> {
    const path = `devices/${this.device}.crt`;
    const [before] = await this.cert(parentTree, path, "device-certificate");
    const [after] = await this.cert(tree, path, "device-certificate");
    return before!.publicKey.equals(after!.publicKey) && before!.issuer.uid === after!.issuer.uid;
  }

  private async vote(parentTree: string, tree: string, changes: TreeChange[]): Promise<void> {
    const uri = await this.authorUri(tree, parentTree);
    if (changes.length === 0 || changes.length > 2) this.fail("vote", `a vote changes ${changes.length} files`);
    let voteFile: RegExpExecArray | undefined;
    for (const change of changes) {
      if (change.path === `devices/${this.device}.crt` && change.status === "added") continue;
      const match = VOTE_PATH.exec(change.path);
      if (!match || voteFile) this.fail("vote", `a vote changes ${change.path}`);
      if (change.status !== "added") this.fail("vote", "the vote file is not new");
      const content = await readTyped(this.validator.reader(), change.newOid!, "blob");
      if (content.byteLength !== 0) this.fail("vote", "the vote file is not empty");
      voteFile = match;
    }
    if (!voteFile) this.fail("vote", "no vote file");
    const [, kind, type, target, voter] = voteFile;
    if (voter !== uri) this.fail("vote", "a vote in another admin's name");
    if (!(await this.has(parentTree, `admins/${uri}.crt`))) this.fail("vote", `${uri} is not an admin`);
    if (target === uri || target === this.device) this.fail("vote", "a vote against oneself");
    if (kind === "ban") {
      if (type === "devices") {
        if (!(await this.has(parentTree, `devices/${target}.crt`))) this.fail("vote", `device ${target} is not in the conversation`);
      } else if (
        !(await this.has(parentTree, `members/${target}.crt`)) &&
        !(await this.has(parentTree, `admins/${target}.crt`)) &&
        !(await this.has(parentTree, `invited/${target}`))
      ) {
        this.fail("vote", `${target} is not a member`);
      }
    } else if (this.strict) {
      const banned = type === "invited" ? `banned/invited/${target}` : `banned/${type}/${target}.crt`;
      if (!(await this.has(parentTree, banned))) this.fail("vote", `${target} is not banned`);
    }
  }

  private async add(target: string, parentTree: string, tree: string, changes: TreeChange[]): Promise<void> {
    const uri = await this.authorUri(tree, parentTree);
    const initial = await this.validator.initialInfo();
    if (initial.mode === 0 && !initial.members.includes(target)) this.fail("add", "a one-to-one only takes its two initial members");
    if (changes.length < 1 || changes.length > 3) this.fail("add", `an add changes ${changes.length} files`);
    const allowed = new Set([`devices/${this.device}.crt`, `invited/${target}`, `CRLs/${uri}`]);
    for (const change of changes) if (!allowed.has(change.path)) this.fail("add", `an add changes ${change.path}`);
    if (target === uri) this.fail("add", "adding oneself");
    const invited = await this.trees.lookup(tree, `invited/${target}`);
    if (!invited) this.fail("add", `invited/${target} is missing`);
    if ((await readTyped(this.validator.reader(), invited.oid, "blob")).byteLength !== 0) this.fail("add", `invited/${target} is not empty`);
    if (await this.has(parentTree, `banned/members/${target}.crt`)) this.fail("add", `${target} is banned`);
  }

  private async join(target: string, parentTree: string, tree: string, changes: TreeChange[]): Promise<void> {
    const allowed = new Set([`invited/${target}`, `members/${target}.crt`, `devices/${this.device}.crt`]);
    for (const change of changes) if (!allowed.has(change.path)) this.fail("join", `a join changes ${change.path}`);
    if (!(await this.has(parentTree, `invited/${target}`)) || (await this.has(tree, `invited/${target}`))) this.fail("join", `${target} was not invited`);
    if ((await this.has(parentTree, `members/${target}.crt`)) || !(await this.has(tree, `members/${target}.crt`)))
      this.fail("join", `members/${target}.crt is not new`);
    if (!(await this.has(tree, `devices/${this.device}.crt`))) this.fail("join", "the joining device has no certificate");
    if (this.strict && (await this.authorUri(tree)) !== target) this.fail("join", `a join for ${target} by another account`);
  }

  private async remove(target: string, parentTree: string, tree: string, changes: TreeChange[]): Promise<void> {
    const uri = await this.authorUri(parentTree, tree);
    if (this.strict && target !== uri) this.fail("remove", `a remove of ${target} by another account`);
    const named = new Set([`devices/${this.device}.crt`, `admins/${target}.crt`, `members/${target}.crt`, `CRLs/${target}`, `invited/${target}`]);
    for (const change of changes) {
      if (named.has(change.path)) continue;
      const device = /^devices\/([^/]+)\.crt$/.exec(change.path);
      if (device && change.status === "deleted") {
        const [cert] = await this.cert(parentTree, change.path, "remove");
        if (cert!.issuer.uid === target || device[1] === target) continue;
      }
      this.fail("remove", `a remove changes ${change.path}`);
    }
  }

  private async voteResolution(action: "ban" | "unban", target: string, parentTree: string, tree: string, changes: TreeChange[]): Promise<void> {
    const uri = await this.authorUri(tree, parentTree);
    if (!(await this.has(parentTree, `admins/${uri}.crt`))) this.fail("vote-resolution", `${uri} is not an admin`);
    const voters = new Set<string>();
    let bannedChanged = false;
    for (const change of changes) {
      const path = change.path;
      if (
        path === `devices/${this.device}.crt` ||
        path === `admins/${target}.crt` ||
        path === `members/${target}.crt` ||
        path === `CRLs/${target}` ||
        path === `invited/${target}`
      )
        continue;
      const vote = VOTE_PATH.exec(path);
      if (vote && vote[1] === action && vote[3] === target && change.status === "deleted") {
        voters.add(vote[4]!);
        continue;
      }
      if (/^banned\/(members|devices|admins)\/[^/]+\.crt$/.test(path) || path === `banned/invited/${target}`) {
        if (path.endsWith(`/${target}.crt`) || path === `banned/invited/${target}`) {
          bannedChanged = true;
          continue;
        }
      }
      const device = /^devices\/[^/]+\.crt$/.exec(path);
      if (device && (action === "ban" ? change.status === "deleted" : change.status === "added")) {
        const [cert] = await this.cert(action === "ban" ? parentTree : tree, path, "vote-resolution");
        if (cert!.issuer.uid === target) continue;
      }
      this.fail("vote-resolution", `a ${action} changes ${path}`);
    }
    if (!bannedChanged) this.fail("vote-resolution", `a ${action} that moves nothing in banned/`);
    const admins = (await this.trees.list(tree, "admins")).map((e) => e.name.replace(/\.crt$/, ""));
    const counted = admins.filter((a) => voters.has(a)).length;
    if (admins.length > 0 && counted / admins.length < 0.5) this.fail("vote-resolution", `${counted} of ${admins.length} admins voted`);
    if (admins.length === 0 && voters.size === 0) this.fail("vote-resolution", "nobody voted");
  }

  private async profileUpdate(parentTree: string, changes: TreeChange[]): Promise<void> {
    const uri = await this.authorUri(this.commit.tree, parentTree);
    if (!(await this.has(parentTree, `admins/${uri}.crt`))) this.fail("profile-update", `${uri} is not an admin`);
    for (const change of changes) if (change.path !== "profile.vcf") this.fail("profile-update", `a profile update changes ${change.path}`);
  }

  private async edit(target: string, parentTree: string): Promise<void> {
    let edited: CommitObject;
    try {
      edited = await this.validator.readCommit(target);
    } catch {
      this.fail("edit", `edited commit ${target} is not known`);
    }
    const fields = messageFields(edited.message);
    const types = this.strict ? ["text/plain", "application/data-transfer+json", "application/edited-message"] : ["text/plain"];
    if (!fields || !types.includes(fields.type!)) this.fail("edit", `edited commit ${target} is not a message`);
    const editedTree = edited.tree;
    const editedDevice = await this.trees.lookup(editedTree, `devices/${edited.author.email}.crt`);
    const editedUri = editedDevice ? (await this.certs.first(editedDevice.oid)).issuer.uid : undefined;
    if (editedUri !== (await this.authorUri(this.commit.tree, parentTree))) this.fail("edit", "editing another member's message");
  }

  /** jamid's `checkValidUserDiff`: only the author's own device file, or its renewed member file. */
  private async userDiff(parentTree: string, tree: string, changes: TreeChange[]): Promise<void> {
    if (!(await this.has(tree, `devices/${this.device}.crt`))) this.fail("user-diff", "author device has no certificate");
    const uri = await this.authorUri(tree);
    for (const change of changes) {
      if (await this.ownDeviceChange(change, parentTree, tree)) continue;
      if ((change.path === `admins/${uri}.crt` || change.path === `members/${uri}.crt`) && change.status === "modified") {
        const [renewed] = await this.cert(tree, change.path, "member-certificate");
        if (renewed!.jamiId.equals(uri)) continue;
      }
      this.fail("user-diff", `a ${messageFields(this.commit.message)?.type ?? "message"} commit changes ${change.path}`);
    }
  }
}
