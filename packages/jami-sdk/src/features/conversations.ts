import * as nodeFs from "node:fs";
import { join } from "node:path";
import { sleep, TypedEmitter, type AbortOptions } from "jami-core";
import type { Channel } from "jami-dtls";
import type { JamiPayload } from "jami-sip";
import {
  CommitRejectedError,
  SwarmRepository,
  readProfileVcf,
  type ConversationMode,
  type ConversationProfile,
  type FetchOutcome,
  type GitFs,
  type SwarmMessage,
} from "jami-swarm";
import type { AccountComponents, FeatureLifecycle } from "../account/components.js";
import { AccountError } from "../errors.js";
import { ConversationGit, GIT_CHANNEL, SERVED_ROLES } from "./conversation-git.js";
import { ConversationNotices } from "./conversation-notices.js";
import { DhtMessages } from "./dht-messages.js";
import { ConversationSync, SYNC_CHANNEL } from "./conversation-sync.js";
import type { ConvInfo, SyncMsg } from "../dht/sync-msg.js";
import { ConversationReceipts, type DeliveryStatus } from "./conversation-receipts.js";
import { ConversationRequestBook, type ConversationRequest } from "./conversation-requests.js";
import type { ChannelPeer } from "./links.js";

export type { ConversationRequest, DeliveryStatus };

export interface ConversationEvents {
  /** New commits of a conversation after a fetch, oldest first (jamid's `messageReceived`, one per commit). */
  message: [{ conversationId: string; message: SwarmMessage }];
  /** An invitation to a group (jamid's `conversationRequestReceived`); one-to-ones come as contact requests. */
  request: [ConversationRequest];
  /** A conversation is here and joined: cloned after an accept (jamid's `conversationReady`). */
  ready: [{ conversationId: string }];
  /** A member commit (add, join, remove, ban…) arrived or was made here (jamid's `conversationMemberEvent`). */
  member: [{ conversationId: string; jamiId: string; action: string }];
  /** A member is typing, or stopped (`active` false). */
  composing: [{ conversationId: string; from: string; active: boolean }];
  /** A member displayed messages up to `messageId` (an IMDN). */
  read: [{ conversationId: string; from: string; messageId: string }];
  /** A member's device fetched our history up to `head`: every message of ours in it is delivered to that member. */
  delivered: [{ conversationId: string; from: string; head: string }];
  /** A fetch refused by validation: which commit, which rule; nothing was stored. */
  error: [{ conversationId: string; from: string; error: Error }];
}

const HEX40 = /^[0-9a-f]{40}$/;
const ACTIVE_ROLES: ReadonlySet<string> = new Set(["admin", "member"]);

type Components = Pick<
  AccountComponents,
  "identity" | "store" | "network" | "inbox" | "trust" | "links" | "events" | "oneToOne" | "sync" | "lifetime" | "logger"
>;

/**
 * `account.conversations`: jamid's swarm conversations. Each is a git repository in `<dir>/conversations/<id>`
 * (jamid's layout), written as this device, served on `git://` to the devices of its members, fetched when a member
 * announces a commit over `sip` (and whenever a `sip` channel with a member comes up, and at start). One-to-ones
 * come with contacts (the trust request names the conversation, accepting clones it); groups with invitations.
 */
export class Conversations extends TypedEmitter<ConversationEvents> implements FeatureLifecycle {
  private readonly repos = new Map<string, SwarmRepository>();
  /** Conversations we left, still served until a member fetched the leave commit. */
  private readonly leaving = new Map<string, SwarmRepository>();
  private readonly root: string;
  private readonly fs: GitFs;
  private readonly git: ConversationGit;
  private readonly log;
  private requestBook?: ConversationRequestBook;
  private receipts?: ConversationReceipts;
  private notices?: ConversationNotices;
  private dhtMessages?: DhtMessages;
  private ownSync?: ConversationSync;
  /** Members of each conversation (admins, members, invited), kept for the archive (which is written synchronously). */
  private readonly memberCache = new Map<string, string[]>();
  private removeHandlers?: () => void;
  private readonly background = new Set<Promise<void>>();
  /** One fetch at a time per conversation: notices arriving together fetch once. */
  private readonly fetching = new Map<string, Promise<unknown>>();
  /** One clone-and-join per conversation at a time: an own device's sync and a member's `sip` channel may both ask. */
  private readonly joining = new Map<string, Promise<SwarmRepository>>();

