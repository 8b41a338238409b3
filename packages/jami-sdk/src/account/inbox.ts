import createDebug from "debug";
import type { InfoHash, Subscription, Value } from "jami-dht";
import { JamiDhtKeys } from "../dht/keys.js";
import { BoundedSet } from "../bounded-set.js";
import type { AccountIdentity } from "./identity.js";
import type { AccountNetwork } from "./network.js";

const log = createDebug("jami:sdk:inbox");
const MAX_HANDLED_INBOX_VALUES = 4096;

/** Handles one inbox value: `sender` is the key id of the device that signed it (not yet verified). */
export type InboxHandler = (value: Value, sender: InfoHash) => void | Promise<void>;

/**
 * The device's DHT inbox (`inbox:<device short id>`, jamid's trust requests, DeviceSync, …): only values
 * encrypted to this device and signed inside are read, each once, and handed to the handlers of its type.
 */
export class InboxRouter {
  private readonly handlers = new Map<number, InboxHandler[]>();
  /** Values already handled (owner/id/seq), the oldest forgotten past a bound. */
  private readonly handled = new BoundedSet<string>(MAX_HANDLED_INBOX_VALUES);
  private subscription?: Subscription;

  constructor(
    private readonly network: AccountNetwork,
    private readonly identity: AccountIdentity,
  ) {}

  /** Adds a handler for values of `type` (every handler of the type is called); returns a remover. */
  handle(type: number, handler: InboxHandler): () => void {
    const list = this.handlers.get(type) ?? [];
    list.push(handler);
    this.handlers.set(type, list);
    return () => {
      const i = list.indexOf(handler);
      if (i >= 0) list.splice(i, 1);
    };
  }

  start(): void {
    // Only values encrypted to this device: a signed value sent to another device cannot be replayed here.
    this.subscription = this.network.secure.listen(JamiDhtKeys.inbox(this.identity.deviceShortId), { requireEncrypted: true });
    this.subscription.on("value", (v) => void this.dispatch(v));
  }

  stop(): void {
    this.subscription?.cancel();
    this.subscription = undefined;
  }

  private async dispatch(v: Value): Promise<void> {
    if (!v.ownerId) return log("ignored an unsigned inbox value");
    if (!this.handled.add(`${v.ownerId}/${v.id}/${v.seq}`)) return;
    const handlers = this.handlers.get(v.type);
    if (!handlers?.length) return log("ignored inbox value of type %d", v.type);
    log("inbox value type %d from device %s", v.type, v.ownerId);
    for (const handler of handlers) {
      try {
        await handler(v, v.ownerId);
      } catch (e) {
        log("inbox handler for type %d failed: %s", v.type, (e as Error).message);
      }
    }
  }
}
