import { TypedEmitter } from "jami-core";
import type { VerifiedDevice } from "jami-identity";
import type { DeviceSyncData } from "../dht/device-sync.js";

/** What features tell each other without importing each other. */
export interface AccountInternalEvents {
  /** A contact was added, confirmed, removed or banned (here or from another device), or loaded at open. */
  contactChanged: [{ jamiId: string; active: boolean }];
  /** We accepted a trust request naming `conversationId` (the one-to-one to clone from `from`). */
  trustAccepted: [{ from: string; conversationId: string }];
  /** A new trust request from `from`'s device (`deviceId`, full id when known), with its payload (usually a vCard). */
  trustRequestReceived: [{ from: string; deviceId?: string; payload: Uint8Array }];
  /** Another device of this account sent its DeviceSync on a `sync://` channel (the link verified it). */
  deviceSyncReceived: [{ sync: DeviceSyncData; from: VerifiedDevice }];
  /** Something other devices of the account should learn: send them a DeviceSync (only to `onlyShortIds` if set). */
  syncRequested: [{ onlyShortIds?: string[] }];
  /** A fetch from a member's device went through (jamid then sends that device its vCard). */
  conversationSynced: [{ conversationId: string; peer: { jamiId: string; deviceId: string } }];
  /** A conversation was cloned from `peer` (jamid then asks it for the members' vCards). */
  conversationCloned: [{ conversationId: string; peer: { jamiId: string; deviceId: string } }];
  /** Work a feature did in the background failed (the account reports it as its `error` event). */
  failure: [{ feature: string; error: Error }];
}

/** The account's internal bus: any feature may emit and listen. */
export class EventBus<Events extends { [K in keyof Events]: unknown[] } = AccountInternalEvents> extends TypedEmitter<Events> {
  override emit<K extends keyof Events & string>(event: K, ...args: Events[K]): boolean {
    return super.emit(event, ...args);
  }
}
