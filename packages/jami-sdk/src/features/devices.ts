import { TypedEmitter, fromBase64, toBase64 } from "jami-core";
import { InfoHash, Value, type Subscription } from "jami-dht";
import { DeviceId, DeviceShortId, JamiId, PublicKey, type VerifiedDevice } from "jami-identity";
import { readDeviceAnnouncement } from "../dht/device-announcement.js";
import { decodeDeviceSync, DEVICE_SYNC_TYPE, encodeDeviceSync, type DeviceSyncData } from "../dht/device-sync.js";
import { findDevices } from "../dht/devices.js";
import { JamiDhtKeys } from "../dht/keys.js";
import type { AccountComponents } from "../account/components.js";
import type { Logger } from "../account/logger.js";
import { AccountError } from "../errors.js";
import { KnownDevices, type KnownDevice } from "./known-devices.js";
import { assertJamiId, throwIfAborted } from "./ids.js";

export interface DeviceEvents {
  /** The account's known devices changed (a device of ours appeared or was renamed). */
  change: [KnownDevice[]];
  /** Another device of this account sent its state (DeviceSync) and we merged it; counts per feature part. */
  sync: [{ fromDevice: string } & Record<string, number | string>];
}

type Components = Pick<AccountComponents, "identity" | "store" | "network" | "inbox" | "trust" | "sync" | "events" | "lifetime" | "logger">;

/**
 * `account.devices`: this device's publication on the DHT (certificate and announcement, as jamid publishes
 * them), the account's known devices, and jamid's DeviceSync with them: sent when a feature asks
 * (`sync.request()`) or a device of ours comes online, merged part by part when one arrives.
 */
export class Devices extends TypedEmitter<DeviceEvents> {
  private known?: KnownDevices;
  private ownAnnouncements?: Subscription;
  /** Own devices whose announcement we already answered with a sync in this session. */
  private readonly greeted = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private started = false;

  private readonly log: Logger;

  constructor(private readonly c: Components) {
    super();
    this.log = c.logger("devices");
    c.inbox.handle(DEVICE_SYNC_TYPE, (v, sender) => this.onDeviceSyncValue(v, sender));
    c.events.on("syncRequested", ({ onlyShortIds }) => this.schedule(onlyShortIds));
    c.events.on(
      "deviceSyncReceived",
      ({ sync, from }) =>
        void this.onChannelSync(sync, from).catch((e: Error) =>
          this.log("a DeviceSync on sync:// from %s: %s", from.deviceId.toString().slice(0, 8), e.message),
        ),
    );
    c.sync.part("devices", {
      build: () => ({
        devices: this.requireKnown()
          .list()
          .map((d) => ({ deviceId: d.deviceId, shortId: d.shortId, name: d.name })),
      }),
      apply: async (sync) => {
        for (const d of sync.devices) void this.learnDevice(d.shortId, d.deviceId, d.name);
      },
    });
  }

  async load(): Promise<void> {
    const { identity } = this.c;
    this.known = await KnownDevices.open(this.c.store);
    await this.known.add({
      deviceId: identity.deviceId.toString(),
      shortId: identity.deviceShortId.toString(),
      name: identity.deviceName,
      publicKey: toBase64(identity.devicePublicKey.spki),
    });
  }

  /** Publishes this device (online once a node holds it; the slow or gone closest nodes get it in the background). */
  async start(options: { signal?: AbortSignal } = {}): Promise<void> {
    const { network, identity } = this.c;
    await identity.publishDevice(network.dht, { signal: options.signal, acknowledgedBy: 1 });
    // Our own announcements: a device of this account coming online gets our state (and we learn it).
    this.ownAnnouncements = network.dht.listen(JamiDhtKeys.account(identity.jamiId));
    this.ownAnnouncements.on("value", (v) => void this.onOwnAnnouncement(v));
    this.started = true;
  }

  /** Stops once the DeviceSyncs already asked for are sent. */
  async stop(): Promise<void> {
    this.log("stopping: waiting for pending device syncs");
    await this.queue;
    this.started = false;
    this.ownAnnouncements?.cancel();
    this.ownAnnouncements = undefined;
    this.greeted.clear();
  }

  private requireKnown(): KnownDevices {
    if (!this.known) throw new AccountError("NOT_STARTED", "devices not loaded");
    return this.known;
  }

  /** The devices of this account we know of (this one, those seen on the DHT, those other devices told us of). */
  list(): KnownDevice[] {
    return this.requireKnown().list();
  }

  /** The verified devices of an account, as found on the DHT now. */
  async of(jamiId: string, options: { signal?: AbortSignal } = {}): Promise<VerifiedDevice[]> {
    assertJamiId(jamiId);
    return findDevices(this.c.network.dht, JamiId.fromHex(jamiId), options);
  }

  /** The devices of this account found on the DHT (jamid's known-devices view), this one included. */
  own(options: { signal?: AbortSignal } = {}): Promise<VerifiedDevice[]> {
    return this.of(this.c.identity.jamiId.toString(), options);
  }

  /** An archive of the account with its current state, for another device or for jamid (`password`: the account's). */
  async exportArchive(options: { password?: string; signal?: AbortSignal } = {}): Promise<Uint8Array> {
    throwIfAborted(options.signal);
    return this.c.identity.exportArchive(options.password, this.c.sync.archive());
  }

