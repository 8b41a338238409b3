import type { Channel } from "jami-dtls";
import type { AccountComponents } from "../account/components.js";
import { forEachDevice } from "../dht/devices.js";
import { encodeSyncMsg, readSyncMsg, type MemberStatuses, type SyncMsg } from "../dht/sync-msg.js";
import { encodeDeviceSync, readDeviceSync } from "../dht/device-sync.js";
import type { ChannelPeer } from "./links.js";
import { readMsgpackItems } from "./msgpack-channel.js";

/** `sync://<device it is opened to>` */
export const SYNC_CHANNEL = /^sync:\/\/([0-9a-f]{64})$/;
/** A sync message above this is refused and the channel closed (only our own devices may send them). */
const MAX_SYNC_MESSAGE = 4 << 20;

type Components = Pick<AccountComponents, "identity" | "network" | "links" | "sync" | "events" | "lifetime" | "logger">;

/**
 * jamid 13.7's `sync://` channels between devices of one account (spec jami-swarm.md §5.5–5.6): each side sends its
 * conversations and invitations when the channel comes up, then every change; what arrives is handed to `apply`
 * with the sending device. Only devices of this account may open one, and only to this device.
 */
export class ConversationSync {
  /** Open sync channels per own device: both may have opened one at once (jamid keeps every one, as we do). */
  private readonly channels = new Map<string, Set<Channel>>();
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
    // never end the other one: the peer may not have written its state on it yet (jamid writes once, on open)
    const open = this.channels.get(peer.deviceId) ?? new Set<Channel>();
    open.add(channel);
    this.channels.set(peer.deviceId, open);
    const from = peer.deviceId.slice(0, 8);
    // applied one after the other, in the order they came (a later message may undo or outdate an earlier one)
    let applying = Promise.resolve();
    readMsgpackItems(
      channel,
      MAX_SYNC_MESSAGE,
      (value) => {
        // its DeviceSync (contacts, requests, devices) is the devices feature's; 13.7 packs an empty one (date 0)
        // in the messages that carry conversations
        const deviceSync = Array.isArray(value) ? readDeviceSync(value[0]) : undefined;
        const device = deviceSync && deviceSync.date > 0n ? this.c.links.peer(peer.deviceId) : undefined;
        if (deviceSync && device) this.c.events.emit("deviceSyncReceived", { sync: deviceSync, from: device });
        const msg = readSyncMsg(value);
        if (!msg) return this.log("ignored a sync message from %s that is not a SyncMsg (%s)", from, describe(value));
        this.log("sync from %s: %d conversation(s), %d request(s)", from, Object.keys(msg.conversations).length, Object.keys(msg.requests).length);
        applying = applying.then(() => this.apply(msg, peer)).catch((error: Error) => this.log("applying a sync from %s: %s", from, error.message));
      },
      (why) => this.log("sync channel from %s closed: %s", from, why),
    );
    channel.on("error", () => undefined);
    channel.on("close", () => {
      open.delete(channel);
      if (open.size === 0 && this.channels.get(peer.deviceId) === open) this.channels.delete(peer.deviceId);
    });
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
      { signal: options.signal },
    );
    await Promise.all(opening);
  }

  /** Sends our current state to every own device we have a channel with (after a change). */
  async broadcast(): Promise<void> {
    if (this.channels.size === 0) return;
    this.toEachDevice(encodeSyncMsg(await this.state()));
  }

  /** One channel per device (jamid's syncWithConnected writes to the first). */
  private toEachDevice(message: Uint8Array): void {
    for (const open of this.channels.values()) [...open].find((c) => c.writable)?.write(message);
  }

  /** jamid's opener sends its conversations, then its requests, as separate messages. */
  private async sendState(channel: Channel): Promise<void> {
    const state = await this.state();
    if (!channel.writable) return;
    // The DeviceSync and the conversations in ONE message, the invitations after it. 13.7 writes three (ds, c, cr) as
    // the opener, once its reader is set; as the acceptor we write at once, and a 13.7 opener whose reader is not set
    // yet gets our messages in one buffer, of which it decodes the first object only: with the DeviceSync alone
    // first, it never learnt the conversations (interop "a jamid device imported from our archive", seen failing).
    channel.write(
      encodeSyncMsg({ deviceSync: this.deviceSyncBytes(), conversations: state.conversations, ...(state.statuses ? { statuses: state.statuses } : {}) }),
    );
    if (Object.keys(state.requests).length) channel.write(encodeSyncMsg({ requests: state.requests }));
  }

  private deviceSyncBytes(): Uint8Array {
    return encodeDeviceSync(this.c.sync.next(this.c.identity.deviceName));
  }

  /** The account's DeviceSync to every own device we have a channel with (a contact changed: today's daemons learn it only here). */
  sendDeviceSync(): void {
    if (this.channels.size === 0) return;
    // built once (and dated once) for every channel
    const message = encodeSyncMsg({ deviceSync: this.deviceSyncBytes() });
    for (const open of this.channels.values()) for (const channel of open) if (channel.writable) channel.write(message);
  }

  /** Where the members stand in some conversations (13.7's `ld`, today's `ms`) to every own device we have a channel with. */
  sendStatuses(statuses: MemberStatuses): void {
    if (this.channels.size === 0 || Object.keys(statuses).length === 0) return;
    this.toEachDevice(encodeSyncMsg({ statuses }));
  }

  close(): void {
    for (const open of this.channels.values()) for (const channel of open) channel.end();
    this.channels.clear();
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `array of ${value.length}`;
  if (value instanceof Map) return `map of ${value.size} (non-string keys)`;
  if (value && typeof value === "object" && !(value instanceof Uint8Array)) return `map with ${Object.keys(value).slice(0, 6).join(", ")}`;
  return typeof value;
}
