import { decodeMsgpackPrefix } from "jami-core";
import type { Channel } from "jami-dtls";
import type { AccountComponents } from "../account/components.js";
import { forEachDevice } from "../dht/devices.js";
import { encodeSyncMsg, readSyncMsg, type SyncMsg } from "../dht/sync-msg.js";
import type { ChannelPeer } from "./links.js";

/** `sync://<device it is opened to>` */
export const SYNC_CHANNEL = /^sync:\/\/([0-9a-f]{64})$/;
/** A sync message above this is refused and the channel closed (only our own devices may send them). */
const MAX_SYNC_MESSAGE = 4 << 20;

type Components = Pick<AccountComponents, "identity" | "network" | "links" | "lifetime" | "logger">;

/**
 * jamid 13.7's `sync://` channels between devices of one account (spec jami-swarm.md §5.5–5.6): each side sends its
 * conversations and invitations when the channel comes up, then every change; what arrives is handed to `apply`
 * with the sending device. Only devices of this account may open one, and only to this device.
 */
export class ConversationSync {
  private readonly channels = new Map<string, Channel>();
  private readonly log;

  constructor(
    private readonly c: Components,
    private readonly state: () => Promise<SyncMsg>,
    private readonly apply: (msg: SyncMsg, from: ChannelPeer) => Promise<void>,
  ) {
    this.log = c.logger("conversations");
  }

  /** Whether to accept a `sync://` channel: from a device of this account, naming this device. */
  accepts(name: string, peer: ChannelPeer): boolean {
    return peer.jamiId === this.c.identity.jamiId.toString() && SYNC_CHANNEL.exec(name)?.[1] === this.c.identity.deviceId.toString();
  }

  /** A sync channel either side opened: read what comes, send our state. */
  attach(channel: Channel, peer: ChannelPeer): void {
    this.channels.get(peer.deviceId)?.end();
    this.channels.set(peer.deviceId, channel);
    let buffered = new Uint8Array(0);
    channel.on("data", (chunk: Buffer) => {
      const next = new Uint8Array(buffered.length + chunk.length);
      next.set(buffered);
      next.set(chunk, buffered.length);
      buffered = next;
      if (buffered.length > MAX_SYNC_MESSAGE) {
        this.log("sync message from %s over %d bytes: channel closed", peer.deviceId.slice(0, 8), MAX_SYNC_MESSAGE);
        return void channel.destroy();
      }
      for (;;) {
        let item: ReturnType<typeof decodeMsgpackPrefix>;
        try {
          item = decodeMsgpackPrefix(buffered);
        } catch (error) {
          this.log("malformed sync message from %s: %s", peer.deviceId.slice(0, 8), (error as Error).message);
          return void channel.destroy();
        }
        if (!item) return;
        buffered = buffered.slice(item.length);
        const msg = readSyncMsg(item.value);
        if (msg) void this.apply(msg, peer).catch((error: Error) => this.log("applying a sync from %s: %s", peer.deviceId.slice(0, 8), error.message));
      }
    });
    channel.on("error", () => undefined);
    channel.on("close", () => this.channels.get(peer.deviceId) === channel && this.channels.delete(peer.deviceId));
    void this.sendState(channel);
  }

  /** Opens `sync://` to every other device of this account we have no channel with. */
  async reachOwnDevices(options: { signal?: AbortSignal } = {}): Promise<void> {
    const self = this.c.identity.deviceId.toString();
    const opening: Array<Promise<unknown>> = [];
    await forEachDevice(
      this.c.network.dht,
      this.c.identity.jamiId,
      (device) => {
        const deviceId = device.deviceId.toString();
        if (deviceId === self || this.channels.has(deviceId)) return;
        opening.push(
          this.c.links
            .connect(device, `sync://${deviceId}`, options)
            .then((channel) => this.attach(channel, { jamiId: this.c.identity.jamiId.toString(), deviceId }))
            .catch((error: Error) => this.log("sync with %s: %s", deviceId.slice(0, 8), error.message)),
        );
      },
      options.signal,
    );
    await Promise.all(opening);
  }

  /** Sends our current state to every own device we have a channel with (after a change). */
  async broadcast(): Promise<void> {
    if (this.channels.size === 0) return;
    const bytes = encodeSyncMsg(await this.state());
    for (const channel of this.channels.values()) if (channel.writable) channel.write(bytes);
  }

  /** jamid's opener sends its conversations, then its requests, as separate messages. */
  private async sendState(channel: Channel): Promise<void> {
    const state = await this.state();
    if (!channel.writable) return;
    if (Object.keys(state.conversations).length) channel.write(encodeSyncMsg({ conversations: state.conversations }));
    if (Object.keys(state.requests).length) channel.write(encodeSyncMsg({ requests: state.requests }));
  }

  close(): void {
    for (const channel of this.channels.values()) channel.end();
    this.channels.clear();
  }
}