  private readonly onChannel = ({ channel, peer }: { channel: Channel; peer: ChannelPeer }): void => {
    if (channel.name === "sip") this.notices?.attach(peer, channel);
    else if (GIT_CHANNEL.test(channel.name)) this.git.serve(channel, peer);
    else if (SYNC_CHANNEL.test(channel.name)) this.ownSync?.attach(channel, peer);
  };
  private readonly onTrustAccepted = ({ from, conversationId }: { from: string; conversationId: string }): void => {
    if (HEX40.test(conversationId) && !this.repos.has(conversationId))
      void this.cloneAndJoin(conversationId, from).catch((error: Error) => this.log("one-to-one %s with %s: %s", conversationId, from, error.message));
  };

  constructor(
    private readonly c: Components,
    options: { fs?: GitFs } = {},
  ) {
    super();
    this.root = join(c.identity.dir, "conversations");
    this.fs = options.fs ?? (nodeFs as unknown as GitFs);
    this.log = c.logger("conversations");
    this.git = new ConversationGit(
      c,
      (id) => this.repos.get(id) ?? this.leaving.get(id),
      (id, head, peer) => void this.onServed(id, head, peer),
    );
    c.sync.part("conversations", {
      build: () => ({}),
      apply: async () => undefined,
      // jamid's archive keys: a device imported from it clones these when a member shows up
      archive: () => ({
        conversations: Object.fromEntries([...this.repos.keys()].map((id) => [id, this.archiveInfo(id)])),
        conversationsRequests: Object.fromEntries(this.requestBook?.pending().map((r) => [r.conversationId, toWire(r)]) ?? []),
      }),
    });
    c.oneToOne.provide({
      conversationFor: (jamiId) => this.oneToOneWith(jamiId),
      discard: async (conversationId) => {
        const repo = this.repos.get(conversationId);
        if (!repo) return;
        this.repos.delete(conversationId);
        await removeTree(this.fs, repo.dir);
      },
    });
  }

  private repoOptions() {
    return { fs: this.fs, author: { device: this.c.identity.signingDevice, displayName: this.c.identity.deviceName } };
  }

  /** Opens the repositories on disk (a broken one is logged and left out, not fatal), the requests and receipts. */
  async load(): Promise<void> {
    this.requestBook = await ConversationRequestBook.open(this.c.store);
    this.receipts = await ConversationReceipts.open(this.c.store);
    let names: string[] = [];
    try {
      names = await this.fs.promises.readdir(this.root);
    } catch {
      // no conversations directory yet (a new device): nothing to open, but an imported archive may list some
    }
    for (const id of this.requestBook.left()) await this.erase(id);
    await this.adoptArchive();
    for (const name of names.filter((n) => HEX40.test(n) && !this.requestBook!.left().includes(n))) {
      try {
        this.repos.set(name, await SwarmRepository.open(join(this.root, name), this.repoOptions()));
        await this.refreshMembers(name);
      } catch (error) {
        this.log("conversation %s not loaded: %s", name, (error as Error).message);
      }
    }
  }

  async start(): Promise<void> {
    const onPayload = (payload: JamiPayload, peer: ChannelPeer): void =>
      void this.onPayload(payload, peer).catch((error: Error) => this.log("%s from %s: %s", payload.type, peer.jamiId, error.message));
    const dhtMessages = new DhtMessages(this.c, onPayload);
    this.dhtMessages = dhtMessages;
    dhtMessages.start();
    this.notices = new ConversationNotices(
      this.c,
      onPayload,
      (peer) => void this.syncWith(peer),
      (device, payload, options) => dhtMessages.send(device, payload, options),
    );
    this.ownSync = new ConversationSync(
      this.c,
      () => this.syncState(),
      (msg, from) => this.applySync(msg, from),
    );
    const removers = [
      this.c.links.handle(GIT_CHANNEL, async ({ name, peer }) => this.git.mayServe(GIT_CHANNEL.exec(name)![2]!, peer, GIT_CHANNEL.exec(name)![1])),
      // jamid accepts every `sip` channel; what arrives on it is checked message by message
      this.c.links.handle("sip"),
      this.c.links.handle(SYNC_CHANNEL, ({ name, peer }) => this.ownSync?.accepts(name, peer) ?? false),
    ];
    this.removeHandlers = () => removers.forEach((remove) => remove());
    this.c.links.on("channel", this.onChannel);
    this.c.events.on("trustAccepted", this.onTrustAccepted);
    // In the background: reach the members (each `sip` channel syncs what we share) and retry pending clones.
    void this.catchUp();
  }

