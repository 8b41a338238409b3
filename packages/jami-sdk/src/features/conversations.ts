import * as nodeFs from "node:fs";
import { join } from "node:path";
import { TypedEmitter, type AbortOptions } from "jami-core";
import {
  CommitRejectedError,
  SwarmRepository,
  fetchPack,
  serveUploadPack,
  type ConversationMode,
  type FetchOutcome,
  type GitFs,
  type SwarmMessage,
} from "jami-swarm";
import type { AccountComponents, FeatureLifecycle } from "../account/components.js";
import type { ChannelPeer } from "./links.js";
import type { Channel } from "jami-dtls";
import type { GitNotice } from "jami-sip";
import { ConversationNotices } from "./conversation-notices.js";
import { AccountError } from "../errors.js";
import { JamiId } from "jami-identity";
import { forEachDevice } from "../dht/devices.js";

const GIT_CHANNEL = /^git:\/\/([0-9a-f]{64})\/([0-9a-f]{40})$/;

export interface ConversationEvents {
  /** New commits of a conversation after a fetch, oldest first (jamid's `messageReceived`, one per commit). */
  message: [{ conversationId: string; message: SwarmMessage }];
  /** A fetch refused by validation: which commit, which rule; nothing was stored. */
  error: [{ conversationId: string; from: string; error: Error }];
}

/**
 * `account.conversations`, first part: the swarm repositories of this account (`<dir>/conversations/<id>`, jamid's
 * layout), created and written as this device, served on `git://<device>/<conversation>` channels to the devices of
 * members (admins, members, invited — who must clone before joining), and cloned or fetched from a member's device
 * over a link. The notices that trigger fetches (SIP MESSAGE on `sip`) and requests come with the rest of the
 * conversations issue.
 */
export class Conversations extends TypedEmitter<ConversationEvents> implements FeatureLifecycle {
  private readonly repos = new Map<string, SwarmRepository>();
  private readonly root: string;
  private readonly fs: GitFs;
  private removeHandler?: () => void;
  private notices?: ConversationNotices;
  private readonly onChannel = ({ channel, peer }: { channel: Channel; peer: ChannelPeer }): void => {
    if (channel.name === "sip") {
      this.notices?.attach(peer, channel);
      return;
    }
    if (!GIT_CHANNEL.test(channel.name)) return;
    void serveUploadPack(channel, async (id) => ((await this.mayServe(id, peer)) ? this.repos.get(id) : undefined), { signal: this.c.lifetime }).catch(
      (error: Error) => this.log("git server for %s: %s", peer.deviceId.slice(0, 8), error.message),
    );
  };
  private readonly log;

  constructor(
    private readonly c: AccountComponents,
    options: { fs?: GitFs } = {},
  ) {
    super();
    this.root = join(c.identity.dir, "conversations");
    this.fs = options.fs ?? (nodeFs as unknown as GitFs);
    this.log = c.logger("conversations");
  }

  private options() {
    return { fs: this.fs, author: { device: this.c.identity.signingDevice, displayName: this.c.identity.deviceName } };
  }

  /** Opens the repositories on disk (a broken one is logged and left out, not fatal). */
  async load(): Promise<void> {
    let names: string[] = [];
    try {
      names = await this.fs.promises.readdir(this.root);
    } catch {
      return;
    }
    for (const name of names.filter((n) => /^[0-9a-f]{40}$/.test(n))) {
      try {
        this.repos.set(name, await SwarmRepository.open(join(this.root, name), this.options()));
      } catch (error) {
        this.log("conversation %s not loaded: %s", name, (error as Error).message);
      }
    }
  }

  async start(): Promise<void> {
    this.notices = new ConversationNotices(
      this.c,
      (notice, peer) => void this.onNotice(notice, peer),
      (peer) => void this.syncWith(peer),
    );
    const removers = [
      this.c.links.handle(GIT_CHANNEL, async ({ name, peer }) => this.mayServe(GIT_CHANNEL.exec(name)![2]!, peer, GIT_CHANNEL.exec(name)![1])),
      // jamid accepts every `sip` channel; what arrives on it is checked message by message
      this.c.links.handle("sip"),
    ];
    this.removeHandler = () => removers.forEach((remove) => remove());
    this.c.links.on("channel", this.onChannel);
  }

  async stop(): Promise<void> {
    this.removeHandler?.();
    this.c.links.off("channel", this.onChannel);
    this.notices?.close();
    this.notices = undefined;
  }

  /**
   * Tells every member device (admins and members, and our own other devices) that `commit` is there to fetch, as
   * jamid does after each commit it makes. Resolves with the number of devices that took the notice.
   */
  async announce(conversationId: string, commit: string, options: AbortOptions = {}): Promise<number> {
    const repo = this.repos.get(conversationId);
    if (!this.notices) throw new AccountError("NOT_STARTED", "the conversations feature is not started");
    if (!repo) throw new AccountError("INVALID_ARGUMENT", `unknown conversation ${conversationId}`);
    const members = (await repo.members()).filter((m) => m.role === "admin" || m.role === "member").map((m) => m.uri);
    return this.notices.notify({ conversationId, commit, deviceId: this.c.identity.deviceId.toString() }, members, options);
  }

  /** A notice from a member device: fetch from that device (the link's device, whatever the JSON says). */
  private async onNotice(notice: GitNotice, peer: ChannelPeer): Promise<void> {
    const repo = this.repos.get(notice.conversationId);
    if (!repo) return; // unknown conversation: requests come with the rest of the feature
    const role = await repo.roleOf(peer.jamiId);
    if (role !== "admin" && role !== "member" && role !== "invited") return;
    if (await repo.store.has(notice.commit)) return;
    await this.fetch(notice.conversationId, peer).catch((error: Error) => this.log("fetch after a notice: %s", error.message));
  }

