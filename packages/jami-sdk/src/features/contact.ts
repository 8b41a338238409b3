import type { ArchiveContact } from "jami-identity";
import type { SyncedContact } from "../dht/device-sync.js";

/** A contact as the account keeps it (jamid's `Contact`: added / removed / confirmed / banned). */
export interface Contact {
  jamiId: string;
  /** Unix ms when we added the contact or accepted its request. */
  added: number;
  /** Unix ms of the last removal; the contact is active while `added > removed`. */
  removed?: number;
  /** Both sides agreed (their request accepted, or their confirmation received). */
  confirmed: boolean;
  /** Removed and banned: its requests are ignored. */
  banned: boolean;
  conversationId: string;
}

/** A trust request received and not yet answered. */
export interface PendingTrustRequest {
  from: string;
  /** The sending device (device short id of its key). */
  device: string;
  conversationId: string;
  /** base64 of the payload (usually a vCard). */
  payload: string;
  /** Unix ms. */
  received: number;
  /** base64 SPKI of the sending device, when known (carried to our other devices by DeviceSync). */
  deviceKey?: string;
}

export interface ContactsFile {
  contacts: Record<string, Contact>;
  requests: Record<string, PendingTrustRequest>;
  /** Sender → conversation ids of requests we declined (jamid ignores a declined request sent again). */
  declined: Record<string, string[]>;
}

export const emptyContacts = (): ContactsFile => ({ contacts: {}, requests: {}, declined: {} });

export const isActive = (c: Contact): boolean => c.added > (c.removed ?? 0);

/**
 * jamid's `Contact::update`: the later addition brings its conversation, the later removal its ban, a
 * confirmation is never lost. Returns the merged contact and whether its visible state (active, banned,
 * confirmed) changed.
 */
export function mergeContact(local: Contact | undefined, incoming: Contact): { contact: Contact; changed: boolean } {
  if (!local) return { contact: incoming, changed: isActive(incoming) || incoming.banned };
  const merged: Contact = { ...local };
  if (incoming.added > local.added) {
    merged.added = incoming.added;
    merged.conversationId = incoming.conversationId;
  }
  if ((incoming.removed ?? 0) > (local.removed ?? 0)) {
    merged.removed = incoming.removed;
    merged.banned = incoming.banned;
  }
  merged.confirmed = local.confirmed || incoming.confirmed;
  if (isActive(incoming) && !merged.conversationId && incoming.conversationId) merged.conversationId = incoming.conversationId;
  const state = (c: Contact): string => `${isActive(c)}/${!isActive(c) && c.banned}/${c.confirmed}`;
  return { contact: merged, changed: state(merged) !== state(local) };
}

/** To jamid's seconds-based form (DeviceSync `peers`, archive `ringAccountContacts`). */
export function toSyncedContact(c: Contact): SyncedContact {
  return {
    added: Math.floor(c.added / 1000),
    removed: Math.floor((c.removed ?? 0) / 1000),
    confirmed: c.confirmed,
    banned: c.banned,
    conversationId: c.conversationId,
  };
}

export function fromSyncedContact(jamiId: string, c: SyncedContact | ArchiveContact): Contact {
  const contact: Contact = {
    jamiId,
    added: Number(c.added ?? 0) * 1000,
    confirmed: c.confirmed === true,
    banned: c.banned === true,
    conversationId: typeof c.conversationId === "string" ? c.conversationId : "",
  };
  if (c.removed) contact.removed = Number(c.removed) * 1000;
  return contact;
}

/** jamid's archive JSON writes `removed`, `confirmed` and `banned` only when set. */
export function toArchiveContact(c: Contact): ArchiveContact {
  const s = toSyncedContact(c);
  const out: ArchiveContact = { added: s.added };
  if (s.removed) out.removed = s.removed;
  if (s.confirmed) out.confirmed = true;
  if (s.banned) out.banned = true;
  out.conversationId = s.conversationId;
  return out;
}
