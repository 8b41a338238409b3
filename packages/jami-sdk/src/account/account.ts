import { TypedEmitter, lifetimeController } from "jami-core";
import createDebug from "debug";
import { setMaxListeners } from "node:events";

import { createAccount, importAccount, loadAccount, openAccountArchive, type LocalAccount } from "jami-identity";
import { AccountError } from "../errors.js";
import { Contacts } from "../features/contacts.js";
import { Devices } from "../features/devices.js";
import type { LinkManager } from "../features/links.js";
import { Presence } from "../features/presence.js";
import { Profile } from "../features/profile.js";
import { buildComponents, type AccountFeature, type FeatureLifecycle } from "./components.js";
import { AccountIdentity } from "./identity.js";
import type { InboxRouter } from "./inbox.js";
import { AccountNetwork, type NetworkOptions } from "./network.js";
import { JsonDirectoryStore, type AccountStore } from "./store.js";

const log = createDebug("jami:sdk:account");

/** Optional features by the name they take on the account: `{ chat: chat() }` → `account.chat`. */
export type FeatureFactories = Record<string, AccountFeature<unknown>>;
/** The optional features' types, as the account exposes them. */
export type FeaturesOf<F extends FeatureFactories> = { readonly [K in keyof F]: ReturnType<F[K]> };

export interface AccountOptions<F extends FeatureFactories = Record<never, never>> extends NetworkOptions {
  /** The account directory (jamid-compatible identity files). */
  dir: string;
  /** The archive password, if the account has one. */
  password?: string;
  /** Where contacts, known devices and features' state live (default: JSON files in `dir`). */
  store?: AccountStore;
  /** Optional features, built after `contacts`, `devices`, `presence` and `profile` (before `links`), started in this order. */
  features?: F;
}

export interface AccountEvents {
  /** Started: the device is published and every feature is listening. */
  online: [];
  /** Stopped: nothing is listening and the node is closed. */
  offline: [];
  /** Background work failed (e.g. a DeviceSync that could not be sent); emitted only when someone listens. */
  error: [{ feature: string; error: Error }];
}

type Phase = "stopped" | "starting" | "started" | "stopping";

/**
 * A Jami account on one device, the composition root of its features: it opens the identity and the store,
 * builds the components every feature receives, and starts the DHT, the inbox and then each feature in order
 * (all or nothing). `contacts`, `devices`, `presence`, `profile` and `links` are built in; optional features come from
 * their own packages (`features: { conversations: swarm() }`).
 */
export class Account extends TypedEmitter<AccountEvents> {
  readonly contacts: Contacts;
  readonly devices: Devices;
  readonly presence: Presence;
  readonly profile: Profile;
  readonly links: LinkManager;
  private readonly network: AccountNetwork;
  private readonly inbox: InboxRouter;
  private readonly lifecycle: Array<[string, FeatureLifecycle]>;
  private lifetime = lifetimeController();
  private phase: Phase = "stopped";
  private transition: Promise<void> = Promise.resolve();

  private constructor(
    readonly identity: AccountIdentity,
    local: LocalAccount,
    network: NetworkOptions,
    store: AccountStore,
    features: FeatureFactories,
  ) {
    super();
    this.network = new AccountNetwork(network, local.device.key);
    const components = buildComponents({ identity, store, network: this.network, device: local.device, lifetime: () => this.lifetime.signal });
    this.inbox = components.inbox;
    this.links = components.links;
    components.events.on("failure", (failure) => {
      if (this.listenerCount("error") > 0) this.emit("error", failure);
    });
    this.devices = new Devices(components);
    this.presence = new Presence(components);
    this.contacts = new Contacts(components);
    this.profile = new Profile(components);
    this.lifecycle = [
      ["devices", this.devices],
      ["presence", this.presence],
      ["contacts", this.contacts],
      ["profile", this.profile],
    ];
    for (const [name, factory] of Object.entries(features)) {
      if (name in this) throw new AccountError("INVALID_ARGUMENT", `a feature cannot be named ${name}`);
      const feature = factory(components);
      Object.defineProperty(this, name, { value: feature, enumerable: true });
      this.lifecycle.push([name, feature as FeatureLifecycle]);
    }
    // Links last: a channel request is answered only once every feature has registered its handlers.
    this.lifecycle.push(["links", this.links]);
  }

