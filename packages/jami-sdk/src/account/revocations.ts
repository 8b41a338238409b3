import type { AbortOptions } from "jami-core";
import createDebug from "debug";
import { createHash } from "node:crypto";
import type { DhtClient } from "jami-dht";
import { RevocationList, type JamiId, type VerifiedDevice } from "jami-identity";
import { JamiDhtKeys } from "../dht/keys.js";

const log = createDebug("jami:sdk:revocations");

/** How long the revocation lists found at a Jami ID are reused before the DHT is asked again. */
export const REVOCATION_CACHE_MS = 30_000;
/** Candidate CRL values read per lookup (anyone may put unsigned values at a Jami ID). */
export const MAX_CRL_VALUES = 64;
const MAX_ACCOUNTS = 1024;
const MAX_SIGNATURE_VERDICTS = 4096;

/**
 * Revocation lists published at Jami IDs (unsigned type-0 values holding a DER CRL), cached per Jami ID for a
 * short while, at most MAX_CRL_VALUES read per lookup, and each CRL's signature check remembered by its hash:
 * a peer sending one request after another no longer makes us fetch and RSA-verify everything again each time.
 */
export class RevocationChecker {
  private readonly byAccount = new Map<string, { at: number; lists: RevocationList[] }>();
  private readonly signatureVerdicts = new Map<string, boolean>();

  constructor(
    private readonly dht: () => DhtClient,
    /** Lists we hold ourselves (our own archive's), for our own Jami ID. */
    private readonly own: () => { jamiId: JamiId; list?: RevocationList },
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether `device`'s own account revoked it. */
  async isRevoked(device: VerifiedDevice, options: AbortOptions = {}): Promise<boolean> {
    for (const crl of await this.listsOf(device.jamiId, options)) {
      if (crl.isRevoked(device.device) && this.isSignedBy(crl, device)) return true;
    }
    return false;
  }

  /** Forgets what was cached for a Jami ID (e.g. after we published a revocation ourselves). */
  forget(jamiId: JamiId): void {
    this.byAccount.delete(jamiId.toString());
  }

  private async listsOf(jamiId: JamiId, options: { signal?: AbortSignal } = {}): Promise<RevocationList[]> {
    const signal = options.signal;
    const key = jamiId.toString();
    const cached = this.byAccount.get(key);
    if (cached && this.now() - cached.at < REVOCATION_CACHE_MS) return cached.lists;
    const lists: RevocationList[] = [];
    const own = this.own();
    if (own.list && jamiId.equals(own.jamiId)) lists.push(own.list);
    let read = 0;
    for await (const v of this.dht().get(JamiDhtKeys.account(jamiId), { signal })) {
      if (v.owner || v.type !== 0 || v.data[0] !== 0x30) continue;
      if (++read > MAX_CRL_VALUES) {
        log("more than %d candidate CRLs at %s: the rest are not read", MAX_CRL_VALUES, jamiId);
        break;
      }
      try {
        lists.push(RevocationList.fromDer(v.data));
      } catch {
        /* not a CRL */
      }
    }
    if (this.byAccount.size >= MAX_ACCOUNTS) this.byAccount.delete(this.byAccount.keys().next().value!);
    this.byAccount.set(key, { at: this.now(), lists });
    return lists;
  }

  private isSignedBy(crl: RevocationList, device: VerifiedDevice): boolean {
    const key = createHash("sha256").update(crl.der).update(device.account.der).digest("hex");
    let verdict = this.signatureVerdicts.get(key);
    if (verdict === undefined) {
      verdict = crl.isSignedBy(device.account);
      if (this.signatureVerdicts.size >= MAX_SIGNATURE_VERDICTS) this.signatureVerdicts.delete(this.signatureVerdicts.keys().next().value!);
      this.signatureVerdicts.set(key, verdict);
    }
    return verdict;
  }
}
