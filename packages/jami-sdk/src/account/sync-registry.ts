import type { ArchiveFields, VerifiedDevice } from "jami-identity";
import type { DeviceSyncData } from "../dht/device-sync.js";
import type { EventBus } from "./event-bus.js";

/** What a feature adds to the DeviceSync sent to the account's other devices, and takes from theirs. */
export interface SyncPart {
  /** Fields this feature puts in the DeviceSync we send. */
  build(): Partial<Omit<DeviceSyncData, "date" | "deviceName">>;
  /**
   * Merges a DeviceSync from another device of this account (sender verified, newer than its last one);
   * returns counts for the `sync` event (e.g. `{ contacts: 2 }`).
   */
  apply(sync: DeviceSyncData, from: VerifiedDevice): Promise<Record<string, number> | void>;
  /** Fields this feature puts in an exported account archive (e.g. `ringAccountContacts`). */
  archive?(): ArchiveFields;
}

/**
 * jamid sends an account's state to its other devices as one DeviceSync message (and the same state goes
 * into an exported archive): each feature registers its part here instead of editing one big builder.
 */
export class SyncRegistry {
  private readonly parts = new Map<string, SyncPart>();
  private lastDate = 0n;

  constructor(private readonly events: EventBus) {}

  /** Registers a feature's part under a unique name; returns a remover. */
  part(name: string, part: SyncPart): () => void {
    if (this.parts.has(name)) throw new TypeError(`sync part ${name} is registered twice`);
    this.parts.set(name, part);
    return () => void this.parts.delete(name);
  }

  /** Asks for a DeviceSync to the other devices (sent in the background, in order; `stop()` waits for it). */
  request(onlyShortIds?: string[]): void {
    this.events.emit("syncRequested", { onlyShortIds });
  }

  /**
   * A DeviceSync of every part, dated now — later than any this device sent before, whichever way it went (DHT or
   * `sync://`): jamid drops one not newer than the last it accepted from a device.
   */
  next(deviceName: string, now: () => number = Date.now): DeviceSyncData {
    const date = BigInt(now()) * 1_000_000n;
    this.lastDate = date > this.lastDate ? date : this.lastDate + 1n;
    return this.build(this.lastDate, deviceName);
  }

  build(date: bigint, deviceName: string): DeviceSyncData {
    const sync: DeviceSyncData = { date, deviceName, devices: [], peers: {}, trustRequests: {} };
    for (const part of this.parts.values()) Object.assign(sync, part.build());
    return sync;
  }

  async apply(sync: DeviceSyncData, from: VerifiedDevice): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const part of this.parts.values()) Object.assign(counts, await part.apply(sync, from));
    return counts;
  }

  archive(): ArchiveFields {
    const fields: ArchiveFields = {};
    for (const part of this.parts.values()) Object.assign(fields, part.archive?.());
    return fields;
  }
}
