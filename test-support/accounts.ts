import { loadAccount, type DeviceIdentity } from "jami-identity";
import type { Account } from "jami-sdk";

/**
 * The device identity of an account, private key included, read from its directory: tests play attackers
 * and other devices with it. `Account` itself never hands out its keys.
 */
export async function deviceOf(account: Account): Promise<DeviceIdentity> {
  return (await loadAccount({ dir: account.identity.dir })).device;
}
