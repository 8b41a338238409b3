import {
  openAccountArchive,
  writeArchive,
  type AccountArchive,
  type ArchiveContact,
  type ArchiveFields,
  type DeviceId,
  type DeviceIdentity,
  type DeviceShortId,
  type JamiId,
  type LocalAccount,
  type PublicKey,
  type RevocationList,
  type ArchiveConversation,
} from "jami-identity";
import type { DhtClient, PutOptions } from "jami-dht";
import { publishDevice } from "../dht/devices.js";

/**
 * What features know of the account's identity: its ids, the device's public key, and the few operations that
 * need the account or device private keys, done here so that no feature ever holds those keys.
 */
export class AccountIdentity {
  readonly jamiId: JamiId;
  readonly deviceId: DeviceId;
  readonly deviceShortId: DeviceShortId;
  readonly deviceName: string;
  /** The display name the archive holds (jamid's `Account.displayName`), if any. */
  readonly displayName?: string;
  readonly devicePublicKey: PublicKey;
  readonly dir: string;

  constructor(
    private readonly local: LocalAccount,
    private readonly archive: AccountArchive,
  ) {
    this.jamiId = local.jamiId;
    this.deviceId = local.deviceId;
    this.deviceShortId = local.deviceShortId;
    this.deviceName = local.deviceName;
    if (archive.displayName) this.displayName = archive.displayName;
    this.devicePublicKey = local.device.key.publicKey;
    this.dir = local.dir;
  }

  /**
   * This device with its key, for the features that sign in its name (conversation commits). Links hold it too;
   * nothing else should.
   */
  get signingDevice(): DeviceIdentity {
    return this.local.device;
  }

  /** The contacts the archive held when the account was opened (what a fresh import starts from). */
  get archiveContacts(): Readonly<Record<string, ArchiveContact>> {
    return this.archive.contacts;
  }

  /** The conversations the archive listed when the account was opened (jamid's `ConvInfo` JSON, by id). */
  get archiveConversations(): Readonly<Record<string, ArchiveConversation>> {
    return this.archive.conversations;
  }

  /** The account's own revocation list, from its archive. */
  get revocationList(): RevocationList | undefined {
    return this.archive.revocationList;
  }

  /** Publishes this device's certificate (both keys) and the announcement signed by the account key. */
  publishDevice(dht: DhtClient, options: PutOptions = {}): Promise<void> {
    return publishDevice(dht, this.archive.accountKeys.accountKey, this.local.device, options);
  }

  /** The account archive re-read with `password` (wrong → IdentityError), `changes` applied, written for export. */
  async exportArchive(password: string | undefined, changes: ArchiveFields): Promise<Uint8Array> {
    const archive = await openAccountArchive({ dir: this.dir, password });
    return writeArchive(archive.with(changes), password);
  }
}
