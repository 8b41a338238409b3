import { TypedEmitter, toBase64, type AbortOptions } from "jami-core";
import { Value, type InfoHash } from "jami-dht";
import { JamiId, type VerifiedDevice } from "jami-identity";
import { forEachDevice } from "../dht/devices.js";
import { JamiDhtKeys } from "../dht/keys.js";
import { decodeTrustRequest, encodeTrustRequest, TRUST_REQUEST_TYPE } from "../dht/trust-request.js";
import { AccountError } from "../errors.js";
import type { AccountComponents } from "../account/components.js";
import type { Logger } from "../account/logger.js";
import { ContactBook } from "./contact-book.js";
import { isActive, toArchiveContact, type Contact, type PendingTrustRequest } from "./contact.js";
import { applyContactsSync, buildContactsSync } from "./contacts-sync.js";
import { assertJamiId, throwIfAborted } from "./ids.js";

export interface ContactEvents {
  /** A trust request arrived (new, or a confirmation of ours when `confirm` is true), or came from another device. */
  request: [PendingTrustRequest & { confirm: boolean }];
  /** A contact was added or changed (confirmed, removed, banned), here or on another device of the account. */
  change: [Contact];
}

type Components = Pick<
  AccountComponents,
  "identity" | "store" | "network" | "inbox" | "trust" | "sync" | "events" | "oneToOne" | "ownCard" | "lifetime" | "logger"
>;

/**
 * `account.contacts`: jamid's contacts and trust requests (sent encrypted to each device of the other account,
 * in jamid's format), kept in the store, synced to the account's other devices, and the ban rule every link and
 * inbox value goes through.
 */
export class Contacts extends TypedEmitter<ContactEvents> {
  private book?: ContactBook;

  private readonly log: Logger;

  constructor(private readonly c: Components) {
    super();
    this.log = c.logger("contacts");
    c.inbox.handle(TRUST_REQUEST_TYPE, (v, sender) => this.onTrustRequestValue(v, sender));
    c.trust.refuseWhen((peer) => {
      const contact = this.book?.contact(peer.jamiId.toString());
      return contact?.banned && !isActive(contact) ? `account ${peer.jamiId} is banned` : undefined;
    });
    c.sync.part("contacts", {
      build: () => buildContactsSync(this.requireBook()),
      apply: (sync) => this.applySync(sync),
      archive: () => ({
        ringAccountContacts: Object.fromEntries(
          this.requireBook()
            .allContacts()
            .map((x) => [x.jamiId, toArchiveContact(x)]),
        ),
      }),
    });
  }

  async load(): Promise<void> {
    this.book = await ContactBook.open(this.c.store, this.c.identity.archiveContacts);
    for (const contact of this.book.contacts()) this.c.events.emit("contactChanged", { jamiId: contact.jamiId, active: isActive(contact) });
  }

  private requireBook(): ContactBook {
    if (!this.book) throw new AccountError("NOT_STARTED", "contacts not loaded");
    return this.book;
  }

  /** Active and banned contacts. */
  list(): Contact[] {
    return this.requireBook().contacts();
  }

  get(jamiId: string): Contact | undefined {
    return this.requireBook().contact(jamiId);
  }

  /** Trust requests received and not yet answered. */
  requests(): PendingTrustRequest[] {
    return this.requireBook().requests();
  }

  /**
   * Sends jamid's trust request (encrypted to each device of the contact) and records the contact. Its payload is
   * `options.payload`, else our vCard (`account.profile`: jamid's clients show the name from it).
   */
  async add(jamiId: string, options: { payload?: Uint8Array; signal?: AbortSignal } = {}): Promise<Contact> {
    assertJamiId(jamiId);
    const book = this.requireBook();
    const existing = book.contact(jamiId);
    const reuse = existing && isActive(existing) ? existing : undefined;
    // The one-to-one conversation (created by the conversations feature when the account has it).
    const oneToOne = reuse?.conversationId ? { conversationId: reuse.conversationId, created: false } : await this.c.oneToOne.conversationFor(jamiId, options);
    const conversationId = oneToOne.conversationId;
    const contact: Contact = reuse ?? {
      jamiId,
      added: Date.now(),
      confirmed: false,
      banned: false,
      conversationId,
      ...(existing?.removed ? { removed: existing.removed } : {}),
    };
    // Recorded before sending, so a quick confirmation finds the contact.
    try {
      await this.putThenSend(contact, () =>
        this.sendTrustRequest(jamiId, contact.conversationId, false, options.payload ?? this.c.ownCard.current() ?? new Uint8Array(), options),
      );
    } catch (error) {
      // nothing stays of a request that could not be sent: nor the contact, nor a conversation made for it
      if (oneToOne.created) await this.c.oneToOne.discard(conversationId).catch((e: Error) => this.log("discarding %s: %s", conversationId, e.message));
      throw error;
    }
    return contact;
  }

  /** Accepts a pending request: confirms it to every device of the sender and adds the contact (confirmed). */
  async accept(from: string, options: { signal?: AbortSignal } = {}): Promise<Contact> {
    const book = this.requireBook();
    const request = book.request(from);
    if (!request) throw new AccountError("NO_TRUST_REQUEST", `no trust request from ${from}`);
    const previous = book.contact(from);
    const contact: Contact = {
      jamiId: from,
      added: Date.now(),
      confirmed: true,
      banned: false,
      conversationId: request.conversationId,
      ...(previous?.removed ? { removed: previous.removed } : {}),
    };
    // Recorded first (as jamid does), so the contact exists before the peer can see our confirmation.
    await this.putThenSend(contact, () => this.sendTrustRequest(from, request.conversationId, true, new Uint8Array(), options));
    this.c.events.emit("trustAccepted", { from, conversationId: request.conversationId });
    return contact;
  }

