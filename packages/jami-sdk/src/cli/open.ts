import { Account } from "../account/account.js";
import { conversations, type Conversations } from "../features/conversations.js";
import { parseInteger, UsageError } from "./output.js";

export interface AccountCliOptions {
  dir?: string;
  password?: string;
  bootstrap?: string[];
  proxy?: string;
  port?: string;
  bind?: string;
  /** Host addresses ICE offers (default: every non-internal interface address). */
  "ice-address"?: string[];
  "accept-all"?: boolean;
  /** Long-running commands: a full GC every this many minutes (default 5, 0 = never). */
  "gc-interval"?: string;
}

/** The account the CLI works on: the built-in features and `conversations`. */
export type CliAccount = Account & { conversations: Conversations };

/** Loads the account in `--dir` (not started). */
export async function openAccount(options: AccountCliOptions): Promise<CliAccount> {
  if (!options.dir) throw new UsageError("--dir is required");
  const port = options.port === undefined ? undefined : parseInteger(options.port, "port", 0);
  return Account.load({
    dir: options.dir,
    password: options.password,
    bootstrap: options.bootstrap,
    proxy: options.proxy,
    port,
    host: options.bind,
    // an account bound to loopback is on a local test network: its device links use loopback too
    iceAddresses: options["ice-address"] ?? (options.bind && /^127\./.test(options.bind) ? [options.bind] : undefined),
    features: { conversations: conversations() },
  });
}
