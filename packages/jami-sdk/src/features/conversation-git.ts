import type { AbortOptions } from "jami-core";
import type { Channel } from "jami-dtls";
import { JamiId } from "jami-identity";
import { SwarmRepository, fetchPack, serveUploadPack, type FetchOutcome, type GitFs } from "jami-swarm";
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

  /** Clones into `root` (validated first, nothing written unless `requireMember` is listed there). */
  async clone(
    root: string,
    conversationId: string,
    from: string | ChannelPeer,
    repoOptions: { fs: GitFs; author: { device: AccountComponents["identity"]["signingDevice"]; displayName?: string } },
    options: AbortOptions,
  ): Promise<SwarmRepository> {
    const { channel, deviceId } = await this.channel(conversationId, from, options);
    try {
      const fetched = await fetchPack(channel, { conversationId, host: deviceId }, options);
      if (!fetched.pack) throw new AccountError("INVALID_ARGUMENT", "the peer sent nothing to clone");
      return await SwarmRepository.clone(
        root,
        { conversationId, remoteDevice: deviceId, head: fetched.head, pack: fetched.pack },
        { ...repoOptions, requireMember: this.c.identity.jamiId.toString() },
      );
    } finally {
      channel.end();
    }
  }

  /** Fetches from a member's device and applies it (validation, storage, merge): jamid's `pull`. */
  async fetch(repo: SwarmRepository, from: string | ChannelPeer, options: AbortOptions): Promise<{ outcome: FetchOutcome; deviceId: string }> {
    const conversationId = repo.conversationId;
    const { channel, deviceId } = await this.channel(conversationId, from, options);
    try {
      const fetched = await fetchPack(channel, { conversationId, host: deviceId, haves: await repo.haves(), hasCommit: (oid) => repo.store.has(oid) }, options);
      return { outcome: await repo.applyFetch(deviceId, fetched.head, fetched.pack), deviceId };
    } finally {
      channel.end();
    }
  }
}
