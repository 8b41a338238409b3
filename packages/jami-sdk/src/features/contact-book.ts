import type { ArchiveContact } from "jami-identity";
import { emptyContacts, fromSyncedContact, isActive, mergeContact, type Contact, type ContactsFile, type PendingTrustRequest } from "./contact.js";
import type { AccountStore } from "../account/store.js";

/** The store key (`contacts.json` in the account directory by default). */
const KEY = "contacts";

const MAX_DECLINED_PER_SENDER = 16;

/**
 * The account's contacts and pending trust requests, in the account's store. Every change is written before
 * the caller goes on, and a failed step can be undone with `restore`.
 */
export class ContactBook {
  private constructor(
    private readonly store: AccountStore,
    private state: ContactsFile,
  ) {}

  /** Opens the book; a store without one (a fresh import) starts from the archive's contacts. */
  static async open(store: AccountStore, archiveContacts: Readonly<Record<string, ArchiveContact>>): Promise<ContactBook> {
    const stored = await store.read<Partial<ContactsFile>>(KEY);
    if (stored) return new ContactBook(store, { contacts: stored.contacts ?? {}, requests: stored.requests ?? {}, declined: stored.declined ?? {} });
    const seeded = emptyContacts();
    for (const [id, c] of Object.entries(archiveContacts)) if (/^[0-9a-f]{40}$/.test(id)) seeded.contacts[id] = fromSyncedContact(id, c);
    const book = new ContactBook(store, seeded);
    await book.save();
    return book;
  }

  /** Active and banned contacts (jamid's `getContacts`); removed ones stay on file for syncing. */
  contacts(): Contact[] {
    return Object.values(this.state.contacts).filter((c) => isActive(c) || c.banned);
  }

  /** Every contact on file, removed ones included (what DeviceSync and archives carry). */
  allContacts(): Contact[] {
    return Object.values(this.state.contacts);
  }

  contact(jamiId: string): Contact | undefined {
    return this.state.contacts[jamiId];
  }

  requests(): PendingTrustRequest[] {
    return Object.values(this.state.requests);
  }

  request(from: string): PendingTrustRequest | undefined {
    return this.state.requests[from];
  }

  snapshot(): ContactsFile {
    return structuredClone(this.state);
  }

  async restore(snapshot: ContactsFile): Promise<void> {
    this.state = snapshot;
    await this.save();
  }

  /** Stores a contact; a contact that is active or banned no longer has a pending request. */
  async putContact(contact: Contact): Promise<void> {
    this.state.contacts[contact.jamiId] = contact;
    if (isActive(contact) || contact.banned) delete this.state.requests[contact.jamiId];
    await this.save();
  }

  async putRequest(request: PendingTrustRequest): Promise<void> {
    this.state.requests[request.from] = request;
    await this.save();
  }

  async deleteRequest(from: string): Promise<void> {
    delete this.state.requests[from];
    await this.save();
  }

  /** Drops a request and remembers its conversation, so the same request sent again is recognised. */
  async declineRequest(from: string): Promise<void> {
    const request = this.state.requests[from];
    if (request) this.state.declined[from] = [...(this.state.declined[from] ?? []), request.conversationId].slice(-MAX_DECLINED_PER_SENDER);
    await this.deleteRequest(from);
  }

  wasDeclined(from: string, conversationId: string): boolean {
    return this.state.declined[from]?.includes(conversationId) ?? false;
  }

  /** Applies a contact state from another device (jamid's rule); returns the contact if its state changed. */
  mergeContact(incoming: Contact): Contact | undefined {
    const { contact, changed } = mergeContact(this.state.contacts[incoming.jamiId], incoming);
    this.state.contacts[incoming.jamiId] = contact;
    if (changed && (isActive(contact) || contact.banned)) delete this.state.requests[contact.jamiId];
    return changed ? contact : undefined;
  }

  /** Adds a request learnt from another device unless the sender is already a contact or known to ask. */
  mergeRequest(request: PendingTrustRequest): boolean {
    const contact = this.state.contacts[request.from];
    if ((contact && (isActive(contact) || contact.banned)) || this.state.requests[request.from] || this.wasDeclined(request.from, request.conversationId))
      return false;
    this.state.requests[request.from] = request;
    return true;
  }

  async save(): Promise<void> {
    await this.store.write(KEY, this.state);
  }
}