  /** jamid, when a `sip` channel comes up: fetch every conversation this device's account is a member of. */
  private async syncWith(peer: ChannelPeer): Promise<void> {
    for (const [id, repo] of this.repos) {
      const role = await repo.roleOf(peer.jamiId).catch(() => undefined);
      if (role !== "admin" && role !== "member") continue;
      await this.fetch(id, peer).catch((error: Error) => this.log("sync of %s with %s: %s", id, peer.deviceId.slice(0, 8), error.message));
    }
  }

  /** jamid serves a conversation's git to devices of its members; we also require the name to be our device. */
  private async mayServe(conversationId: string, peer: ChannelPeer, targetDevice?: string): Promise<boolean> {
    if (targetDevice !== undefined && targetDevice !== this.c.identity.deviceId.toString()) return false;
    const repo = this.repos.get(conversationId);
    if (!repo) return false;
    const role = await repo.roleOf(peer.jamiId);
    return role === "admin" || role === "member" || role === "invited";
  }

  list(): string[] {
    return [...this.repos.keys()];
  }

  get(conversationId: string): SwarmRepository | undefined {
    return this.repos.get(conversationId);
  }

  /** A new conversation written by this device (mode 2 by default; a one-to-one names the invited peer). */
  async create(options: { mode?: ConversationMode; invited?: string } = {}): Promise<SwarmRepository> {
    const repo = await SwarmRepository.create(this.root, { mode: options.mode ?? 2, ...(options.invited ? { invited: options.invited } : {}) }, this.options());
    this.repos.set(repo.conversationId, repo);
    return repo;
  }

  /**
   * A `git://<device>/<conversation>` channel to a device of `from` (a Jami ID: the first of its devices to answer,
   * as jamid's `cloneConversationFrom`; or one device). Devices are found through the account's DHT announcement,
   * which 13.7 and today's devices both publish.
   */
  private async gitChannel(conversationId: string, from: string | ChannelPeer, options: AbortOptions): Promise<{ channel: Channel; deviceId: string }> {
    const jamiId = typeof from === "string" ? from : from.jamiId;
    const wanted = typeof from === "string" ? undefined : from.deviceId;
    const self = this.c.identity.deviceId.toString();
    const attempts: Array<Promise<{ channel: Channel; deviceId: string }>> = [];
    await forEachDevice(
      this.c.network.dht,
      JamiId.fromHex(jamiId),
      (device) => {
        const deviceId = device.deviceId.toString();
        if (deviceId === self || (wanted !== undefined && deviceId !== wanted)) return;
        const attempt = this.c.links.connect(device, `git://${deviceId}/${conversationId}`, options).then((channel) => ({ channel, deviceId }));
        attempt.catch(() => undefined);
        attempts.push(attempt);
      },
      options.signal,
    );
    if (attempts.length === 0) throw new AccountError("NO_DEVICES", `no device of ${jamiId} to fetch ${conversationId} from`);
    const first = await Promise.any(attempts).catch((e: AggregateError) => {
      throw e.errors[0] as Error;
    });
    for (const a of attempts)
      void a.then(
        (other) => other !== first && other.channel.end(),
        () => undefined,
      );
    return first;
  }

  /**
   * Clones `conversationId` from a member (a Jami ID, or one of its devices); the whole history is validated first
   * and nothing is written unless this account is listed as admin, member or invited.
   */
  async clone(conversationId: string, from: string | ChannelPeer, options: AbortOptions = {}): Promise<SwarmRepository> {
    if (this.repos.has(conversationId)) throw new AccountError("INVALID_ARGUMENT", `conversation ${conversationId} is already here`);
    const { channel, deviceId } = await this.gitChannel(conversationId, from, options);
    const fetched = await fetchPack(channel, { conversationId, host: deviceId }, options);
    if (!fetched.pack) throw new AccountError("INVALID_ARGUMENT", "the peer sent nothing to clone");
    const repo = await SwarmRepository.clone(
      this.root,
      { conversationId, remoteDevice: deviceId, head: fetched.head, pack: fetched.pack },
      { ...this.options(), requireMember: this.c.identity.jamiId.toString() },
    );
    this.repos.set(conversationId, repo);
    return repo;
  }

  /**
   * Fetches `conversationId` from a member's device, validates, stores and merges (jamid's `pull`); emits `message`
   * for each new commit, or `error` (and rejects) when a commit is refused.
   */
  async fetch(conversationId: string, from: string | ChannelPeer, options: AbortOptions = {}): Promise<FetchOutcome> {
    const repo = this.repos.get(conversationId);
    if (!repo) throw new AccountError("INVALID_ARGUMENT", `unknown conversation ${conversationId}`);
    const { channel, deviceId } = await this.gitChannel(conversationId, from, options);
    const fetched = await fetchPack(channel, { conversationId, host: deviceId, haves: await repo.haves(), hasCommit: (oid) => repo.store.has(oid) }, options);
    try {
      const outcome = await repo.applyFetch(deviceId, fetched.head, fetched.pack);
      for (const message of outcome.newCommits) this.emit("message", { conversationId, message });
      return outcome;
    } catch (error) {
      if (error instanceof CommitRejectedError && this.listenerCount("error") > 0) this.emit("error", { conversationId, from: deviceId, error });
      throw error;
    }
  }
}

/** The feature factory: `Account.create({ ..., features: { conversations: conversations() } })` → `account.conversations`. */
export function conversations(options: { fs?: GitFs } = {}): (c: AccountComponents) => Conversations {
  return (c) => new Conversations(c, options);
}
