import { randomBytes } from "node:crypto";
import type { AbortOptions } from "jami-core";
import { Value, type InfoHash } from "jami-dht";
import type { VerifiedDevice } from "jami-identity";
import { decodePayload, encodePayload, type JamiPayload } from "jami-sip";
import type { AccountComponents } from "../account/components.js";
import { BoundedSet } from "../bounded-set.js";
import { decodeImMessage, encodeImMessage, IM_MESSAGE_TYPE } from "../dht/im-message.js";
import { JamiDhtKeys } from "../dht/keys.js";
import type { ChannelPeer } from "./links.js";

/** Message tokens already handled (13.7 re-puts until confirmed; the value lives 5 minutes). */
const MAX_TREATED_MESSAGES = 4096;

/** jamid's message token: random in 1..2^53. */
function messageToken(): bigint {
  return (BigInt(`0x${randomBytes(7).toString("hex")}`) & ((1n << 53n) - 1n)) + 1n;
}

type Components = Pick<AccountComponents, "identity" | "network" | "inbox" | "trust" | "lifetime" | "logger">;

/**
 * jamid 13.7's fallback for text payloads when no `sip` channel is up (spec jami-identity-connection.md §3.4):
 * an `ImMessage` encrypted to the device at its inbox. Received ones are verified (the signing device's chain,
 * bans, revocations), handled once, and confirmed as jamid expects (same token, empty body, at our own inbox,
 * encrypted to the sender) — without the confirmation 13.7 keeps the message pending.
 */
export class DhtMessages {
  private readonly treated = new BoundedSet<string>(MAX_TREATED_MESSAGES);
  private readonly log;
  private remove?: () => void;

  constructor(
    private readonly c: Components,
    private readonly onPayload: (payload: JamiPayload, peer: ChannelPeer) => void,
  ) {
    this.log = c.logger("conversations");
  }

  start(): void {
    this.remove = this.c.inbox.handle(IM_MESSAGE_TYPE, (value, sender) => this.received(value, sender));
  }

  stop(): void {
    this.remove?.();
  }

  /** Puts `payload` for one device; resolves once a DHT node stored it. */
  async send(device: VerifiedDevice, payload: JamiPayload, options: AbortOptions = {}): Promise<void> {
    const { mimeType, body } = encodePayload(payload);
    const data = encodeImMessage({
      id: messageToken(),
      msg: body,
      datatype: mimeType,
      date: Math.floor(Date.now() / 1000),
      status: 0,
      metadatas: {},
    });
    await this.c.network.secure.putEncrypted(JamiDhtKeys.inbox(device.deviceShortId), new Value({ type: IM_MESSAGE_TYPE, data }), device.device.publicKey, {
      signal: options.signal,
      acknowledgedBy: 1,
    });
  }

  private async received(value: Value, sender: InfoHash): Promise<void> {
    const message = decodeImMessage(value.data);
    if (!message) return this.log("ignored an inbox value of type 3 that is not an ImMessage");
    // a confirmation of one of ours (empty): we do not wait for them
    if (message.msg === "" && message.datatype === "") return;
    if (!this.treated.add(`${sender}/${message.id}`)) return;
    let device: VerifiedDevice;
    try {
      device = await this.c.trust.verifiedSender(sender, { signal: this.c.lifetime });
    } catch (error) {
      return this.log("ignored a DHT message from device %s: %s", sender, (error as Error).message);
    }
    await this.confirm(message.id, device).catch((error: Error) => this.log("confirmation not put: %s", error.message));
    let payload: JamiPayload;
    try {
      payload = decodePayload(message.datatype || "text/plain", message.msg);
    } catch (error) {
      return this.log("ignored a malformed DHT message: %s", (error as Error).message);
    }
    this.onPayload(payload, { jamiId: device.jamiId.toString(), deviceId: device.deviceId.toString() });
  }

  private async confirm(id: bigint, to: VerifiedDevice): Promise<void> {
    const data = encodeImMessage({ id, msg: "", datatype: "", date: Math.floor(Date.now() / 1000), status: 0, metadatas: {} });
    await this.c.network.secure.putEncrypted(
      JamiDhtKeys.inbox(this.c.identity.deviceShortId),
      new Value({ type: IM_MESSAGE_TYPE, data }),
      to.device.publicKey,
      {
        signal: this.c.lifetime,
      },
    );
  }
}
