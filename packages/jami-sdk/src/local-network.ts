import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DhtNode } from "jami-dht";
import { Account } from "./account/account.js";
import { conversations, type Conversations } from "./features/conversations.js";

/** An account of the local network: the built-in features and `conversations`. */
export type LocalNetworkAccount = Account & { conversations: Conversations };

export interface LocalNetworkOptions {
  /** How many accounts to create and start (default 2). */
  accounts?: number;
  /** Display names, in order (default "user1", "user2", …). */
  names?: string[];
  /** Where the account directories go (default: a new temporary directory). */
  dir?: string;
  /** Bootstrap nodes of the embedded DHT (default 1). */
  nodes?: number;
  /** RSA key size of the accounts (default 4096, as jamid). */
  bits?: number;
}

export interface LocalNetwork {
  /** `host:port` of the embedded bootstrap node(s), to start more accounts (or a jamid) on this network. */
  bootstrap: string[];
  nodes: DhtNode[];
  accounts: LocalNetworkAccount[];
  dir: string;
  /** Stops the accounts, then the nodes. */
  close(): Promise<void>;
}

/** An in-process DHT on 127.0.0.1 with n started accounts (conversations included) on it: for tests, demos and bots. */
export async function createLocalNetwork(options: LocalNetworkOptions = {}): Promise<LocalNetwork> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "jami-local-")));
  const first = await DhtNode.create({ host: "127.0.0.1", port: 0 });
  const bootstrap = [`127.0.0.1:${first.addresses[0]!.port}`];
  const nodes = [first];
  for (let i = 1; i < (options.nodes ?? 1); i++) nodes.push(await DhtNode.create({ host: "127.0.0.1", port: 0, bootstrap }));
  await Promise.all(nodes.slice(1).map((n) => n.bootstrap()));
  const count = options.accounts ?? 2;
  const accounts = await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const name = options.names?.[i] ?? `user${i + 1}`;
      // Everything is on loopback, device links included.
      return Account.create({
        dir: join(dir, `${i + 1}-${name}`),
        displayName: name,
        bits: options.bits,
        bootstrap,
        host: "127.0.0.1",
        iceAddresses: ["127.0.0.1"],
        features: { conversations: conversations() },
      });
    }),
  );
  await Promise.all(accounts.map((a) => a.start()));
  return {
    bootstrap,
    nodes,
    accounts,
    dir,
    close: async () => {
      await Promise.all(accounts.map((a) => a.stop()));
      await Promise.all(nodes.map((n) => n.close()));
    },
  };
}