  private schedule(onlyShortIds?: string[]): void {
    if (!this.started) return;
    this.queue = this.queue
      .then(() => this.send(onlyShortIds))
      .catch((error: Error) => {
        this.log("device sync failed: %s", error.message);
        this.c.events.emit("failure", { feature: "devices", error });
      });
  }

  /** Sends jamid's DeviceSync (every feature's part) to each other known device of this account. */
  private async send(onlyShortIds?: string[]): Promise<void> {
    const { secure } = this.c.network;
    const self = this.c.identity.deviceId.toString();
    const targets = this.list().filter((d) => d.deviceId !== self && (!onlyShortIds || onlyShortIds.includes(d.shortId)));
    if (targets.length === 0) return;
    const data = encodeDeviceSync(this.c.sync.next(this.c.identity.deviceName));
    const value = (): Value => new Value({ type: DEVICE_SYNC_TYPE, data });
    await Promise.all(
      targets.map((d) =>
        // Not tied to the account's lifetime: `stop()` lets the syncs already asked for reach the DHT.
        secure.putEncrypted(JamiDhtKeys.inbox(DeviceShortId.fromHex(d.shortId)), value(), PublicKey.fromSpki(fromBase64(d.publicKey)), { acknowledgedBy: 1 }),
      ),
    );
    this.log("sent DeviceSync to %d device(s)", targets.length);
  }

  /** jamid 13.7's DeviceSync from another device of this account: each feature merges its part. */
  private async onDeviceSyncValue(v: Value, ownerId: InfoHash): Promise<void> {
    const sync: DeviceSyncData | undefined = decodeDeviceSync(v.data);
    if (!sync) return this.log("ignored a type-0 inbox value that is not a DeviceSync");
    let sender: VerifiedDevice;
    try {
      sender = await this.c.trust.verifiedSender(ownerId, { jamiId: this.c.identity.jamiId, signal: this.c.lifetime });
    } catch (e) {
      return this.log("ignored a DeviceSync from device %s: %s", ownerId, (e as Error).message);
    }
    await this.remember(sender, sync.deviceName);
    if (!(await this.requireKnown().acceptSync(sender.deviceId.toString(), sync.date))) return this.log("ignored an outdated DeviceSync from %s", ownerId);
    const counts = await this.c.sync.apply(sync, sender);
    this.emit("sync", { fromDevice: sender.deviceId.toString(), ...counts });
  }

  /**
   * The DeviceSync part of a `SyncMsg` on `sync://` (13.7 sends one when the channel opens; today's daemons sync
   * contacts only this way): the link already proved the device is ours, and 13.7 applies these without a date check.
   */
  private async onChannelSync(sync: DeviceSyncData, from: VerifiedDevice): Promise<void> {
    if (!from.jamiId.equals(this.c.identity.jamiId)) return;
    await this.remember(from, sync.deviceName);
    const counts = await this.c.sync.apply(sync, from);
    this.emit("sync", { fromDevice: from.deviceId.toString(), ...counts });
  }

  /** A device named in a sync: verified through its certificate on the DHT before it joins the known devices. */
  private async learnDevice(shortId: string, deviceId: string | undefined, name: string): Promise<void> {
    const known = this.requireKnown();
    if ((deviceId && known.get(deviceId)) || known.byShortId(shortId)) return;
    const keys = [InfoHash.fromHex(shortId), ...(deviceId ? [JamiDhtKeys.deviceCertificate(DeviceId.fromHex(deviceId))] : [])];
    try {
      await this.remember(
        await this.c.trust.verifiedSender(InfoHash.fromHex(shortId), { jamiId: this.c.identity.jamiId, keys, signal: this.c.lifetime }),
        name,
      );
    } catch (e) {
      this.log("device %s named in a sync not verified: %s", shortId, (e as Error).message);
    }
  }

  private async remember(device: VerifiedDevice, name: string): Promise<void> {
    const added = await this.requireKnown().add({
      deviceId: device.deviceId.toString(),
      shortId: device.deviceShortId.toString(),
      name,
      publicKey: toBase64(device.device.publicKey.spki),
    });
    if (added) this.emit("change", this.list());
  }

  /** An announcement at our own Jami ID: a device of ours we greet with a sync (once per session). */
  private async onOwnAnnouncement(v: Value): Promise<void> {
    const { identity } = this.c;
    const announced = readDeviceAnnouncement(v, identity.jamiId);
    if (!announced || announced.shortId.toString() === identity.deviceShortId.toString()) return;
    const shortId = announced.shortId.toString();
    if (this.greeted.has(shortId)) return;
    this.greeted.add(shortId);
    const keys = announced.publicKey ? JamiDhtKeys.certificates(announced.publicKey) : undefined;
    try {
      const device = await this.c.trust.verifiedSender(announced.shortId, {
        jamiId: identity.jamiId,
        keys: keys ? [keys.legacy, keys.current] : undefined,
        signal: this.c.lifetime,
      });
      await this.remember(device, this.requireKnown().byShortId(shortId)?.name ?? "");
    } catch (e) {
      this.greeted.delete(shortId);
      return this.log("own announcement of %s refused: %s", shortId, (e as Error).message);
    }
    this.schedule([shortId]);
  }
}
