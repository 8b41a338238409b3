import { fromBase64, toBase64, toHex } from "jami-core";
import { createHash } from "node:crypto";

import type { DeviceSyncData, SyncedTrustRequest } from "../dht/device-sync.js";
import type { ContactBook } from "./contact-book.js";
import { fromSyncedContact, toSyncedContact, type Contact, type PendingTrustRequest } from "./contact.js";

/** jamid sends at most this many pending requests per sync. */
const MAX_SYNCED_REQUESTS = 20;

/** The contacts' part of jamid's DeviceSync (`peers`, `trust_requests`). */
export function buildContactsSync(book: ContactBook): Pick<DeviceSyncData, "peers" | "trustRequests"> {
  const peers: DeviceSyncData["peers"] = {};
  for (const c of book.allContacts()) peers[c.jamiId] = toSyncedContact(c);
  const trustRequests: Record<string, SyncedTrustRequest> = {};
  // A request whose device key we never learnt is left out: jamid cannot read a sync with an empty key.
  for (const r of book
    .requests()
    .filter((r) => r.deviceKey)
    .slice(0, MAX_SYNCED_REQUESTS)) {
    trustRequests[r.from] = {
      device: fromBase64(r.deviceKey!),
      conversationId: r.conversationId,
      received: Math.floor(r.received / 1000),
      payload: new Uint8Array(),
    };
  }
  return { peers, trustRequests };
}

/** Merges another device's sync into the book (not yet saved): the contacts whose state changed, the new requests. */
export function applyContactsSync(
  book: ContactBook,
  sync: Pick<DeviceSyncData, "peers" | "trustRequests">,
): { contacts: Contact[]; requests: PendingTrustRequest[] } {
  const contacts: Contact[] = [];
  for (const [id, c] of Object.entries(sync.peers)) {
    const changed = book.mergeContact(fromSyncedContact(id, c));
    if (changed) contacts.push(changed);
  }
  const requests: PendingTrustRequest[] = [];
  for (const [from, r] of Object.entries(sync.trustRequests)) {
    const request: PendingTrustRequest = {
      from,
      device: r.device.length ? toHex(createHash("sha1").update(r.device).digest()) : "",
      conversationId: r.conversationId,
      payload: toBase64(r.payload),
      received: r.received * 1000,
      ...(r.device.length ? { deviceKey: toBase64(r.device) } : {}),
    };
    if (book.mergeRequest(request)) requests.push(request);
  }
  return { contacts, requests };
}
