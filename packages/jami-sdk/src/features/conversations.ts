import * as nodeFs from "node:fs";
import { join } from "node:path";
import { TypedEmitter, type AbortOptions } from "jami-core";
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
import type { SyncMsg } from "../dht/sync-msg.js";
import { AccountError } from "../errors.js";
import type { ConversationEvents } from "./conversation-events.js";
import { ConversationFiles, FILE_CHANNEL, type FileMessage } from "./conversation-files.js";
import { ConversationGit, GIT_CHANNEL } from "./conversation-git.js";
import { ConversationNotices } from "./conversation-notices.js";
import { MESSAGE_CHANNEL, MessageChannels } from "./message-channels.js";
import { OwnDeviceConversations } from "./conversation-own-devices.js";
import { ConversationPayloads } from "./conversation-payloads.js";
import { ConversationReceipts, type DeliveryStatus } from "./conversation-receipts.js";
import { ConversationRequestBook, type ConversationRequest } from "./conversation-requests.js";
import { startCacheRelease, type CacheReleaseOptions } from "./conversation-cache-release.js";
import { ConversationShelf, unixNow } from "./conversation-shelf.js";
import { MemberStatusSync } from "./conversation-statuses.js";
import { ConversationSync, SYNC_CHANNEL } from "./conversation-sync.js";
import { DhtMessages } from "./dht-messages.js";
import type { ChannelPeer } from "./links.js";

export type { ConversationEvents, ConversationRequest, DeliveryStatus, FileMessage };

const HEX40 = /^[0-9a-f]{40}$/;
const ACTIVE_ROLES: ReadonlySet<string> = new Set(["admin", "member"]);

type Components = Pick<
  AccountComponents,
  "identity" | "store" | "network" | "inbox" | "trust" | "links" | "events" | "oneToOne" | "membership" | "sync" | "ownCard" | "lifetime" | "logger"
>;

/**
 * `account.conversations`: jamid's swarm conversations. Each is a git repository in `<dir>/conversations/<id>`
 * (jamid's layout), written as this device, served on `git://` to the devices of its members, fetched when a member
 * announces a commit over `sip` (and whenever a `sip` channel with a member comes up, and at start). One-to-ones
 * come with contacts (the trust request names the conversation, accepting clones it); groups with invitations.
 *
 * This class is the facade and the writing side; its parts: `ConversationShelf` (what is here),
 * `OwnDeviceConversations` (our other devices and archives), `ConversationPayloads` (what members send),
 * `ConversationGit` (serving and fetching), `ConversationNotices` (`sip` and the DHT fallback).
 */
export class Conversations extends TypedEmitter<ConversationEvents> implements FeatureLifecycle {
  private readonly shelf: ConversationShelf;
  private readonly git: ConversationGit;
  private readonly own: OwnDeviceConversations;
  private readonly statuses: MemberStatusSync;
  private readonly payloads: ConversationPayloads;
  private readonly files: ConversationFiles;
  private readonly log;
  private requestBook?: ConversationRequestBook;
  private receipts?: ConversationReceipts;
  private notices?: ConversationNotices;
  private messageChannels?: MessageChannels;
  private dhtMessages?: DhtMessages;
  private ownSync?: ConversationSync;
  private removeHandlers?: () => void;
  private readonly background = new Set<Promise<void>>();
  /** One fetch at a time per conversation: notices arriving together fetch once. */
  private readonly fetching = new Map<string, Promise<unknown>>();
  /** One clone-and-join per conversation at a time: an own device's sync and a member's `sip` channel may both ask. */
  private readonly joining = new Map<string, Promise<SwarmRepository>>();

