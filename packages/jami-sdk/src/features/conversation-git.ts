import type { AbortOptions } from "jami-core";
import type { Channel } from "jami-dtls";
import { JamiId } from "jami-identity";
import { ByteReader, CommitRejectedError, SwarmRepository, fetchPack, serveUploadPack, type FetchOutcome, type GitFs } from "jami-swarm";
import type { AccountComponents } from "../account/components.js";
import { forEachDevice } from "../dht/devices.js";
import { AccountError } from "../errors.js";
import type { ChannelPeer } from "./links.js";

/** `git://<serving device>/<conversation>` */
export const GIT_CHANNEL = /^git:\/\/([0-9a-f]{64})\/([0-9a-f]{40})$/;

/** Roles whose devices may fetch a conversation from us (an invited account must clone before it joins). */
export const SERVED_ROLES: ReadonlySet<string> = new Set(["admin", "member", "invited"]);

type Components = Pick<AccountComponents, "identity" | "network" | "links" | "lifetime" | "logger">;

/**
 * The git side of the conversations feature: channels to a member's device to clone or fetch, and our git server
 * for the devices of members (jamid's `cloneConversationFrom`, `fetchFrom` and `GitServer`).
 */
export class ConversationGit {
  private readonly log;
  /**
   * Git channels kept for later fetches, by `<device>/<conversation>` (jamid's `addGitSocket`): jamid 13.7 sets up a
   * new server per channel slowly (about 500 ms per step), and serves any number of fetches on a kept one.
   */
  private readonly kept = new Map<string, { channel: Channel; reader: ByteReader; busy: boolean }>();

  constructor(
    private readonly c: Components,
    /** The repositories we serve (those we left too, until their leave commit is out). */
    private readonly repoOf: (conversationId: string) => SwarmRepository | undefined,
    private readonly onServed: (conversationId: string, head: string, peer: ChannelPeer) => void,
  ) {
    this.log = c.logger("conversations");
  }

  /** jamid serves a conversation's git to devices of its members; we also require the name to be our device. */
  async mayServe(conversationId: string, peer: ChannelPeer, targetDevice?: string): Promise<boolean> {
    if (targetDevice !== undefined && targetDevice !== this.c.identity.deviceId.toString()) return false;
    const repo = this.repoOf(conversationId);
    if (!repo) return false;
    return SERVED_ROLES.has((await repo.roleOf(peer.jamiId)) ?? "");
  }

  /** Serves the fetches a member's device makes on an accepted `git://` channel, until it ends the channel. */
  serve(channel: Channel, peer: ChannelPeer): void {
    void serveUploadPack(channel, async (id) => ((await this.mayServe(id, peer)) ? this.repoOf(id) : undefined), {
      signal: this.c.lifetime,
      onServed: (id, head) => this.onServed(id, head, peer),
    }).catch((error: Error) => this.log("git server for %s: %s", peer.deviceId.slice(0, 8), error.message));
  }