  async stop(): Promise<void> {
    this.removeHandlers?.();
    this.c.links.off("channel", this.onChannel);
    this.c.events.off("trustAccepted", this.onTrustAccepted);
    this.notices?.close();
    this.notices = undefined;
    this.dhtMessages?.stop();
    this.dhtMessages = undefined;
    this.ownSync?.close();
    this.ownSync = undefined;
    this.git.close();
    await Promise.allSettled([...this.fetching.values()]);
  }

  private requireStarted(): ConversationNotices {
    if (!this.notices) throw new AccountError("NOT_STARTED", "the conversations feature is not started");
    return this.notices;
  }

  private requireRepo(conversationId: string): SwarmRepository {
    const repo = this.repos.get(conversationId);
    if (!repo) throw new AccountError("INVALID_ARGUMENT", `unknown conversation ${conversationId}`);
    return repo;
  }

  private books(): { requests: ConversationRequestBook; receipts: ConversationReceipts } {
    if (!this.requestBook || !this.receipts) throw new AccountError("NOT_STARTED", "the conversations feature is not loaded");
    return { requests: this.requestBook, receipts: this.receipts };
  }

  // ── what is here ──

  list(): string[] {
    return [...this.repos.keys()];
  }

  get(conversationId: string): SwarmRepository | undefined {
    return this.repos.get(conversationId);
  }

  /** Invitations not answered yet. */
  requests(): ConversationRequest[] {
    return this.books().requests.pending();
  }

  /** The history, newest first, in jamid's display order: `n` messages (default all) starting at `from` (jamid's `loadConversationMessages`). */
  loadMessages(conversationId: string, options: { n?: number; from?: string } = {}): Promise<SwarmMessage[]> {
    return this.requireRepo(conversationId).load(options);
  }

  /** The whole history, newest first, read a page at a time (each page starts at the previous one's next commit). */
  async *messages(conversationId: string, options: { pageSize?: number } = {}): AsyncGenerator<SwarmMessage> {
    const pageSize = Math.max(1, options.pageSize ?? 64);
    let from: string | undefined;
    for (;;) {
      const page = await this.loadMessages(conversationId, { n: pageSize, ...(from ? { from } : {}) });
      yield* page;
      const next = page[page.length - 1]?.linearizedParent;
      if (page.length < pageSize || !next) return;
      from = next;
    }
  }

  /** Where a message of ours stands with the other members (`sent` until a member's device fetched it). */
  async status(conversationId: string, messageId: string): Promise<DeliveryStatus> {
    const repo = this.requireRepo(conversationId);
    let status: DeliveryStatus = "sent";
    for (const [, marks] of this.books().receipts.marks(conversationId)) {
      if (marks.displayed && (await repo.contains(marks.displayed, messageId))) return "displayed";
      if (marks.fetched && (await repo.contains(marks.fetched, messageId))) status = "delivered";
    }
    return status;
  }

  // ── writing ──

  /** A new group written by this device (mode 2 by default), with an optional title; or a one-to-one (`invited`). */
  async create(options: { mode?: ConversationMode; invited?: string; profile?: ConversationProfile } = {}): Promise<SwarmRepository> {
    const mode = options.mode ?? 2;
    const repo = await SwarmRepository.create(this.root, { mode, ...(options.invited ? { invited: options.invited } : {}) }, this.repoOptions());
    this.repos.set(repo.conversationId, repo);
    await this.arrived(repo.conversationId);
    if (options.profile && mode !== 0) await repo.updateProfile(options.profile).catch((e: Error) => this.log("profile of a new group: %s", e.message));
    return repo;
  }

  /** The one-to-one with `jamiId`: the existing one, else a new mode-0 conversation inviting it (jamid's `addContact`). */
  private async oneToOneWith(jamiId: string): Promise<{ conversationId: string; created: boolean }> {
    for (const [conversationId, repo] of this.repos) {
      const info = await repo.initialInfo().catch(() => undefined);
      if (info?.mode === 0 && (info.invited === jamiId || info.creator === jamiId)) return { conversationId, created: false };
    }
    return { conversationId: (await this.create({ mode: 0, invited: jamiId })).conversationId, created: true };
  }