  private readonly onChannel = ({ channel, peer }: { channel: Channel; peer: ChannelPeer }): void => {
    if (channel.name === "sip") this.notices?.attach(peer, channel);
    else if (MESSAGE_CHANNEL.test(channel.name)) this.messageChannels?.attach(channel, peer);
    else if (GIT_CHANNEL.test(channel.name)) this.git.serve(channel, peer);
    else if (SYNC_CHANNEL.test(channel.name)) this.ownSync?.attach(channel, peer);
    else if (FILE_CHANNEL.test(channel.name)) void this.files.serve(channel, peer);
  };
  /** The account's state changed (contacts…): own devices linked by `sync://` get the DeviceSync there too. */
  private readonly onSyncRequested = (): void => this.ownSync?.sendDeviceSync();
  private readonly onTrustAccepted = ({ from, conversationId }: { from: string; conversationId: string }): void => {
    if (HEX40.test(conversationId) && !this.shelf.repos.has(conversationId))
      void this.cloneAndJoin(conversationId, from, { signal: this.c.lifetime }).catch((error: Error) =>
        this.log("one-to-one %s with %s: %s", conversationId, from, error.message),
      );
  };

  private readonly cacheRelease: CacheReleaseOptions;
  private stopCacheRelease?: () => void;

  constructor(
    private readonly c: Components,
    options: ConversationsOptions = {},
  ) {
    super();
    this.cacheRelease = options;
    const fs = options.fs ?? (nodeFs as unknown as GitFs);
    this.shelf = new ConversationShelf(join(c.identity.dir, "conversations"), fs, () => ({
      fs,
      author: {
        device: c.identity.signingDevice,
        // a commit's author name, as jamid's: the account's display name (our profile's), else the device id
        get displayName() {
          return c.ownCard.displayName();
        },
      },
    }));
    this.log = c.logger("conversations");
    this.git = new ConversationGit(
      c,
      (id) => this.shelf.repos.get(id) ?? this.shelf.leaving.get(id),
      (id, head, peer) => void this.onServed(id, head, peer),
    );
    this.own = new OwnDeviceConversations(c, this.shelf, () => this.books().requests, {
      cloneAndJoin: (id, from, opts) => this.cloneAndJoin(id, from, opts),
      requested: (request) => this.emit("request", request),
    });
    this.statuses = new MemberStatusSync(
      c.identity.jamiId.toString(),
      this.shelf,
      () => this.books().receipts,
      (event, ...args) => this.emit(event, ...args),
    );
    this.payloads = new ConversationPayloads(this.shelf, (event, ...args) => this.emit(event, ...args), {
      books: () => this.books(),
      fetch: (id, peer) => this.fetch(id, peer, { signal: this.c.lifetime }).catch((error: Error) => this.log("fetch after a notice: %s", error.message)),
      resendInvitation: async (id, peer) => this.requireStarted().send({ type: "invitation", invitation: await this.invitation(id) }, [peer.jamiId]),
      invited: () => void this.ownSync?.broadcast(),
      marked: (id) => this.tellOwnDevices(id),
    });
    this.files = new ConversationFiles(
      c,
      this.shelf,
      (p) => this.emit("progress", p),
      (f) => this.emit("file", f),
    );
    c.sync.part("conversations", {
      build: () => ({}),
      apply: async () => undefined,
      archive: () => (this.requestBook ? this.own.archiveFields() : {}),
    });
    c.membership.provide({
      roleOf: async (id, jamiId) => this.shelf.repos.get(id)?.roleOf(jamiId),
      members: async (id) => ((await this.shelf.repos.get(id)?.members()) ?? []).filter((m) => ACTIVE_ROLES.has(m.role)).map((m) => m.uri),
      mode: async (id) => this.shelf.repos.get(id)?.mode(),
    });
    c.oneToOne.provide({
      conversationFor: (jamiId) => this.oneToOneWith(jamiId),
      discard: async (conversationId) => {
        const repo = this.shelf.forget(conversationId);
        if (repo) await this.shelf.removeTree(repo.dir);
      },
    });
  }

