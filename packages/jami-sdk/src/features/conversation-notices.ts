import { JamiId, type VerifiedDevice } from "jami-identity";
import { SipEndpoint, type GitNotice, type IncomingSipMessage, type JamiPayload } from "jami-sip";
import type { Channel } from "jami-dtls";
import type { AccountComponents } from "../account/components.js";
import { forEachDevice } from "../dht/devices.js";
import type { ChannelPeer } from "./links.js";
import { USER_AGENT } from "../version.js";

/** A DHT search for an account's devices is reused this long… */
const DEVICES_KEPT_MS = 10 * 60_000;
/** …and refreshed in the background once it is this old (a new device of a member gets notices soon). */
const DEVICES_REFRESH_MS = 30_000;
const MAX_KNOWN_ACCOUNTS = 1000;

/** `ip:port`, IPv6 in brackets, as SIP URIs write a transport address. */
function hostPort(a: { address: string; port: number }): string {
  return a.address.includes(":") ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/**
 * The `sip` channels of the conversations feature: one SIP endpoint per peer device (jamid keeps one `sip` channel
 * per device pair), payloads (git notices, invitations, typing and read notices) sent to every device of the
 * members, and payloads received handed to `onPayload` with the device that really sent them (the link's, not the
 * JSON's: 13.7 trusts the JSON).
 */
export class ConversationNotices {
  private readonly endpoints = new Map<string, Promise<SipEndpoint>>();
  /** Each account's devices as last found on the DHT: a notice does not wait for a DHT search every time. */
  private readonly known = new Map<string, { devices: VerifiedDevice[]; at: number; refreshing?: boolean }>();
  private readonly log;

  constructor(
    private readonly c: Pick<AccountComponents, "identity" | "network" | "links" | "ownCard" | "lifetime" | "logger">,
    private readonly onPayload: (payload: JamiPayload, peer: ChannelPeer) => void,
    private readonly onReady: (peer: ChannelPeer) => void,
    /** When no `sip` channel can be had with a device: jamid 13.7's DHT inbox path. */
    private readonly fallback?: (device: VerifiedDevice, payload: JamiPayload, options: { signal?: AbortSignal }) => Promise<void>,
    /** Today's devices that opened a `msg:` channel to us are told there (false: none open, SIP then). */
    private readonly direct?: { send(deviceId: string, payload: JamiPayload): boolean },
  ) {
    this.log = c.logger("conversations");
  }

  /** A `sip` channel another device opened (jamid accepts every one) or we opened. */
  attach(peer: ChannelPeer, channel: Channel): SipEndpoint {
    // addressed as jamid addresses its MESSAGEs: the link's two ends, the account's display name, a User-Agent
    const path = this.c.links.path(peer.deviceId);
    const displayName = this.c.ownCard.displayName() ?? this.c.identity.displayName;
    const endpoint = new SipEndpoint(channel, {
      localUser: this.c.identity.jamiId.toString(),
      remoteUser: peer.jamiId,
      ...(displayName ? { displayName } : {}),
      ...(path ? { remoteHost: hostPort(path.remoteAddress), localHost: hostPort(path.localAddress) } : {}),
      userAgent: USER_AGENT,
    });
    endpoint.on("message", (message) => this.received(peer, message));
    endpoint.on("error", (error) => this.log("sip with %s: %s", peer.deviceId.slice(0, 8), error.message));
    endpoint.on("close", () => {
      void this.endpoints.get(peer.deviceId)?.then((current) => current === endpoint && this.endpoints.delete(peer.deviceId));
    });
    this.endpoints.set(peer.deviceId, Promise.resolve(endpoint));
    // jamid 13.7: a `sip` channel coming up (either way) syncs every conversation shared with that device
    this.onReady(peer);
    return endpoint;
  }

  private received(peer: ChannelPeer, message: IncomingSipMessage): void {
    if (message.sender !== peer.jamiId) {
      this.log("MESSAGE from %s claims to be %s: dropped", peer.jamiId.slice(0, 8), message.sender.slice(0, 8));
      return;
    }
    for (const payload of message.payloads) this.onPayload(payload, peer);
  }

  private endpointTo(device: VerifiedDevice): Promise<SipEndpoint> {
    const deviceId = device.deviceId.toString();
    let endpoint = this.endpoints.get(deviceId);
    if (!endpoint) {
      endpoint = this.c.links
        .connect(device, "sip", { signal: this.c.lifetime })
        .then((channel) => this.attach({ jamiId: device.jamiId.toString(), deviceId }, channel));
      endpoint.catch(() => this.endpoints.delete(deviceId));
      this.endpoints.set(deviceId, endpoint);
    }
    return endpoint;
  }

  /**
   * jamid's `sendMessageNotification`: `{commit, deviceId, id}` to every device of every URI in `members` (our own
   * other devices too when `members` includes us). Resolves with the number of devices that answered 200 OK.
   */
  notify(notice: GitNotice, members: readonly string[], options: { signal?: AbortSignal } = {}): Promise<number> {
    return this.send({ type: "git-notice", notice }, members, options);
  }

  /** `payload` to every device of every URI in `accounts` but this one; resolves with how many answered 200 OK. */
  async send(payload: JamiPayload, accounts: readonly string[], options: { signal?: AbortSignal } = {}): Promise<number> {
    const self = this.c.identity.deviceId.toString();
    const sends: Array<Promise<unknown>> = [];
    for (const uri of accounts) {
      await this.forEachDeviceOf(
        uri,
        (device) => {
          if (device.deviceId.toString() === self) return;
          const fallback = this.fallback;
          const deviceId = device.deviceId.toString();
          if (this.direct?.send(deviceId, payload)) return void sends.push(Promise.resolve());
          if (fallback && !this.endpoints.has(deviceId)) {
            // jamid 13.7 without a `sip` channel: the DHT message now, and a channel asked for (it syncs when up)
            this.endpointTo(device).catch((error: Error) => this.log("sip with %s: %s", deviceId.slice(0, 8), error.message));
            sends.push(fallback(device, payload, options));
            return;
          }
          const overSip = this.endpointTo(device).then((sip) => sip.sendMessage(payload, options));
          sends.push(
            fallback
              ? overSip.catch((error: Error) => {
                  this.log("%s to %s over the DHT (sip: %s)", payload.type, deviceId.slice(0, 8), error.message);
                  return fallback(device, payload, options);
                })
              : overSip,
          );
        },
        { signal: options.signal },
      );
    }
    const results = await Promise.allSettled(sends);
    for (const r of results) if (r.status === "rejected") this.log("%s not delivered: %s", payload.type, (r.reason as Error).message);
    return results.filter((r) => r.status === "fulfilled").length;
  }

  /** Opens `sip` channels to the devices of `jamiId` we have none with (jamid syncs shared conversations on each). */
  async reach(jamiId: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const self = this.c.identity.deviceId.toString();
    const opening: Array<Promise<unknown>> = [];
    await this.forEachDeviceOf(jamiId, (device) => void (device.deviceId.toString() !== self && opening.push(this.endpointTo(device).catch(() => undefined))), {
      signal: options.signal,
    });
    await Promise.all(opening);
  }

  /**
   * `onDevice` for each device of `jamiId`: from the last DHT search when it is recent (refreshed in the background
   * once it is older than DEVICES_REFRESH_MS), else from a new search. Verification is the search's (`forEachDevice`);
   * trust (bans, revocations) is judged again by the link to each device.
   */
  private async forEachDeviceOf(jamiId: string, onDevice: (device: VerifiedDevice) => void, options: { signal?: AbortSignal } = {}): Promise<void> {
    const cached = this.known.get(jamiId);
    const age = cached ? Date.now() - cached.at : Infinity;
    if (cached && age < DEVICES_KEPT_MS) {
      cached.devices.forEach(onDevice);
      if (age > DEVICES_REFRESH_MS && !cached.refreshing) {
        cached.refreshing = true;
        void this.search(jamiId, () => undefined, { signal: this.c.lifetime }).catch(() => (cached.refreshing = false));
      }
      return;
    }
    await this.search(jamiId, onDevice, options);
  }

  private async search(jamiId: string, onDevice: (device: VerifiedDevice) => void, options: { signal?: AbortSignal } = {}): Promise<void> {
    const found: VerifiedDevice[] = [];
    await forEachDevice(
      this.c.network.dht,
      JamiId.fromHex(jamiId),
      (device) => {
        found.push(device);
        onDevice(device);
      },
      options,
    );
    if (this.known.size >= MAX_KNOWN_ACCOUNTS && !this.known.has(jamiId)) this.known.delete(this.known.keys().next().value!);
    this.known.set(jamiId, { devices: found, at: Date.now() });
  }

  close(): void {
    for (const endpoint of this.endpoints.values())
      void endpoint.then(
        (e) => e.close(),
        () => undefined,
      );
    this.endpoints.clear();
  }
}
