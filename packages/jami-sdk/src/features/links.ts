import { abortable, TypedEmitter } from "jami-core";
import createDebug from "debug";

import { DeviceId, JamiId, type DeviceIdentity, type VerifiedDevice } from "jami-identity";
import type { Channel } from "jami-dtls";
import { ConnectionManager, type LinkPath } from "../connection/connection-manager.js";
import { findDeviceChainById, forEachDevice } from "../dht/devices.js";
import { AccountError } from "../errors.js";
import type { AccountNetwork } from "../account/network.js";
import type { TrustPolicy } from "../account/trust.js";
import { assertJamiId } from "./ids.js";

const log = createDebug("jami:sdk:links");

/** The device at the other end of a channel. */
export interface ChannelPeer {
  jamiId: string;
  deviceId: string;
}

/** Decides on a channel another device asks for (see `LinkManager.handle`). */
export type ChannelRequestFilter = (request: { name: string; peer: ChannelPeer }) => boolean | Promise<boolean>;

export interface LinkEvents {
  /** A channel another device opened and a handler accepted. */
  channel: [{ channel: Channel; peer: ChannelPeer }];
}

/**
 * `account.links`: direct links with other devices (jamid's ConnectionManager: DHT request, ICE-TCP, TLS with
 * both chains checked, multiplexed channels), one per device, shared by every channel to it. Features name the
 * channels they serve with `handle`; requests for names nobody handles are declined, as jamid does.
 */
export class LinkManager extends TypedEmitter<LinkEvents> {
  private manager?: ConnectionManager;
  private readonly handlers: Array<{ pattern: string | RegExp; accept: ChannelRequestFilter }> = [];

  constructor(
    private readonly network: AccountNetwork,
    private readonly trust: TrustPolicy,
    /** Only the link manager holds the device's private key (TLS needs it). */
    private readonly device: DeviceIdentity,
  ) {
    super();
  }

  async start(): Promise<void> {
    const o = this.network.options;
    this.manager = new ConnectionManager({
      dht: this.network.dht,
      secure: this.network.secure,
      identity: this.device,
      ice: { addresses: o.iceAddresses, stun: o.stun, turn: o.turn },
      // jamid's ICE policy (§4.3): any valid device, unless its account banned or revoked it.
      authorize: (peer) => this.trust.check(peer),
      onChannelRequest: (peer, name) => this.decide(peer, name),
      onChannel: (peer, channel) => this.emit("channel", { channel, peer: toPeer(peer) }),
    });
    this.manager.start();
  }

  async stop(): Promise<void> {
    this.manager?.stop();
    this.manager = undefined;
  }

  private requireManager(): ConnectionManager {
    if (!this.manager) throw new AccountError("NOT_STARTED", "account not started: call start() first");
    return this.manager;
  }

  /**
   * A channel to another device over a direct link: `target` is a Jami ID (40 hex: the first of its devices to
   * answer), a device id (64 hex, found by today's certificate key) or a device found earlier (`devices.of`).
   */
  async connect(target: string | VerifiedDevice, name: string, options: { signal?: AbortSignal } = {}): Promise<Channel> {
    const manager = this.requireManager();
    const dht = this.network.dht;
    if (typeof target !== "string") return manager.openChannel(target, name, options);
    // a device we have a live link with: the channel goes on that link, no DHT lookup
    const live = /^[0-9a-f]{64}$/.test(target) ? manager.linkTo(target) : undefined;
    if (live && !live.isClosed) return live.openChannel(name, { signal: options.signal });
    if (/^[0-9a-f]{64}$/.test(target)) return manager.openChannel(await findDeviceChainById(dht, DeviceId.fromHex(target), options), name, options);
    assertJamiId(target);
    const self = this.device.certificate.deviceId.toString();
    const attempts: Promise<Channel>[] = [];
    await forEachDevice(
      dht,
      JamiId.fromHex(target),
      (d) => {
        if (d.deviceId.toString() === self) return;
        const attempt = manager.openChannel(d, name, options);
        attempt.catch(() => undefined); // judged below, once every device is known
        attempts.push(attempt);
      },
      { signal: options.signal },
    );
    if (attempts.length === 0) throw new AccountError("NO_DEVICES", `no device of ${target} found on the DHT`);
    const first = await Promise.any(attempts).catch((e: AggregateError) => {
      throw e.errors[0] as Error;
    });
    // Extra channels from devices that answered too are closed.
    for (const a of attempts)
      void a.then(
        (c) => c !== first && c.end(),
        () => undefined,
      );
    return first;
  }

  /**
   * Accepts channels whose name is `pattern` (or matches it) when `accept` says so; the first matching handler
   * decides, channels nobody handles are declined. Returns a remover.
   */
  handle(pattern: string | RegExp, accept: ChannelRequestFilter = () => true): () => void {
    const entry = { pattern, accept };
    this.handlers.push(entry);
    return () => {
      const i = this.handlers.indexOf(entry);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }

  /**
   * jamid's beacon on the link with a device: resolves with the round trip in ms; a link that does not answer
   * within `timeoutMs` (default 3000) is closed (its channels end) and the promise rejects; `signal` stops
   * waiting (the link stays).
   */
  async ping(deviceId: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<number> {
    const link = this.manager?.linkTo(deviceId);
    if (!link || link.isClosed) throw new AccountError("NOT_CONNECTED", `no link with device ${deviceId}`);
    const t0 = performance.now();
    await abortable(link.sendBeacon(options.timeoutMs ?? 3000), options.signal, () => new AccountError("ABORTED", "ping aborted"));
    return performance.now() - t0;
  }

  /** Closes the link with a device (64-hex id) and every channel on it. */
  disconnect(deviceId: string): void {
    this.manager?.closeLink(deviceId);
  }

  /** The verified device at the other end of the live link with `deviceId` (64 hex), if there is one. */
  peer(deviceId: string): VerifiedDevice | undefined {
    return this.manager?.peerOf(deviceId);
  }

  /** How the live link with a device runs (its remote address, the candidates both sides offered), if there is one. */
  path(deviceId: string): LinkPath | undefined {
    return this.manager?.pathTo(deviceId);
  }

  /** Devices we have a live link with (64-hex ids). */
  connected(): string[] {
    return this.manager?.connectedDevices() ?? [];
  }

  private decide(peer: VerifiedDevice, name: string): boolean | Promise<boolean> {
    const handler = this.handlers.find((h) => (typeof h.pattern === "string" ? h.pattern === name : h.pattern.test(name)));
    if (!handler) return (log("declined channel %s from %s: no handler", name, peer.deviceId), false);
    return handler.accept({ name, peer: toPeer(peer) });
  }
}

function toPeer(peer: VerifiedDevice): ChannelPeer {
  return { jamiId: peer.jamiId.toString(), deviceId: peer.deviceId.toString() };
}