  /** Commits made here go to every member device (our other devices too), as jamid's `sendMessageNotification`. */
  async announce(conversationId: string, commit: string, options: AbortOptions = {}): Promise<number> {
    const notices = this.requireStarted();
    const repo = this.requireRepo(conversationId);
    const members = (await repo.members()).filter((m) => ACTIVE_ROLES.has(m.role)).map((m) => m.uri);
    return notices.notify({ conversationId, commit, deviceId: this.c.identity.deviceId.toString() }, members, options);
  }

  /** Commits `write`'s work and announces the last commit; resolves once it is committed (delivery goes on). */
  private async commitAndAnnounce<T extends string | string[]>(conversationId: string, write: (repo: SwarmRepository) => Promise<T>): Promise<T> {
    const repo = this.requireRepo(conversationId);
    const result = await write(repo);
    const last = (Array.isArray(result) ? result[result.length - 1] : result) as string | undefined;
    if (last) this.inBackground(this.announce(conversationId, last, { signal: this.c.lifetime }), "announce");
    return result;
  }

  /** Work that goes on after a call resolved (announcing a commit to the members), for `settled()`. */
  private inBackground(work: Promise<unknown>, what: string): void {
    const tracked = work.then(
      () => undefined,
      (e: Error) => this.log("%s: %s", what, e.message),
    );
    this.background.add(tracked);
    void tracked.finally(() => this.background.delete(tracked));
  }