  /** Opens the repositories on disk (a broken one is logged and left out, not fatal), the requests and receipts. */
  async load(): Promise<void> {
    this.requestBook = await ConversationRequestBook.open(this.c.store);
    this.receipts = await ConversationReceipts.open(this.c.store);
    await this.files.load();
    let names: string[] = [];
    try {
      names = await this.shelf.fs.promises.readdir(this.shelf.root);
    } catch {
      // no conversations directory yet (a new device): nothing to open, but an imported archive may list some
    }
    for (const id of this.requestBook.left()) await this.erase(id);
    await this.own.adoptArchive();
    for (const name of names.filter((n) => HEX40.test(n) && !this.requestBook!.left().includes(n))) {
      try {
        this.shelf.repos.set(name, await SwarmRepository.open(this.shelf.dirOf(name), this.shelf.repoOptions()));
        await this.shelf.refreshMembers(name);
      } catch (error) {
        this.log("conversation %s not loaded: %s", name, (error as Error).message);
      }
    }
  }

  async start(): Promise<void> {
    const onPayload = (payload: JamiPayload, peer: ChannelPeer): void =>
      void this.payloads.handle(payload, peer).catch((error: Error) => this.log("%s from %s: %s", payload.type, peer.jamiId, error.message));
    const dhtMessages = new DhtMessages(this.c, onPayload);
    this.dhtMessages = dhtMessages;
    dhtMessages.start();
    const messageChannels = new MessageChannels(this.c, onPayload, (peer) => void this.syncWith(peer));
    this.messageChannels = messageChannels;
    this.notices = new ConversationNotices(
      this.c,
      onPayload,
      (peer) => void this.syncWith(peer),
      (device, payload, options) => dhtMessages.send(device, payload, options),
      messageChannels,
    );
    this.ownSync = new ConversationSync(
      this.c,
      async () => this.ownState(),
      async (msg, from) => {
        await this.own.apply(msg, from);
        if (msg.statuses) await this.statuses.apply(msg.statuses);
      },
    );
    const removers = [
      this.c.links.handle(GIT_CHANNEL, async ({ name, peer }) => this.git.mayServe(GIT_CHANNEL.exec(name)![2]!, peer, GIT_CHANNEL.exec(name)![1])),
      // jamid accepts every `sip` channel; what arrives on it is checked message by message
      this.c.links.handle("sip"),
      // today's daemons tell us things on `msg:<this device>` instead
      this.c.links.handle(MESSAGE_CHANNEL, ({ name }) => messageChannels.accepts(name)),
      this.c.links.handle(SYNC_CHANNEL, ({ name, peer }) => this.ownSync?.accepts(name, peer) ?? false),
      // a member's device asking a complete file we hold (jamid's rule)
      this.c.links.handle(FILE_CHANNEL, ({ name, peer }) => this.files.mayServe(name, peer)),
    ];
    this.removeHandlers = () => removers.forEach((remove) => remove());
    this.c.links.on("channel", this.onChannel);
    this.c.events.on("trustAccepted", this.onTrustAccepted);
    this.c.events.on("syncRequested", this.onSyncRequested);
    this.stopCacheRelease = startCacheRelease(this.shelf, this.cacheRelease);
    // In the background: reach the members (each `sip` channel syncs what we share) and retry pending clones.
    void this.catchUp();
  }