  async decline(from: string, options: AbortOptions = {}): Promise<void> {
    throwIfAborted(options.signal);
    const book = this.requireBook();
    if (!book.request(from)) throw new AccountError("NO_TRUST_REQUEST", `no trust request from ${from}`);
    await book.declineRequest(from);
  }

  /** Removes a contact (jamid's `removeContact`); with `ban`, its requests and links are refused from now on. */
  async remove(jamiId: string, options: { ban?: boolean } & AbortOptions = {}): Promise<Contact> {
    assertJamiId(jamiId);
    throwIfAborted(options.signal);
    const book = this.requireBook();
    const existing = book.contact(jamiId);
    const now = Math.max(Date.now(), (existing?.added ?? 0) + 1);
    const contact: Contact = { ...(existing ?? { jamiId, added: 0, confirmed: false, conversationId: "" }), removed: now, banned: options.ban === true };
    await book.putContact(contact);
    if (options.ban) await book.deleteRequest(jamiId);
    this.changed(contact);
    return contact;
  }

  /** Bans an account: removed from the contacts, its requests and links refused from now on. */
  block(jamiId: string, options: AbortOptions = {}): Promise<Contact> {
    return this.remove(jamiId, { ...options, ban: true });
  }

  /** Stores `contact`, runs `send`, and puts the book back as it was if sending fails. */
  private async putThenSend(contact: Contact, send: () => Promise<void>): Promise<void> {
    const book = this.requireBook();
    const before = book.snapshot();
    await book.putContact(contact);
    try {
      await send();
    } catch (error) {
      await book.restore(before);
      throw error;
    }
    this.changed(contact);
  }

  /** After a change: the event, presence (through the bus), and the news for our other devices. */
  private changed(contact: Contact, options: { sync?: boolean } = {}): void {
    this.emit("change", contact);
    this.c.events.emit("contactChanged", { jamiId: contact.jamiId, active: isActive(contact) });
    if (options.sync !== false) this.c.sync.request();
  }

  private async sendTrustRequest(
    jamiId: string,
    conversationId: string,
    confirm: boolean,
    payload: Uint8Array,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const signal = options.signal;
    const { dht, secure } = this.c.network;
    const data = encodeTrustRequest({ conversationId, payload, confirm });
    // Each device gets its copy as soon as it is verified, as jamid's forEachDevice does.
    const puts: Promise<unknown>[] = [];
    await forEachDevice(
      dht,
      JamiId.fromHex(jamiId),
      (d) =>
        void puts.push(
          secure.putEncrypted(JamiDhtKeys.inbox(d.deviceShortId), new Value({ type: TRUST_REQUEST_TYPE, data }), d.device.publicKey, {
            signal,
            acknowledgedBy: 1,
          }),
        ),
      { signal },
    );
    if (puts.length === 0) throw new AccountError("NO_DEVICES", `no device of ${jamiId} found on the DHT`);
    await Promise.all(puts);
  }

  private async onTrustRequestValue(v: Value, ownerId: InfoHash): Promise<void> {
    const body = decodeTrustRequest(v.data);
    if (!body) return this.log("ignored an inbox value that is not a trust request");
    let sender: VerifiedDevice;
    try {
      // Banned accounts are refused here (the rule above), revoked devices too.
      sender = await this.c.trust.verifiedSender(ownerId, { signal: this.c.lifetime });
    } catch (e) {
      return this.log("ignored a trust request from device %s: %s", ownerId, (e as Error).message);
    }
    const book = this.requireBook();
    const from = sender.jamiId.toString();
    this.log("trust request (confirm %s) from %s verified", body.confirm, from);
    const contact = book.contact(from);
    const request: PendingTrustRequest = {
      from,
      device: sender.deviceShortId.toString(),
      conversationId: body.conversationId,
      payload: toBase64(body.payload),
      received: Date.now(),
      deviceKey: toBase64(sender.device.publicKey.spki),
    };
    if (body.confirm) {
      if (!contact || !isActive(contact)) return this.log("ignored a confirmation from %s, who is not a contact", from);
      if (!contact.confirmed) {
        const confirmed = { ...contact, confirmed: true };
        await book.putContact(confirmed);
        this.changed(confirmed);
      }
    } else {
      if (contact && isActive(contact) && contact.confirmed) return; // a replay, or a request we already accepted
      const known = book.request(from);
      if (known?.conversationId === body.conversationId) return; // duplicate (e.g. one per device)
      if (book.wasDeclined(from, body.conversationId)) return this.log("ignored a declined request from %s sent again", from);
      await book.putRequest(request);
      this.c.sync.request();
      this.c.events.emit("trustRequestReceived", { from, deviceId: sender.deviceId.toString(), payload: body.payload });
    }
    this.emit("request", { ...request, confirm: body.confirm });
  }

  private async applySync(sync: Parameters<typeof applyContactsSync>[1]): Promise<Record<string, number>> {
    const book = this.requireBook();
    const { contacts, requests } = applyContactsSync(book, sync);
    await book.save();
    // What came from another device is not sent back.
    for (const contact of contacts) this.changed(contact, { sync: false });
    for (const r of requests) this.emit("request", { ...r, confirm: false });
    return { contacts: contacts.length, requests: requests.length };
  }
}