  /**
   * Resolves once the announcements of the commits made so far went out (each member device took the notice, or
   * it failed): what a short-lived program (a CLI command, a script) waits for before it stops.
   */
  async settled(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  /** Posts a text message (optionally a reply); resolves with its id once committed. */
  send(conversationId: string, text: string, options: { replyTo?: string } & AbortOptions = {}): Promise<string> {
    return this.commitAndAnnounce(conversationId, (repo) => repo.sendText(text, options.replyTo ? { replyTo: options.replyTo } : {}));
  }

  /** Edits one of our text messages (jamid 13.7's `application/edited-message`). */
  edit(conversationId: string, messageId: string, text: string, _options: AbortOptions = {}): Promise<string> {
    return this.commitAndAnnounce(conversationId, (repo) => repo.edit(messageId, text));
  }

  react(conversationId: string, messageId: string, emoji: string, _options: AbortOptions = {}): Promise<string> {
    return this.commitAndAnnounce(conversationId, (repo) => repo.react(messageId, emoji));
  }

  /** Adds `jamiId` as invited, announces it to the members, and sends the invitation to its devices. */
  async invite(conversationId: string, jamiId: string, options: AbortOptions = {}): Promise<{ commit: string; devices: number }> {
    const notices = this.requireStarted();
    const commit = await this.commitAndAnnounce(conversationId, (repo) => repo.addMember(jamiId));
    this.emit("member", { conversationId, jamiId, action: "add" });
    const devices = await notices.send({ type: "invitation", invitation: await this.invitation(conversationId) }, [jamiId], options);
    return { commit, devices };
  }

  /** jamid's invitation body: the conversation's profile fields and its mode, as strings. */
  private async invitation(conversationId: string): Promise<{ conversationId: string; metadatas: Record<string, string> }> {
    const repo = this.requireRepo(conversationId);
    const vcf = await repo.readFile("profile.vcf");
    const profile = vcf ? readProfileVcf(new TextDecoder().decode(vcf)) : {};
    const metadatas: Record<string, string> = { mode: String(await repo.mode()) };
    for (const [k, v] of Object.entries(profile)) if (typeof v === "string") metadatas[k] = v;
    return { conversationId, metadatas };
  }

  /** Accepts an invitation: clones from the inviter, joins, and tells the members (`ready` once done). */
  async accept(conversationId: string, options: AbortOptions = {}): Promise<SwarmRepository> {
    const { requests } = this.books();
    const request = requests.get(conversationId);
    if (!request || request.declined !== undefined) throw new AccountError("NO_REQUEST", `no pending invitation to ${conversationId}`);
    await requests.remove(conversationId);
    return this.cloneAndJoin(conversationId, request.from, options);
  }

  /** Declines an invitation; it stays declined if sent again. */
  async decline(conversationId: string, _options: AbortOptions = {}): Promise<void> {
    const { requests } = this.books();
    if (!requests.get(conversationId)) throw new AccountError("NO_REQUEST", `no invitation to ${conversationId}`);
    await requests.decline(conversationId, Date.now());
    void this.ownSync?.broadcast();
  }

  /**
   * Leaves: the leave commit is announced to the members and the conversation is gone from `list()` at once; its
   * repository stays only to serve that commit, and is erased once a member fetched it (or at the next load).
   */
  async leave(conversationId: string, options: AbortOptions = {}): Promise<void> {
    const repo = this.requireRepo(conversationId);
    const commit = await repo.leave();
    const { requests } = this.books();
    await requests.setLeft(conversationId, true);
    await requests.setTimes(conversationId, { created: requests.times(conversationId)?.created ?? 0, removed: unixNow() });
    this.repos.delete(conversationId);
    this.leaving.set(conversationId, repo);
    this.memberCache.delete(conversationId);
    void this.ownSync?.broadcast();
    await this.books().receipts.forget(conversationId);
    const members = (await repo.members()).filter((m) => ACTIVE_ROLES.has(m.role)).map((m) => m.uri);
    await this.requireStarted()
      .notify({ conversationId, commit, deviceId: this.c.identity.deviceId.toString() }, members, options)
      .catch((e: Error) => this.log("leave notice: %s", e.message));
  }

  /** Erases a conversation we left, once its leave commit is out (or at load: the members had their chance). */
  private async erase(conversationId: string): Promise<void> {
    const repo = this.leaving.get(conversationId);
    this.leaving.delete(conversationId);
    const dir = repo?.dir ?? join(this.root, conversationId);
    await removeTree(this.fs, dir).catch((e: Error) => this.log("erasing %s: %s", conversationId, e.message));
    await this.books().requests.setLeft(conversationId, false);
  }

  /** An admin removes a member: a ban vote, and the ban once more than half the admins voted (jamid's rule). */
  async removeMember(conversationId: string, jamiId: string, _options: AbortOptions = {}): Promise<string[]> {
    const commits = await this.commitAndAnnounce(conversationId, (repo) => repo.ban(jamiId));
    if (commits.length > 1) this.emit("member", { conversationId, jamiId, action: "ban" });
    return commits;
  }

  /** Tells the members we are typing (or stopped). */
  async setComposing(conversationId: string, active: boolean, options: AbortOptions = {}): Promise<void> {
    await this.toMembers(conversationId, { type: "composing", conversationId, active }, options);
  }

  /** Tells the members we displayed the conversation up to `messageId` (an IMDN, as jamid's `setMessageDisplayed`). */
  async markDisplayed(conversationId: string, messageId: string, options: AbortOptions = {}): Promise<void> {
    await this.toMembers(conversationId, { type: "displayed", conversationId, messageId }, options);
  }

  private async toMembers(conversationId: string, payload: JamiPayload, options: AbortOptions): Promise<number> {
    const repo = this.requireRepo(conversationId);
    const self = this.c.identity.jamiId.toString();
    const members = (await repo.members()).filter((m) => ACTIVE_ROLES.has(m.role) && m.uri !== self).map((m) => m.uri);
    return this.requireStarted().send(payload, members, options);
  }

  // ── fetching ──

  /**
   * Clones `conversationId` from a member (a Jami ID, or one of its devices); the whole history is validated first
   * and nothing is written unless this account is listed as admin, member or invited.
   */
  async clone(conversationId: string, from: string | ChannelPeer, options: AbortOptions = {}): Promise<SwarmRepository> {
    if (this.repos.has(conversationId)) throw new AccountError("INVALID_ARGUMENT", `conversation ${conversationId} is already here`);
    const repo = await this.git.clone(this.root, conversationId, from, this.repoOptions(), options);
    this.repos.set(conversationId, repo);
    await this.arrived(conversationId);
    return repo;
  }

  /** Clones, joins if invited, and tells the members; an unreachable inviter is tried again when it shows up. */
  private cloneAndJoin(conversationId: string, from: string | ChannelPeer, options: AbortOptions = {}): Promise<SwarmRepository> {
    const running = this.joining.get(conversationId);
    if (running) return running;
    const run = this.cloneAndJoinNow(conversationId, from, options);
    this.joining.set(conversationId, run);
    void run.finally(() => this.joining.delete(conversationId)).catch(() => undefined);
    return run;
  }

  private async cloneAndJoinNow(conversationId: string, from: string | ChannelPeer, options: AbortOptions): Promise<SwarmRepository> {
    const { requests } = this.books();
    const known = requests.clones().find((p) => p.conversationId === conversationId);
    if (!known) await requests.addClone({ conversationId, from: typeof from === "string" ? from : from.jamiId, since: Date.now() });
    const repo = this.repos.get(conversationId) ?? (await this.clone(conversationId, from, options));
    await requests.removeClone(conversationId);
    if ((await repo.roleOf(this.c.identity.jamiId.toString())) === "invited") {
      const joined = await repo.join();
      this.emit("member", { conversationId, jamiId: this.c.identity.jamiId.toString(), action: "join" });
      await this.announce(conversationId, joined, options).catch((e: Error) => this.log("join notice: %s", e.message));
    }
    this.emit("ready", { conversationId });
    return repo;
  }

  /**
   * Fetches `conversationId` from a member's device, validates, stores and merges (jamid's `pull`); emits `message`
   * for each new commit, or `error` (and rejects) when a commit is refused.
   */
  async fetch(conversationId: string, from: string | ChannelPeer, options: AbortOptions = {}): Promise<FetchOutcome> {
    const repo = this.requireRepo(conversationId);
    const previous = this.fetching.get(conversationId) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.fetchNow(repo, from, options));
    this.fetching.set(conversationId, run);
    void run.finally(() => this.fetching.get(conversationId) === run && this.fetching.delete(conversationId)).catch(() => undefined);
    return run;
  }

