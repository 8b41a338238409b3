import { lifetimeController } from "jami-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MemoryDht } from "jami-dht";
import { createAccount, importAccount, openAccountArchive, type LocalAccount } from "jami-identity";
import { MemoryStore, type AccountComponents } from "jami-sdk";
import { AccountIdentity, AccountNetwork, buildComponents } from "jami-sdk/internal";

/** One device's components over an in-memory DHT and store, to run features alone (no Account around them). */
export interface TestDevice {
  components: AccountComponents;
  local: LocalAccount;
  /** Joins the DHT, listens to the inbox and publishes the device (what features expect before their start). */
  start(): Promise<void>;
  /** Aborts the lifetime signal (what `Account.stop` does first, before features stop). */
  abort(): void;
  stop(): Promise<void>;
}

async function device(dht: MemoryDht, local: LocalAccount): Promise<TestDevice> {
  const archive = await openAccountArchive({ dir: local.dir });
  const identity = new AccountIdentity(local, archive);
  const network = new AccountNetwork({ dht: () => dht.client(), iceAddresses: ["127.0.0.1"] }, local.device.key);
  let lifetime = lifetimeController();
  const components = buildComponents({ identity, store: new MemoryStore(), network, device: local.device, lifetime: () => lifetime.signal });
  return {
    components,
    local,
    start: async () => {
      lifetime = lifetimeController();
      await network.start();
      components.inbox.start();
      await identity.publishDevice(network.dht);
    },
    abort: () => lifetime.abort(),
    stop: async () => {
      lifetime.abort();
      components.inbox.stop();
      await network.stop();
    },
  };
}

/** A new account's device (RSA 2048). */
export async function newTestDevice(dht: MemoryDht): Promise<TestDevice> {
  return device(dht, await createAccount({ dir: join(mkdtempSync(join(tmpdir(), "jami-feature-")), "a"), bits: 2048 }));
}

/** Another device of `of`'s account, imported from its archive (as stored, or `archive` as the account exported it). */
export async function secondTestDevice(dht: MemoryDht, of: TestDevice, archive?: Uint8Array): Promise<TestDevice> {
  const { exportAccount } = await import("jami-identity");
  const bytes = archive ?? (await exportAccount({ dir: of.local.dir }));
  return device(dht, await importAccount({ archive: bytes, dir: join(mkdtempSync(join(tmpdir(), "jami-feature-")), "b"), bits: 2048 }));
}
