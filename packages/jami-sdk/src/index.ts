export { runCli } from "./cli/run.js";
export type { CliIo } from "./cli/output.js";
export { Account, type AccountEvents, type NetworkOptions } from "./account/account.js";
export type { Contact, PendingTrustRequest } from "./account/contacts.js";
export { createLocalNetwork, type LocalNetwork, type LocalNetworkOptions } from "./local-network.js";
export { AccountError, type AccountErrorCode } from "./errors.js";