  private async fetchNow(repo: SwarmRepository, from: string | ChannelPeer, options: AbortOptions): Promise<FetchOutcome> {
    const conversationId = repo.conversationId;
    try {
      const { outcome } = await this.git.fetch(repo, from, options);
      for (const message of outcome.newCommits) {
        this.emit("message", { conversationId, message });
        if (message.body.type === "member") this.emit("member", { conversationId, jamiId: message.body.uri, action: message.body.action });
      }
      if (outcome.newCommits.some((m) => m.body.type === "member")) await this.refreshMembers(conversationId);
      return outcome;
    } catch (error) {
      if (error instanceof CommitRejectedError && this.listenerCount("error") > 0)
        this.emit("error", { conversationId, from: typeof from === "string" ? from : from.deviceId, error });
      throw error;
    }
  }

  // ── own devices ──

  /** A conversation is here (created or cloned): its times, its members, and the news for our other devices. */
  private async arrived(conversationId: string): Promise<void> {
    const { requests } = this.books();
    if (!requests.times(conversationId)) await requests.setTimes(conversationId, { created: unixNow() });
    await this.refreshMembers(conversationId);
    void this.ownSync?.broadcast();
  }

  private async refreshMembers(conversationId: string): Promise<void> {
    const repo = this.repos.get(conversationId);
    if (repo)
      this.memberCache.set(
        conversationId,
        (await repo.members()).filter((m) => SERVED_ROLES.has(m.role)).map((m) => m.uri),
      );
  }

  private archiveInfo(conversationId: string): Record<string, unknown> {
    const times = this.requestBook?.times(conversationId);
    return {
      id: conversationId,
      created: times?.created ?? 0,
      members: (this.memberCache.get(conversationId) ?? []).map((uri) => ({ uri })),
      lastDisplayed: "",
    };
  }

  /** What our other devices are told: our conversations (those we left as removed) and the invitations. */
  private async syncState(): Promise<SyncMsg> {
    const { requests } = this.books();
    const conversations: Record<string, ConvInfo> = {};
    for (const id of this.repos.keys())
      conversations[id] = { id, created: requests.times(id)?.created ?? 0, removed: 0, erased: 0, members: this.memberCache.get(id) ?? [], lastDisplayed: "" };
    for (const id of requests.left()) {
      const times = requests.times(id);
      conversations[id] = { id, created: times?.created ?? 0, removed: times?.removed ?? unixNow(), erased: 0, members: [], lastDisplayed: "" };
    }
    return { conversations, requests: Object.fromEntries(requests.all().map((r) => [r.conversationId, toWire(r)])) };
  }

