import type { DeviceIdentity } from "jami-identity";
import type { AccountStore } from "./store.js";
import { componentLogger, type ComponentLogger } from "./logger.js";
import type { AccountIdentity } from "./identity.js";
import type { AccountNetwork } from "./network.js";
import { InboxRouter } from "./inbox.js";
import { TrustPolicy } from "./trust.js";
import { SyncRegistry } from "./sync-registry.js";
import { EventBus } from "./event-bus.js";
import { LinkManager } from "../features/links.js";
import { OneToOneSlot } from "./one-to-one.js";
import { MembershipSlot } from "./membership.js";
import { OwnCardSlot } from "./own-card.js";

/**
 * What every feature of an account receives, and nothing more (no private key: `identity` signs for them).
 * Built once by `Account`; a feature keeps what it needs from it in its constructor.
 */
export interface AccountComponents {
  identity: AccountIdentity;
  store: AccountStore;
  /** The DHT and the secure layer over it (`dht`/`secure` throw NOT_STARTED outside start…stop). */
  network: AccountNetwork;
  /** `inbox.handle(valueType, fn)`: values encrypted to this device, by type. */
  inbox: InboxRouter;
  /** Links with other devices: `links.handle(channelName, accept)`, `links.connect(...)`. */
  links: LinkManager;
  /** Whether another device is trusted (chain, revocation, features' rules such as bans). */
  trust: TrustPolicy;
  /** Each feature's part of DeviceSync and of exported archives. */
  sync: SyncRegistry;
  /** Between features (they never import each other). */
  events: EventBus;
  /** The one-to-one conversation a trust request names: provided by the conversations feature when composed. */
  oneToOne: OneToOneSlot;
  /** Who is in a conversation: provided by the conversations feature when composed (profiles serve members). */
  membership: MembershipSlot;
  /** The account's own vCard (provided by the profile feature): the payload of the trust requests we send. */
  ownCard: OwnCardSlot;
  /** `logger("contacts")`: debug lines under `jami:sdk:contacts`, prefixed with this device's short id. */
  logger: ComponentLogger;
  /** Aborted when the account stops: work in flight ends with it. */
  readonly lifetime: AbortSignal;
}

/**
 * A feature's lifecycle, all optional: `load` once when the account is opened (read stored state), `start` and
 * `stop` with the account (in order, and in reverse). A failed `start` stops everything started before it.
 */
export interface FeatureLifecycle {
  load?(options?: { signal?: AbortSignal }): Promise<void>;
  start?(options?: { signal?: AbortSignal }): Promise<void>;
  stop?(): Promise<void>;
}

/** An optional feature, from its own package: a factory given the components (`features: { chat: chat() }`). */
export type AccountFeature<T> = (components: AccountComponents) => T;

/**
 * The components of one account device. `Account` calls this; tests call it to run one feature alone (e.g. over
 * a `MemoryDht` and a `MemoryStore`). `device` (with its private key) goes to the link manager only.
 */
export function buildComponents(options: {
  identity: AccountIdentity;
  store: AccountStore;
  network: AccountNetwork;
  device: DeviceIdentity;
  lifetime: () => AbortSignal;
}): AccountComponents {
  const { identity, store, network } = options;
  const events = new EventBus();
  const trust = new TrustPolicy(network, identity);
  return {
    identity,
    store,
    network,
    inbox: new InboxRouter(network, identity),
    links: new LinkManager(network, trust, options.device),
    trust,
    sync: new SyncRegistry(events),
    events,
    oneToOne: new OneToOneSlot(),
    membership: new MembershipSlot(),
    ownCard: new OwnCardSlot(),
    logger: componentLogger(identity.deviceShortId.toString()),
    get lifetime() {
      return options.lifetime();
    },
  };
}
