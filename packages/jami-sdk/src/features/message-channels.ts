import { randomBytes } from "node:crypto";
import { encodeMsgpack, isMsgMap } from "jami-core";
import type { Channel } from "jami-dtls";
import { decodePayload, encodePayload, type JamiPayload } from "jami-sip";
import type { AccountComponents } from "../account/components.js";
import type { ChannelPeer } from "./links.js";
import { readMsgpackItems } from "./msgpack-channel.js";

/** `msg:<the device it is opened to>`: today's daemons (2024-11 on) send their text notices there, not in SIP MESSAGEs. */
export const MESSAGE_CHANNEL = /^msg:([0-9a-f]{64})$/;
/** A message above this closes the channel (SIP bodies have the same bound). */
export const MAX_CHANNEL_MESSAGE = 1 << 20;

/**
 * Today's `msg:` channels (spec jami-identity-connection.md §4.6): each carries msgpack maps `{id, t, c, req}` — a u64
 * token, the payload's MIME type and its text, exactly the bodies jamid 13.7 puts in SIP MESSAGEs — one after the
 * other. A today's device opens one to us when it has something to tell (and syncs when it is up, as 13.7 does when
 * a `sip` channel is); we read them as SIP MESSAGE bodies, from the device of the link (the peer's certificate, as
 * today's daemon), and answer on the channel it opened: 13.7 never opens one, so it still gets SIP.
 */
export class MessageChannels {
  /** Open `msg:` channels by device: today's daemon keeps each one and writes on the newest. */
  private readonly open = new Map<string, Channel[]>();
  private readonly log;

  constructor(
    private readonly c: Pick<AccountComponents, "identity" | "logger">,
    private readonly onPayload: (payload: JamiPayload, peer: ChannelPeer) => void,
    private readonly onReady: (peer: ChannelPeer) => void,
  ) {
    this.log = c.logger("conversations");
  }

  /** Whether to accept a `msg:` channel: one naming this device (any verified device may tell us things, as on `sip`). */
  accepts(name: string): boolean {
    return MESSAGE_CHANNEL.exec(name)?.[1] === this.c.identity.deviceId.toString();
  }

  attach(channel: Channel, peer: ChannelPeer): void {
    const from = peer.deviceId.slice(0, 8);
    const channels = this.open.get(peer.deviceId) ?? [];
    channels.push(channel);
    this.open.set(peer.deviceId, channels);
    channel.on("error", () => undefined);
    channel.on("close", () => {
      const left = (this.open.get(peer.deviceId) ?? []).filter((c) => c !== channel);
      if (left.length) this.open.set(peer.deviceId, left);
      else this.open.delete(peer.deviceId);
    });
    readMsgpackItems(
      channel,
      MAX_CHANNEL_MESSAGE,
      (value) => {
        const t = isMsgMap(value) ? value.t : undefined;
        const body = isMsgMap(value) ? value.c : undefined;
        if (typeof t !== "string" || !(typeof body === "string" || body instanceof Uint8Array)) {
          return this.log("ignored a msg: item from %s that is not a message {id, t, c}", from);
        }
        let payload: JamiPayload;
        try {
          payload = decodePayload(t, typeof body === "string" ? body : new TextDecoder().decode(body));
        } catch (error) {
          return this.log("ignored a %s from %s on msg: (%s)", t, from, (error as Error).message);
        }
        this.onPayload(payload, peer);
      },
      (why) => this.log("msg: channel from %s closed: %s", from, why),
    );
    // today's `onMessageChannelReady`: the first channel with a device syncs what we share with it
    if (channels.length === 1) this.onReady(peer);
  }

  /** Whether `deviceId` has a `msg:` channel open with us (it is one of today's devices). */
  has(deviceId: string): boolean {
    return this.open.has(deviceId);
  }

  /** Writes `payload` on the newest `msg:` channel of `deviceId`; false when there is none (then SIP is used). */
  send(deviceId: string, payload: JamiPayload): boolean {
    const channel = this.open.get(deviceId)?.at(-1);
    if (!channel) return false;
    const { mimeType, body } = encodePayload(payload);
    // today's Message {id, t, c, req} with MSGPACK_DEFINE_MAP: every key written, `req` nil when there is none
    channel.write(encodeMsgpack({ id: randomBytes(8).readBigUInt64BE(), t: mimeType, c: body, req: null }));
    return true;
  }

  close(): void {
    for (const channels of this.open.values()) for (const channel of channels) channel.destroy();
    this.open.clear();
  }
}