  async stop(): Promise<void> {
    this.stopCacheRelease?.();
    this.stopCacheRelease = undefined;
    this.removeHandlers?.();
    this.c.links.off("channel", this.onChannel);
    this.c.events.off("trustAccepted", this.onTrustAccepted);
    this.c.events.off("syncRequested", this.onSyncRequested);
    this.notices?.close();
    this.notices = undefined;
    this.messageChannels?.close();
    this.messageChannels = undefined;
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

  private books(): { requests: ConversationRequestBook; receipts: ConversationReceipts } {
    if (!this.requestBook || !this.receipts) throw new AccountError("NOT_STARTED", "the conversations feature is not loaded");
    return { requests: this.requestBook, receipts: this.receipts };
  }

  // ── what is here ──

  list(): string[] {
    return [...this.shelf.repos.keys()];
  }

  get(conversationId: string): SwarmRepository | undefined {
    return this.shelf.repos.get(conversationId);
  }

  /** Invitations not answered yet. */
  requests(): ConversationRequest[] {
    return this.books().requests.pending();
  }

  /** The history, newest first, in jamid's display order: `n` messages (default all) starting at `from` (jamid's `loadConversationMessages`). */
  loadMessages(conversationId: string, options: { n?: number; from?: string } = {}): Promise<SwarmMessage[]> {
    return this.shelf.require(conversationId).load(options);
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
    const repo = this.shelf.require(conversationId);
    let status: DeliveryStatus = "sent";
    const self = this.c.identity.jamiId.toString();
    for (const [member, marks] of this.books().receipts.marks(conversationId)) {
      if (member === self) continue; // where our other devices stand is no receipt
      if (marks.displayed && (await repo.contains(marks.displayed, messageId))) return "displayed";
      if (marks.fetched && (await repo.contains(marks.fetched, messageId))) status = "delivered";
    }
    return status;
  }

  // ── writing ──

  /** A new group written by this device (mode 2 by default), with an optional title; or a one-to-one (`invited`). */
  async create(options: { mode?: ConversationMode; invited?: string; profile?: ConversationProfile } = {}): Promise<SwarmRepository> {
    const mode = options.mode ?? 2;
    const repo = await SwarmRepository.create(this.shelf.root, { mode, ...(options.invited ? { invited: options.invited } : {}) }, this.shelf.repoOptions());
    this.shelf.repos.set(repo.conversationId, repo);
    await this.arrived(repo.conversationId);
    if (options.profile && mode !== 0) await repo.updateProfile(options.profile).catch((e: Error) => this.log("profile of a new group: %s", e.message));
    return repo;
  }

  /** The one-to-one with `jamiId`: the existing one, else a new mode-0 conversation inviting it (jamid's `addContact`). */
  private async oneToOneWith(jamiId: string): Promise<{ conversationId: string; created: boolean }> {
    for (const [conversationId, repo] of this.shelf.repos) {
      const info = await repo.initialInfo().catch(() => undefined);
      if (info?.mode === 0 && (info.invited === jamiId || info.creator === jamiId)) return { conversationId, created: false };
    }
    return { conversationId: (await this.create({ mode: 0, invited: jamiId })).conversationId, created: true };
  }

  /** Commits made here go to every member device (our other devices too), as jamid's `sendMessageNotification`. */
  async announce(conversationId: string, commit: string, options: AbortOptions = {}): Promise<number> {
    const notices = this.requireStarted();
    const repo = this.shelf.require(conversationId);
    const members = (await repo.members()).filter((m) => ACTIVE_ROLES.has(m.role)).map((m) => m.uri);
    return notices.notify({ conversationId, commit, deviceId: this.c.identity.deviceId.toString() }, members, options);
  }

  /** Commits `write`'s work and announces the last commit; resolves once it is committed (delivery goes on). */
  private async commitAndAnnounce<T extends string | string[]>(conversationId: string, write: (repo: SwarmRepository) => Promise<T>): Promise<T> {
    const repo = this.shelf.require(conversationId);
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

  /**
   * Sends a file: a `data-transfer` commit naming it (SHA3-512 and size, read as a stream), announced to the members,
   * whose devices then ask its bytes from ours (served from the original, linked: keep it where it is).
   */
  async sendFile(conversationId: string, path: string, options: { displayName?: string; replyTo?: string } & AbortOptions = {}): Promise<FileMessage> {
    const file = await this.files.send(conversationId, path, options);
    this.inBackground(this.announce(conversationId, file.messageId, { signal: this.c.lifetime }), "announce");
    return file;
  }

  /**
   * Downloads the file of a file message to `toPath` and resolves with that path once its SHA3-512 matches: resumed
   * from what is already at `toPath`, from any member device that holds it; `progress` events on the way.
   */
  download(conversationId: string, messageId: string, toPath: string, options: AbortOptions = {}): Promise<string> {
    return this.files.download(conversationId, messageId, toPath, options);
  }

  /** Downloads not finished yet: each is tried again when a member device of its conversation shows up (`file` event). */
  pendingDownloads(): Array<{ conversationId: string; messageId: string; fileId: string; target: string }> {
    return this.files.pending();
  }

  /** The conversation's profile (`profile.vcf`: title, description, avatar…) and its mode (jamid's `conversationInfos`). */
  async profile(conversationId: string): Promise<ConversationProfile & { mode: ConversationMode }> {
    const repo = this.shelf.require(conversationId);
    const vcf = await repo.readFile("profile.vcf");
    return { ...(vcf ? readProfileVcf(new TextDecoder().decode(vcf)) : {}), mode: await repo.mode() };
  }

  /**
   * Merges `update` into the conversation's profile (an `application/update-profile` commit, admins only as in
   * jamid 13.7: a member gets the swarm layer's refusal) and announces it; members get a `profile` event.
   */
  async updateProfile(conversationId: string, update: ConversationProfile, _options: AbortOptions = {}): Promise<string> {
    const commit = await this.commitAndAnnounce(conversationId, (repo) => repo.updateProfile(update));
    this.emit("profile", { conversationId, profile: await this.profile(conversationId) });
    return commit;
  }

  /** Adds `jamiId` as invited, announces it to the members, and sends the invitation to its devices. */
  async invite(conversationId: string, jamiId: string, options: AbortOptions = {}): Promise<{ commit: string; devices: number }> {
    const notices = this.requireStarted();
    const commit = await this.commitAndAnnounce(conversationId, (repo) => repo.addMember(jamiId));
    await this.shelf.refreshMembers(conversationId);
    this.emit("member", { conversationId, jamiId, action: "add" });
    const devices = await notices.send({ type: "invitation", invitation: await this.invitation(conversationId) }, [jamiId], options);
    return { commit, devices };
  }

  /** jamid's invitation body: the conversation's profile fields and its mode, as strings. */
  private async invitation(conversationId: string): Promise<{ conversationId: string; metadatas: Record<string, string> }> {
    const repo = this.shelf.require(conversationId);
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
    const repo = this.shelf.require(conversationId);
    const commit = await repo.leave();
    const { requests } = this.books();
    await requests.setLeft(conversationId, true);
    await requests.setTimes(conversationId, { created: requests.times(conversationId)?.created ?? 0, removed: unixNow() });
    this.shelf.forget(conversationId);
    this.shelf.leaving.set(conversationId, repo);
    void this.ownSync?.broadcast();
    await this.books().receipts.forget(conversationId);
    const members = (await repo.members()).filter((m) => ACTIVE_ROLES.has(m.role)).map((m) => m.uri);
    await this.requireStarted()
      .notify({ conversationId, commit, deviceId: this.c.identity.deviceId.toString() }, members, options)
      .catch((e: Error) => this.log("leave notice: %s", e.message));
  }

  /** Erases a conversation we left, once its leave commit is out (or at load: the members had their chance). */
  private async erase(conversationId: string): Promise<void> {
    const repo = this.shelf.leaving.get(conversationId);
    this.shelf.leaving.delete(conversationId);
    const dir = repo?.dir ?? this.shelf.dirOf(conversationId);
    await this.shelf.removeTree(dir).catch((e: Error) => this.log("erasing %s: %s", conversationId, e.message));
    await this.books().requests.setLeft(conversationId, false);
  }

  /** An admin removes a member: a ban vote, and the ban once more than half the admins voted (jamid's rule). */
  async removeMember(conversationId: string, jamiId: string, _options: AbortOptions = {}): Promise<string[]> {
    const commits = await this.commitAndAnnounce(conversationId, (repo) => repo.ban(jamiId));
    await this.shelf.refreshMembers(conversationId);
    if (commits.length > 1) this.emit("member", { conversationId, jamiId, action: "ban" });
    return commits;
  }

  /** Tells the members we are typing (or stopped). */
  async setComposing(conversationId: string, active: boolean, options: AbortOptions = {}): Promise<void> {
    await this.toMembers(conversationId, { type: "composing", conversationId, active }, options);
  }

  /** Tells the members we displayed the conversation up to `messageId` (an IMDN, as jamid's `setMessageDisplayed`). */
  async markDisplayed(conversationId: string, messageId: string, options: AbortOptions = {}): Promise<void> {
    this.shelf.require(conversationId);
    // our other devices learn it too (jamid keeps its own account's mark among the members')
    if (await this.books().receipts.mark(conversationId, this.c.identity.jamiId.toString(), "displayed", messageId, unixNow()))
      this.tellOwnDevices(conversationId);
    await this.toMembers(conversationId, { type: "displayed", conversationId, messageId }, options);
  }

  private async toMembers(conversationId: string, payload: JamiPayload, options: AbortOptions): Promise<number> {
    const repo = this.shelf.require(conversationId);
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
    if (this.shelf.repos.has(conversationId)) throw new AccountError("INVALID_ARGUMENT", `conversation ${conversationId} is already here`);
    const { repo, deviceId } = await this.git.clone(this.shelf.root, conversationId, from, this.shelf.repoOptions(), options);
    this.shelf.repos.set(conversationId, repo);
    await this.arrived(conversationId);
    this.c.events.emit("conversationCloned", { conversationId, peer: { jamiId: typeof from === "string" ? from : from.jamiId, deviceId } });
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
    const repo = this.shelf.repos.get(conversationId) ?? (await this.clone(conversationId, from, options));
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
    const repo = this.shelf.require(conversationId);
    const previous = this.fetching.get(conversationId) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.fetchNow(repo, from, options));
    this.fetching.set(conversationId, run);
    void run.finally(() => this.fetching.get(conversationId) === run && this.fetching.delete(conversationId)).catch(() => undefined);
    return run;
  }

  private async fetchNow(repo: SwarmRepository, from: string | ChannelPeer, options: AbortOptions): Promise<FetchOutcome> {
    const conversationId = repo.conversationId;
    try {
      const { outcome, deviceId } = await this.git.fetch(repo, from, options);
      this.c.events.emit("conversationSynced", { conversationId, peer: { jamiId: typeof from === "string" ? from : from.jamiId, deviceId } });
      for (const message of outcome.newCommits) {
        this.emit("message", { conversationId, message });
        if (message.body.type === "member") this.emit("member", { conversationId, jamiId: message.body.uri, action: message.body.action });
      }
      if (outcome.newCommits.some((m) => m.body.type === "member")) await this.shelf.refreshMembers(conversationId);
      // only an update-profile commit may change profile.vcf (validation refuses any other that does)
      if (outcome.newCommits.some((m) => m.body.type === "application/update-profile"))
        this.emit("profile", { conversationId, profile: await this.profile(conversationId) });
      return outcome;
    } catch (error) {
      if (error instanceof CommitRejectedError && this.listenerCount("error") > 0)
        this.emit("error", { conversationId, from: typeof from === "string" ? from : from.deviceId, error });
      throw error;
    }
  }

  // ── own devices ──

  /** What our other devices are told on `sync://`: conversations, invitations, where the members stand. */
  private ownState(): SyncMsg {
    const state = this.own.state();
    const receipts = this.books().receipts;
    const self = this.c.identity.jamiId.toString();
    // 13.7's own read position travels in each ConvInfo too
    for (const info of Object.values(state.conversations)) info.lastDisplayed = receipts.marks(info.id).get(self)?.displayed ?? "";
    return { ...state, statuses: this.statuses.statuses() };
  }

  /** A member's mark changed in `conversationId`: our other devices get that conversation's marks (jamid's `ms` sync). */
  private tellOwnDevices(conversationId: string): void {
    this.ownSync?.sendStatuses(this.statuses.statuses(conversationId));
  }

  /** A conversation is here (created or cloned): its times, its members, and the news for our other devices. */
  private async arrived(conversationId: string): Promise<void> {
    const { requests } = this.books();
    if (!requests.times(conversationId)) await requests.setTimes(conversationId, { created: unixNow() });
    await this.shelf.refreshMembers(conversationId);
    void this.ownSync?.broadcast();
  }

  // ── what arrives ──

  private async onServed(conversationId: string, head: string, peer: ChannelPeer): Promise<void> {
    const left = this.shelf.leaving.get(conversationId);
    if (left) return void (head === (await left.head()) && (await this.erase(conversationId)));
    if (peer.jamiId === this.c.identity.jamiId.toString()) return;
    if (await this.books().receipts.mark(conversationId, peer.jamiId, "fetched", head, unixNow())) {
      this.emit("delivered", { conversationId, from: peer.jamiId, head });
      this.tellOwnDevices(conversationId);
    }
  }

  /** jamid, when a `sip` channel comes up: fetch what we share with that account, clone what waits on it. */
  private async syncWith(peer: ChannelPeer): Promise<void> {
    for (const pending of this.requestBook?.clones() ?? []) {
      const candidate = pending.from === peer.jamiId || (pending.members ?? []).includes(peer.jamiId);
      if (candidate && !this.shelf.repos.has(pending.conversationId))
        await this.cloneAndJoin(pending.conversationId, peer, { signal: this.c.lifetime }).catch((e: Error) =>
          this.log("pending clone of %s from %s: %s", pending.conversationId, peer.deviceId.slice(0, 8), e.message),
        );
    }
    for (const [id, repo] of this.shelf.repos) {
      const role = await repo.roleOf(peer.jamiId).catch(() => undefined);
      if (!ACTIVE_ROLES.has(role ?? "")) continue;
      await this.fetch(id, peer, { signal: this.c.lifetime }).catch((error: Error) =>
        this.log("sync of %s with %s: %s", id, peer.deviceId.slice(0, 8), error.message),
      );
    }
    await this.files.retry(peer);
  }

  /**
   * At start: a `sip` channel to every member we share a conversation with and to our other devices (jamid opens one
   * to each own device it finds, beside `sync://`), and the clones still to do.
   */
  private async catchUp(): Promise<void> {
    const self = this.c.identity.jamiId.toString();
    const accounts = new Set<string>([self]);
    for (const repo of this.shelf.repos.values()) {
      for (const m of await repo.members().catch(() => [])) if (ACTIVE_ROLES.has(m.role) && m.uri !== self) accounts.add(m.uri);
    }
    for (const pending of this.requestBook?.clones() ?? []) for (const uri of [pending.from, ...(pending.members ?? [])]) accounts.add(uri);
    await Promise.allSettled([
      ...[...accounts].map((jamiId) => this.notices?.reach(jamiId, { signal: this.c.lifetime })),
      this.ownSync?.reachOwnDevices({ signal: this.c.lifetime }),
    ]);
  }
}

export interface ConversationsOptions extends CacheReleaseOptions {
  /** Where repositories are read and written (default: node:fs). */
  fs?: GitFs;
}

/** The feature factory: `Account.create({ ..., features: { conversations: conversations() } })` → `account.conversations`. */
export function conversations(options: ConversationsOptions = {}): (c: AccountComponents) => Conversations {
  return (c) => new Conversations(c, options);
}