  /**
   * A `git://<device>/<conversation>` channel to a device of `from` (a Jami ID: the first of its devices to answer,
   * as jamid's `cloneConversationFrom`; or one device). Devices are found through the account's DHT announcement,
   * which 13.7 and today's devices both publish.
   */
  private async channel(conversationId: string, from: string | ChannelPeer, options: AbortOptions): Promise<{ channel: Channel; deviceId: string }> {
    const jamiId = typeof from === "string" ? from : from.jamiId;
    const wanted = typeof from === "string" ? undefined : from.deviceId;
    const self = this.c.identity.deviceId.toString();
    // a device we are linked with (a notice came from it): straight to it, no DHT lookup
    if (wanted && this.c.links.connected().includes(wanted)) {
      const channel = await this.c.links.connect(wanted, `git://${wanted}/${conversationId}`, options).catch(() => undefined);
      if (channel) return { channel, deviceId: wanted };
    }
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
      { signal: options.signal },
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

  /** Clones into `root` (validated first, nothing written unless `requireMember` is listed there). */
  async clone(
    root: string,
    conversationId: string,
    from: string | ChannelPeer,
    repoOptions: { fs: GitFs; author: { device: AccountComponents["identity"]["signingDevice"]; displayName?: string } },
    options: AbortOptions,
  ): Promise<{ repo: SwarmRepository; deviceId: string }> {
    const { channel, deviceId } = await this.channel(conversationId, from, options);
    try {
      const fetched = await fetchPack(channel, { conversationId, host: deviceId }, { ...options, onAnswered: () => channel.acknowledgeNow() });
      if (!fetched.pack) throw new AccountError("INVALID_ARGUMENT", "the peer sent nothing to clone");
      const repo = await SwarmRepository.clone(
        root,
        { conversationId, remoteDevice: deviceId, head: fetched.head, pack: fetched.pack },
        { ...repoOptions, requireMember: this.c.identity.jamiId.toString() },
      );
      return { repo, deviceId };
    } finally {
      channel.end();
    }
  }

  /**
   * Fetches from a member's device and applies it (validation, storage, merge): jamid's `pull`. The git channel to
   * that device is kept for the next fetch; a kept channel that fails is dropped and the fetch tried on a new one.
   */
  async fetch(repo: SwarmRepository, from: string | ChannelPeer, options: AbortOptions): Promise<{ outcome: FetchOutcome; deviceId: string }> {
    const conversationId = repo.conversationId;
    const key = typeof from === "string" ? undefined : `${from.deviceId}/${conversationId}`;
    const reusable = key ? this.kept.get(key) : undefined;
    if (reusable && !reusable.busy && !reusable.channel.destroyed && reusable.channel.writable) {
      reusable.busy = true;
      try {
        return await this.fetchOn(repo, reusable.channel, (from as ChannelPeer).deviceId, reusable.reader, options);
      } catch (error) {
        this.drop(key!, reusable.channel);
        if (isRejection(error)) throw error;
        this.log("kept git channel to %s failed (%s): a new one", key!.slice(0, 8), (error as Error).message);
      } finally {
        reusable.busy = false;
      }
    }
    const { channel, deviceId } = await this.channel(conversationId, from, options);
    const entryKey = `${deviceId}/${conversationId}`;
    const reader = new ByteReader(channel);
    const entry = { channel, reader, busy: true };
    this.drop(entryKey);
    this.kept.set(entryKey, entry);
    channel.once("close", () => this.drop(entryKey, channel));
    channel.on("error", () => this.drop(entryKey, channel));
    try {
      return await this.fetchOn(repo, channel, deviceId, reader, options);
    } catch (error) {
      this.drop(entryKey, channel);
      throw error;
    } finally {
      entry.busy = false;
    }
  }

  private async fetchOn(
    repo: SwarmRepository,
    channel: Channel,
    deviceId: string,
    reader: ByteReader,
    options: AbortOptions,
  ): Promise<{ outcome: FetchOutcome; deviceId: string }> {
    const conversationId = repo.conversationId;
    const fetched = await fetchPack(
      channel,
      { conversationId, host: deviceId, haves: await repo.haves(), hasCommit: (oid) => repo.store.has(oid) },
      // jamid's server writes its NAK, then the pack: our ACK of the NAK at once, or Nagle holds the pack 40 ms
      { ...options, keepOpen: true, reader, onAnswered: () => channel.acknowledgeNow() },
    );
    return { outcome: await repo.applyFetch(deviceId, fetched.head, fetched.pack), deviceId };
  }

  /** Forgets a kept channel (only that one, when given) and ends it. */
  private drop(key: string, channel?: Channel): void {
    const entry = this.kept.get(key);
    if (!entry || (channel && entry.channel !== channel)) return;
    this.kept.delete(key);
    entry.channel.end();
  }

  /** Ends the kept channels (the feature stops). */
  close(): void {
    for (const key of [...this.kept.keys()]) this.drop(key);
  }
}

/** A fetch refused by validation is the peer's doing, not the channel's: no retry on a new channel. */
function isRejection(error: unknown): boolean {
  return error instanceof CommitRejectedError;
}