  /** jamid 13.7's `onSyncData`: clone what another own device has, drop what it left, take its invitations. */
  private async applySync(msg: SyncMsg, from: ChannelPeer): Promise<void> {
    const { requests } = this.books();
    for (const info of Object.values(msg.conversations)) {
      const here = this.repos.get(info.id);
      if (info.removed === 0) {
        const removedHere = requests.times(info.id)?.removed;
        if (here || this.leaving.has(info.id) || (removedHere !== undefined && removedHere > info.created)) continue;
        await requests.remove(info.id);
        await this.cloneFromOwnDevice(info.id, from);
      } else if (here) {
        // left on the other device (its leave commit is made there): gone here too, directory first
        await requests.setTimes(info.id, { created: requests.times(info.id)?.created ?? 0, removed: info.removed });
        await removeTree(this.fs, here.dir).catch((e: Error) => this.log("erasing %s: %s", info.id, e.message));
        this.repos.delete(info.id);
        this.memberCache.delete(info.id);
      }
    }
    for (const r of Object.values(msg.requests)) {
      if (this.repos.has(r.conversationId)) continue;
      const known = requests.get(r.conversationId);
      if (r.declined) {
        if (known && known.declined === undefined) await requests.decline(r.conversationId, r.declined * 1000);
        continue;
      }
      const request: ConversationRequest = { conversationId: r.conversationId, from: r.from, received: r.received * 1000, metadatas: r.metadatas };
      if (!known && (await requests.add(request))) this.emit("request", request);
    }
  }

