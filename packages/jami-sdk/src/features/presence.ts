import { TypedEmitter } from "jami-core";
import { type Subscription } from "jami-dht";
import { JamiId } from "jami-identity";
import { readDeviceAnnouncement } from "../dht/device-announcement.js";
import { JamiDhtKeys } from "../dht/keys.js";
import type { AccountComponents } from "../account/components.js";

export interface PresenceChange {
  jamiId: string;
  online: boolean;
  /** Short ids of the devices with a live announcement. */
  devices: string[];
}

export interface PresenceEvents {
  /** A followed account's device appeared or the last one went away. */
  change: [PresenceChange];
}

interface Followed {
  sub: Subscription;
  devices: Set<string>;
}

/**
 * `account.presence`: follows the device announcements of the account's active contacts (jamid's presence:
 * an account is online while one of its devices' announcements lives on the DHT).
 */
export class Presence extends TypedEmitter<PresenceEvents> {
  /** Accounts to follow (active contacts), whether started or not. */
  private readonly wanted = new Set<string>();
  private readonly followed = new Map<string, Followed>();
  private started = false;

  constructor(private readonly components: Pick<AccountComponents, "network" | "events">) {
    super();
    components.events.on("contactChanged", ({ jamiId, active }) => {
      if (active) {
        this.wanted.add(jamiId);
        if (this.started) this.follow(jamiId);
      } else {
        this.wanted.delete(jamiId);
        this.unfollow(jamiId);
      }
    });
  }

  /** Whether a contact currently has a live device announcement. */
  isOnline(jamiId: string): boolean {
    return (this.followed.get(jamiId)?.devices.size ?? 0) > 0;
  }

  /** Short ids of a contact's devices with a live announcement. */
  devicesOf(jamiId: string): string[] {
    return [...(this.followed.get(jamiId)?.devices ?? [])];
  }

  async start(): Promise<void> {
    this.started = true;
    for (const jamiId of this.wanted) this.follow(jamiId);
  }

  async stop(): Promise<void> {
    this.started = false;
    for (const f of this.followed.values()) f.sub.cancel();
    this.followed.clear();
  }

  private follow(jamiId: string): void {
    if (this.followed.has(jamiId)) return;
    const id = JamiId.fromHex(jamiId);
    const sub = this.components.network.dht.listen(JamiDhtKeys.account(id));
    const entry: Followed = { sub, devices: new Set() };
    const byValue = new Map<bigint, string>();
    const report = (): void => void this.emit("change", { jamiId, online: entry.devices.size > 0, devices: [...entry.devices] });
    sub.on("value", (v) => {
      const device = readDeviceAnnouncement(v, id);
      if (!device) return;
      byValue.set(v.id, device.shortId.toString());
      const before = entry.devices.size;
      entry.devices.add(device.shortId.toString());
      if (before === 0 || entry.devices.size !== before) report();
    });
    sub.on("expired", (ids) => {
      for (const vid of ids) {
        const dev = byValue.get(vid);
        byValue.delete(vid);
        if (dev && ![...byValue.values()].includes(dev)) entry.devices.delete(dev);
      }
      report();
    });
    this.followed.set(jamiId, entry);
  }

  private unfollow(jamiId: string): void {
    this.followed.get(jamiId)?.sub.cancel();
    this.followed.delete(jamiId);
  }
}
