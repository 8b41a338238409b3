import type { InfoHash } from "jami-dht";
import type { JamiId, VerifiedDevice } from "jami-identity";
import { findDeviceChain } from "../dht/devices.js";
import { AccountError } from "../errors.js";
import type { AccountIdentity } from "./identity.js";
import type { AccountNetwork } from "./network.js";
import { RevocationChecker } from "./revocations.js";

/** A reason to refuse a device (e.g. "account … is banned"), or undefined to let it through. */
export type TrustRule = (peer: VerifiedDevice) => string | undefined;

/**
 * The one place that decides whether another device is trusted: its chain verified up to its account, not
 * revoked by its account, and refused by no feature's rule (contacts add the ban). Inbox values and links
 * both go through here.
 */
export class TrustPolicy {
  private readonly rules: TrustRule[] = [];
  private readonly revocations: RevocationChecker;

  constructor(
    private readonly network: AccountNetwork,
    identity: AccountIdentity,
  ) {
    this.revocations = new RevocationChecker(
      () => network.dht,
      () => ({ jamiId: identity.jamiId, list: identity.revocationList }),
    );
  }

  /** Adds a rule every device must pass; returns a remover. */
  refuseWhen(rule: TrustRule): () => void {
    this.rules.push(rule);
    return () => {
      const i = this.rules.indexOf(rule);
      if (i >= 0) this.rules.splice(i, 1);
    };
  }

  /** Throws PEER_REFUSED when a rule refuses `peer` or its account revoked it. */
  async check(peer: VerifiedDevice, options: { signal?: AbortSignal } = {}): Promise<void> {
    for (const rule of this.rules) {
      const reason = rule(peer);
      if (reason) throw new AccountError("PEER_REFUSED", reason);
    }
    if (await this.revocations.isRevoked(peer, options)) throw new AccountError("PEER_REFUSED", `device ${peer.deviceId} is revoked`);
  }

  /**
   * The verified chain of the device whose key id signed a value (belonging to `jamiId` when given; found at
   * `keys` when given), then `check`ed.
   */
  async verifiedSender(deviceKeyId: InfoHash, options: { jamiId?: JamiId; keys?: InfoHash[]; signal?: AbortSignal } = {}): Promise<VerifiedDevice> {
    const sender = await findDeviceChain(this.network.dht, deviceKeyId, { jamiId: options.jamiId, keys: options.keys, signal: options.signal });
    await this.check(sender, options);
    return sender;
  }
}
