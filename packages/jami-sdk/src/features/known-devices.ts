import type { AccountStore } from "../account/store.js";

/** The store key (`devices.json` in the account directory by default). */
const KEY = "devices";

/** One device of this account (jamid's known-devices view). */
export interface KnownDevice {
  /** 64-hex device id. */
  deviceId: string;
  /** 40-hex device short id (what 13.7 shows). */
  shortId: string;
  name: string;
  /** base64 SPKI of the device key (what sync data is encrypted to). */
  publicKey: string;
  /** The `date` of the last DeviceSync accepted from it (decimal ns), so older or replayed ones are dropped. */
  lastSync?: string;
}

type DevicesFile = Record<string, KnownDevice>;

/** The account's devices in the account's store, keyed by device id. */
export class KnownDevices {
  private constructor(
    private readonly store: AccountStore,
    private readonly devices: DevicesFile,
  ) {}

  static async open(store: AccountStore): Promise<KnownDevices> {
    return new KnownDevices(store, (await store.read<DevicesFile>(KEY)) ?? {});
  }

  list(): KnownDevice[] {
    return Object.values(this.devices);
  }

  get(deviceId: string): KnownDevice | undefined {
    return this.devices[deviceId];
  }

  byShortId(shortId: string): KnownDevice | undefined {
    return this.list().find((d) => d.shortId === shortId);
  }

  /** Records a device (or its new name); true when it was not known. */
  async add(device: Omit<KnownDevice, "lastSync">): Promise<boolean> {
    const known = this.devices[device.deviceId];
    if (known && (known.name === device.name || !device.name)) return false;
    this.devices[device.deviceId] = { ...known, ...device, name: device.name || known?.name || "" };
    await this.store.write(KEY, this.devices);
    return !known;
  }

  /** jamid's `syncDevice`: true (and remembered) only when `date` is newer than the last sync from that device. */
  async acceptSync(deviceId: string, date: bigint): Promise<boolean> {
    const known = this.devices[deviceId];
    if (!known) return false;
    if (known.lastSync !== undefined && BigInt(known.lastSync) >= date) return false;
    known.lastSync = date.toString();
    await this.store.write(KEY, this.devices);
    return true;
  }

  async remove(deviceId: string): Promise<void> {
    delete this.devices[deviceId];
    await this.store.write(KEY, this.devices);
  }
}