  get jamiId(): string {
    return this.identity.jamiId.toString();
  }

  get deviceId(): string {
    return this.identity.deviceId.toString();
  }

  get isStarted(): boolean {
    return this.phase === "started";
  }

  /** A new account (new keys) in `options.dir`. */
  static async create<F extends FeatureFactories = Record<never, never>>(
    options: AccountOptions<F> & { displayName?: string; deviceName?: string; bits?: number },
  ): Promise<Account & FeaturesOf<F>> {
    const local = await createAccount({
      dir: options.dir,
      password: options.password,
      displayName: options.displayName,
      deviceName: options.deviceName,
      bits: options.bits,
    });
    return Account.open(local, options);
  }

  /** The account already in `options.dir`. */
  static async load<F extends FeatureFactories = Record<never, never>>(options: AccountOptions<F>): Promise<Account & FeaturesOf<F>> {
    return Account.open(await loadAccount({ dir: options.dir }), options);
  }

  /** An account from an archive (jamid's export or ours): a new device of it in `options.dir`. */
  static async import<F extends FeatureFactories = Record<never, never>>(
    options: AccountOptions<F> & { archive: Uint8Array; bits?: number },
  ): Promise<Account & FeaturesOf<F>> {
    const local = await importAccount({ archive: options.archive, dir: options.dir, password: options.password, bits: options.bits });
    return Account.open(local, options);
  }

  private static async open<F extends FeatureFactories>(local: LocalAccount, options: AccountOptions<F>): Promise<Account & FeaturesOf<F>> {
    const archive = await openAccountArchive({ dir: local.dir, password: options.password });
    const { dir: _dir, password: _password, store, features, ...network } = options;
    const account = new Account(new AccountIdentity(local, archive), local, network, store ?? new JsonDirectoryStore(local.dir), features ?? {});
    for (const [, feature] of account.lifecycle) await feature.load?.();
    return account as Account & FeaturesOf<F>;
  }

  /**
   * Joins the DHT, listens to the inbox, then starts each feature (publishing this device, following contacts,
   * answering links). If any step fails, everything started is stopped again and the error is thrown.
   */
  start(options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.after(async () => {
      if (this.phase === "started") return;
      this.phase = "starting";
      this.lifetime = lifetimeController();
      // Every verification and link in flight listens to it: many listeners are expected, not a leak.
      setMaxListeners(0, this.lifetime.signal);
      const started: FeatureLifecycle[] = [];
      try {
        throwIfAborted(options.signal);
        await this.network.start(options);
        this.inbox.start();
        for (const [name, feature] of this.lifecycle) {
          throwIfAborted(options.signal);
          log("starting %s", name);
          await feature.start?.(options);
          started.push(feature);
        }
      } catch (error) {
        log("start failed, rolling back: %s", (error as Error).message);
        await this.shutDown(started);
        this.phase = "stopped";
        throw error;
      }
      this.phase = "started";
      this.emit("online");
    });
  }

  /** Aborts what is in flight, stops the features in reverse (pending device syncs are sent) and closes the node. */
  stop(): Promise<void> {
    return this.after(async () => {
      if (this.phase !== "started") return;
      this.phase = "stopping";
      await this.shutDown(this.lifecycle.map(([, f]) => f));
      this.phase = "stopped";
      this.emit("offline");
    });
  }

  private async shutDown(features: FeatureLifecycle[]): Promise<void> {
    this.lifetime.abort(new AccountError("STOPPED", "account stopped"));
    for (const feature of [...features].reverse()) {
      try {
        await feature.stop?.();
      } catch (e) {
        log("a feature failed to stop: %s", (e as Error).message);
      }
    }
    this.inbox.stop();
    await this.network.stop();
  }

  /** Runs lifecycle transitions one after another (a `stop` during `start` waits for it). */
  private after(step: () => Promise<void>): Promise<void> {
    const run = this.transition.then(step);
    this.transition = run.catch(() => undefined);
    return run;
  }
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AccountError("ABORTED", "start aborted", { cause: signal.reason });
}