  /**
   * Clones a conversation another device of ours has, from that device. A failure (the link dropped) is tried again
   * once shortly after, then left as a pending clone from our own account: the next `sip` channel with one of our
   * devices (or the next start) clones it.
   */
  private async cloneFromOwnDevice(conversationId: string, from: ChannelPeer): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.cloneAndJoin(conversationId, from, { signal: this.c.lifetime });
        return;
      } catch (error) {
        this.log("clone of %s from our device %s: %s", conversationId, from.deviceId.slice(0, 8), (error as Error).message);
        if (this.repos.has(conversationId) || this.c.lifetime.aborted) return;
        // left as the pending clone cloneAndJoin recorded: the next `sip` channel with one of our devices clones it
        if (attempt >= 1) return;
        await sleep(2000, { signal: this.c.lifetime });
      }
    }
  }

  /** An imported archive's conversations we do not have: cloned from a member when one of its devices shows up. */
  private async adoptArchive(): Promise<void> {
    const { requests } = this.books();
    const self = this.c.identity.jamiId.toString();
    for (const [id, info] of Object.entries(this.c.identity.archiveConversations)) {
      if (!HEX40.test(id) || info.removed || this.repos.has(id) || requests.clones().some((p) => p.conversationId === id)) continue;
      if (requests.times(id)) continue; // seen here before (cloned then left, or adopted already)
      const members = (info.members ?? []).map((m) => m.uri).filter((uri) => HEX40.test(uri));
      const from = members.find((uri) => uri !== self) ?? self;
      await requests.addClone({ conversationId: id, from, since: Date.now(), members: [...new Set([...members, self])] });
    }
  }

  // ── what arrives ──

  private async onPayload(payload: JamiPayload, peer: ChannelPeer): Promise<void> {
    switch (payload.type) {
      case "git-notice": {
        const { conversationId, commit } = payload.notice;
        const repo = this.repos.get(conversationId);
        if (!repo) return; // unknown: jamid asks for an invitation, we wait for one
        if (!SERVED_ROLES.has((await repo.roleOf(peer.jamiId)) ?? "")) return;
        if (await repo.store.has(commit)) return;
        await this.fetch(conversationId, peer).catch((error: Error) => this.log("fetch after a notice: %s", error.message));
        return;
      }
      case "invitation":
        return this.onInvitation(payload.invitation, peer);
      case "invitation-request": {
        // a member asks us to send the invitation again: only to someone invited there
        const repo = this.repos.get(payload.conversationId);
        if (!repo || (await repo.roleOf(peer.jamiId)) !== "invited") return;
        await this.requireStarted().send({ type: "invitation", invitation: await this.invitation(payload.conversationId) }, [peer.jamiId]);
        return;
      }
      case "composing":
      case "displayed": {
        const conversationId = payload.conversationId;
        const repo = conversationId ? this.repos.get(conversationId) : undefined;
        if (!repo || !conversationId || !ACTIVE_ROLES.has((await repo.roleOf(peer.jamiId)) ?? "")) return;
        if (payload.type === "composing") return void this.emit("composing", { conversationId, from: peer.jamiId, active: payload.active });
        if (!HEX40.test(payload.messageId) || !(await repo.store.has(payload.messageId))) return;
        if (await this.books().receipts.mark(conversationId, peer.jamiId, "displayed", payload.messageId))
          this.emit("read", { conversationId, from: peer.jamiId, messageId: payload.messageId });
        return;
      }
      default:
        return;
    }
  }

  /** jamid stores an invitation from anyone who can reach us over a link (banned accounts cannot). */
  private async onInvitation(invitation: { conversationId: string; metadatas: Record<string, string> }, peer: ChannelPeer): Promise<void> {
    if (this.repos.has(invitation.conversationId)) return;
    const request: ConversationRequest = {
      conversationId: invitation.conversationId,
      from: peer.jamiId,
      received: Date.now(),
      metadatas: invitation.metadatas,
    };
    if (await this.books().requests.add(request)) {
      this.emit("request", request);
      void this.ownSync?.broadcast();
    }
  }

  private async onServed(conversationId: string, head: string, peer: ChannelPeer): Promise<void> {
    const left = this.leaving.get(conversationId);
    if (left) return void (head === (await left.head()) && (await this.erase(conversationId)));
    if (peer.jamiId === this.c.identity.jamiId.toString()) return;
    if (await this.books().receipts.mark(conversationId, peer.jamiId, "fetched", head)) this.emit("delivered", { conversationId, from: peer.jamiId, head });
  }

  /** jamid, when a `sip` channel comes up: fetch what we share with that account, clone what waits on it. */
  private async syncWith(peer: ChannelPeer): Promise<void> {
    for (const pending of this.requestBook?.clones() ?? []) {
      const candidate = pending.from === peer.jamiId || (pending.members ?? []).includes(peer.jamiId);
      if (candidate && !this.repos.has(pending.conversationId))
        await this.cloneAndJoin(pending.conversationId, peer, { signal: this.c.lifetime }).catch((e: Error) =>
          this.log("pending clone of %s from %s: %s", pending.conversationId, peer.deviceId.slice(0, 8), e.message),
        );
    }
    for (const [id, repo] of this.repos) {
      const role = await repo.roleOf(peer.jamiId).catch(() => undefined);
      if (!ACTIVE_ROLES.has(role ?? "")) continue;
      await this.fetch(id, peer, { signal: this.c.lifetime }).catch((error: Error) =>
        this.log("sync of %s with %s: %s", id, peer.deviceId.slice(0, 8), error.message),
      );
    }
  }

  /**
   * At start: a `sip` channel to every member we share a conversation with and to our other devices (jamid opens one
   * to each own device it finds, beside `sync://`), and the clones still to do.
   */
  private async catchUp(): Promise<void> {
    const self = this.c.identity.jamiId.toString();
    const accounts = new Set<string>([self]);
    for (const repo of this.repos.values()) {
      for (const m of await repo.members().catch(() => [])) if (ACTIVE_ROLES.has(m.role) && m.uri !== self) accounts.add(m.uri);
    }
    for (const pending of this.requestBook?.clones() ?? []) for (const uri of [pending.from, ...(pending.members ?? [])]) accounts.add(uri);
    await Promise.allSettled([
      ...[...accounts].map((jamiId) => this.notices?.reach(jamiId, { signal: this.c.lifetime })),
      this.ownSync?.reachOwnDevices({ signal: this.c.lifetime }),
    ]);
  }
}

function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

/** A request as jamid syncs and archives it (times in Unix seconds). */
function toWire(r: ConversationRequest): { from: string; conversationId: string; metadatas: Record<string, string>; received: number; declined: number } {
  return {
    from: r.from,
    conversationId: r.conversationId,
    metadatas: r.metadatas,
    received: Math.floor(r.received / 1000),
    declined: r.declined ? Math.floor(r.declined / 1000) : 0,
  };
}

/** Deletes a directory and what it holds through the injected file system (which has no recursive remove). */
async function removeTree(fs: GitFs, path: string): Promise<void> {
  const stat = (await fs.promises.lstat(path)) as { isDirectory(): boolean };
  if (!stat.isDirectory()) return fs.promises.unlink(path);
  for (const name of await fs.promises.readdir(path)) await removeTree(fs, `${path}/${name}`);
  await fs.promises.rmdir(path);
}

/** The feature factory: `Account.create({ ..., features: { conversations: conversations() } })` → `account.conversations`. */
export function conversations(options: { fs?: GitFs } = {}): (c: AccountComponents) => Conversations {
  return (c) => new Conversations(c, options);
}
