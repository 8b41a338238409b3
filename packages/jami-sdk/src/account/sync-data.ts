import { createHash } from "node:crypto";
import { fromBase64, toBase64, toHex } from "jami-identity";
import type { DeviceSyncData, SyncedTrustRequest } from "../dht/device-sync.js";
import type { ContactBook } from "./contact-book.js";
import { fromSyncedContact, toSyncedContact, type Contact, type PendingTrustRequest } from "./contacts.js";
import type { KnownDevice } from "./known-devices.js";

/** jamid sends at most this many pending requests per sync. */
const MAX_SYNCED_REQUESTS = 20;

/** What this device tells the account's other devices (jamid's `getSyncData`). */
export function buildSyncData(book: ContactBook, devices: KnownDevice[], deviceName: string, date: bigint): DeviceSyncData {
  const peers: DeviceSyncData["peers"] = {};
  for (const c of book.allContacts()) peers[c.jamiId] = toSyncedContact(c);
  const trustRequests: Record<string, SyncedTrustRequest> = {};
  // A request whose device key we never learnt is left out: jamid cannot read a sync with an empty key.
  for (const r of book.requests().filter((r) => r.deviceKey).slice(0, MAX_SYNCED_REQUESTS)) {
    trustRequests[r.from] = {
      device: fromBase64(r.deviceKey!),
      conversationId: r.conversationId,
      received: Math.floor(r.received / 1000),
      payload: new Uint8Array(),
    };
  }
  return {
    date,
    deviceName,
    devices: devices.map((d) => ({ deviceId: d.deviceId, shortId: d.shortId, name: d.name })),
    peers,
    trustRequests,
  };
}

/** Merges another device's sync into the book (not yet saved): the contacts whose state changed, the new requests. */
export function applySyncData(book: ContactBook, sync: DeviceSyncData): { contacts: Contact[]; requests: PendingTrustRequest[] } {
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
