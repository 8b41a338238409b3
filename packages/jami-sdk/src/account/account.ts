import createDebug from "debug";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { DhtNode, DhtProxyClient, SecureDht, TypedEmitter, Value, type DhtClient, type Subscription } from "jami-dht";
import {
  createAccount,
  importAccount,
  JamiId,
  loadAccount,
  openAccountArchive,
  RevocationList,
  type LocalAccount,
  type PrivateKey,
  type VerifiedDevice,
} from "jami-identity";
import { readDeviceAnnouncement } from "../dht/device-announcement.js";
import { findDeviceChain, findDevices, publishDevice } from "../dht/devices.js";
import { JamiDhtKeys } from "../dht/keys.js";
import { decodeTrustRequest, encodeTrustRequest, TRUST_REQUEST_TYPE } from "../dht/trust-request.js";

import { emptyContacts, type Contact, type ContactsFile, type PendingTrustRequest } from "./contacts.js";
import { JsonFile } from "./store.js";
import { AccountError } from "../errors.js";

const log = createDebug("jami:sdk:account");

export interface NetworkOptions {
  /** `host:port` of DHT nodes to join (default: none — pass one, or use `createLocalNetwork`). */
  bootstrap?: string[];
  /** Use an OpenDHT proxy over HTTP instead of a UDP node. */
  proxy?: string;
  /** UDP port of our node (default: any free port) and address to bind (default 0.0.0.0). */
  port?: number;
  host?: string;
}

export interface AccountEvents {
  /** A contact's device appeared or the last one went away. */
  presence: [{ jamiId: string; online: boolean; devices: string[] }];
  /** A trust request arrived (new, or a confirmation of ours when `confirm` is true). */
  trustRequest: [PendingTrustRequest & { confirm: boolean }];
  /** A contact was added or changed (confirmed, banned). */
  contact: [Contact];
  /** The account is published and listening. */
  online: [];
}

/**
 * A Jami account on one device: its identity on disk, a DHT node (or proxy), the device announcement jamid
 * publishes, trust requests in jamid's format, contacts and presence.
 */
export class Account extends TypedEmitter<AccountEvents> {
  private dht?: DhtClient;
  private node?: DhtNode;
  private secure?: SecureDht;
  private readonly subscriptions: Subscription[] = [];
  private readonly presence = new Map<string, { sub: Subscription; devices: Set<string> }>();
  private readonly contactsFile: JsonFile<ContactsFile>;
  private contactsState: ContactsFile = emptyContacts();
  private readonly handled = new Set<string>();

  private constructor(
    readonly local: LocalAccount,
    private readonly accountKey: PrivateKey,
    private readonly network: NetworkOptions,
  ) {
    super();
    this.contactsFile = new JsonFile(join(local.dir, "contacts.json"), emptyContacts);
  }

  get jamiId(): string {
    return this.local.jamiId.toString();
  }

  get deviceId(): string {
    return this.local.deviceId.toString();
  }

  static async create(options: { dir: string; password?: string; displayName?: string; bits?: number } & NetworkOptions): Promise<Account> {
    const local = await createAccount({ dir: options.dir, password: options.password, displayName: options.displayName, bits: options.bits });
    return Account.open(local, options.password, options);
  }

  static async load(options: { dir: string; password?: string } & NetworkOptions): Promise<Account> {
    return Account.open(await loadAccount({ dir: options.dir }), options.password, options);
  }

  static async import(options: { archive: Uint8Array; dir: string; password?: string; bits?: number } & NetworkOptions): Promise<Account> {
    const local = await importAccount({ archive: options.archive, dir: options.dir, password: options.password, bits: options.bits });
    return Account.open(local, options.password, options);
  }

  private static async open(local: LocalAccount, password: string | undefined, network: NetworkOptions): Promise<Account> {
    const archive = await openAccountArchive({ dir: local.dir, password });
    const account = new Account(local, archive.accountKeys.accountKey, network);
    account.contactsState = await account.contactsFile.load();
    return account;
  }

  /** Joins the DHT, publishes this device (certificate + announcement) and listens to its inbox. */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.dht) return;
    if (this.network.proxy) this.dht = new DhtProxyClient({ url: this.network.proxy });
    else {
      this.node = await DhtNode.create({ host: this.network.host ?? "0.0.0.0", port: this.network.port ?? 0, bootstrap: this.network.bootstrap ?? [] });
      this.dht = this.node;
      if (this.network.bootstrap?.length) await this.node.bootstrap([], signal);
    }
    this.secure = new SecureDht(this.dht, { key: this.local.device.key });
    await publishDevice(this.dht, this.accountKey, this.local.device, { signal });
    const inbox = this.secure.listen(JamiDhtKeys.inbox(this.local.deviceShortId));
    inbox.on("value", (v) => void this.onInboxValue(v));
    this.subscriptions.push(inbox);
    for (const c of Object.values(this.contactsState.contacts)) if (!c.banned) this.trackPresence(c.jamiId);
    this.emit("online");
  }

  /** Stops listening and closes the node; permanent puts end with it. */
  async stop(): Promise<void> {
    for (const s of this.subscriptions.splice(0)) s.cancel();
    for (const p of this.presence.values()) p.sub.cancel();
    this.presence.clear();
    await this.dht?.close();
    this.dht = this.node = this.secure = undefined;
  }

  private requireDht(): { dht: DhtClient; secure: SecureDht } {
    if (!this.dht || !this.secure) throw new AccountError("NOT_STARTED", "account not started: call start() first");
    return { dht: this.dht, secure: this.secure };
  }

  contacts(): Contact[] {
    return Object.values(this.contactsState.contacts);
  }

  trustRequests(): PendingTrustRequest[] {
    return Object.values(this.contactsState.requests);
  }

  /** The verified devices of an account, as found on the DHT now. */
  async devicesOf(jamiId: string, signal?: AbortSignal): Promise<VerifiedDevice[]> {
    return findDevices(this.requireDht().dht, JamiId.fromHex(jamiId), signal);
  }

  /** The devices of this account found on the DHT (jamid's known-devices view), this one included. */
  async ownDevices(signal?: AbortSignal): Promise<VerifiedDevice[]> {
    return this.devicesOf(this.jamiId, signal);
  }

  /** Sends jamid's trust request (encrypted to each device of the contact) and records the contact. */
  async addContact(jamiId: string, options: { payload?: Uint8Array; signal?: AbortSignal } = {}): Promise<Contact> {
    const existing = this.contactsState.contacts[jamiId];
    // Until swarm conversations exist (jami-swarm), the conversation id is a fresh random 40-hex id.
    const conversationId = existing?.conversationId ?? randomBytes(20).toString("hex");
    const contact: Contact = existing ?? { jamiId, added: Date.now(), confirmed: false, banned: false, conversationId };
    // Recorded before sending, so a quick confirmation finds the contact.
    await this.saveContact(contact);
    try {
      await this.sendTrustRequest(jamiId, conversationId, false, options.payload ?? new Uint8Array(), options.signal);
    } catch (error) {
      if (!existing) {
        delete this.contactsState.contacts[jamiId];
        await this.contactsFile.save(this.contactsState);
      }
      throw error;
    }
    this.trackPresence(jamiId);
    return contact;
  }

  /** Accepts a pending request: confirms it to every device of the sender and adds the contact (confirmed). */
  async acceptTrustRequest(from: string, signal?: AbortSignal): Promise<Contact> {
    const request = this.contactsState.requests[from];
    if (!request) throw new AccountError("NO_TRUST_REQUEST", `no trust request from ${from}`);
    // Recorded first (as jamid does), so the contact exists before the peer can see our confirmation.
    const previous = this.contactsState.contacts[from];
    delete this.contactsState.requests[from];
    const contact: Contact = { jamiId: from, added: Date.now(), confirmed: true, banned: false, conversationId: request.conversationId };
    await this.saveContact(contact);
    try {
      await this.sendTrustRequest(from, request.conversationId, true, new Uint8Array(), signal);
    } catch (error) {
      this.contactsState.requests[from] = request;
      if (previous) this.contactsState.contacts[from] = previous;
      else delete this.contactsState.contacts[from];
      await this.contactsFile.save(this.contactsState);
      throw error;
    }
    this.trackPresence(from);
    return contact;
  }

  async declineTrustRequest(from: string): Promise<void> {
    delete this.contactsState.requests[from];
    await this.contactsFile.save(this.contactsState);
  }

  /** Bans an account: its requests are ignored from now on. */
  async block(jamiId: string): Promise<void> {
    delete this.contactsState.requests[jamiId];
    const existing = this.contactsState.contacts[jamiId];
    const contact: Contact = { ...(existing ?? { jamiId, added: Date.now(), confirmed: false, conversationId: "" }), banned: true };
    this.presence.get(jamiId)?.sub.cancel();
    this.presence.delete(jamiId);
    await this.saveContact(contact);
  }

  private async saveContact(contact: Contact): Promise<void> {
    this.contactsState.contacts[contact.jamiId] = contact;
    await this.contactsFile.save(this.contactsState);
    this.emit("contact", contact);
  }

  private async sendTrustRequest(jamiId: string, conversationId: string, confirm: boolean, payload: Uint8Array, signal?: AbortSignal): Promise<void> {
    const { dht, secure } = this.requireDht();
    const devices = await findDevices(dht, JamiId.fromHex(jamiId), signal);
    if (devices.length === 0) throw new AccountError("NO_DEVICES", `no device of ${jamiId} found on the DHT`);
    const data = encodeTrustRequest({ conversationId, payload, confirm });
    await Promise.all(
      devices.map((d) =>
        secure.putEncrypted(JamiDhtKeys.inbox(d.deviceShortId), new Value({ type: TRUST_REQUEST_TYPE, data }), d.device.publicKey, { signal }),
      ),
    );
  }

  /** Revocation lists published at a Jami ID (unsigned type-0 values holding a DER CRL). */
  private async revocationLists(jamiId: JamiId): Promise<RevocationList[]> {
    const out: RevocationList[] = [];
    for await (const v of this.requireDht().dht.get(JamiDhtKeys.account(jamiId))) {
      if (v.owner || v.type !== 0 || v.data[0] !== 0x30) continue;
      try {
        out.push(RevocationList.fromDer(v.data));
      } catch {
        /* not a CRL */
      }
    }
    return out;
  }

  private async onInboxValue(v: Value): Promise<void> {
    if (v.type !== TRUST_REQUEST_TYPE || !v.ownerId) return log("ignored inbox value of type %d", v.type);
    const key = `${v.ownerId}/${v.id}/${v.seq}`;
    if (this.handled.has(key)) return;
    this.handled.add(key);
    const body = decodeTrustRequest(v.data);
    if (!body) return log("ignored an inbox value that is not a trust request");
    let sender: VerifiedDevice;
    try {
      sender = await findDeviceChain(this.requireDht().dht, v.ownerId);
      const crls = await this.revocationLists(sender.jamiId);
      if (crls.some((crl) => crl.isSignedBy(sender.account) && crl.isRevoked(sender.device))) throw new Error("device revoked");
    } catch (e) {
      return log("ignored a trust request from device %s: %s", v.ownerId, (e as Error).message);
    }
    const from = sender.jamiId.toString();
    const contact = this.contactsState.contacts[from];
    if (contact?.banned) return log("ignored a trust request from banned %s", from);
    const request: PendingTrustRequest = {
      from,
      device: sender.deviceShortId.toString(),
      conversationId: body.conversationId,
      payload: Buffer.from(body.payload).toString("base64"),
      received: Date.now(),
    };
    if (body.confirm && contact) {
      if (!contact.confirmed) await this.saveContact({ ...contact, confirmed: true });
    } else if (!body.confirm) {
      if (contact?.confirmed) return; // a replay, or a request we already accepted
      const known = this.contactsState.requests[from];
      if (known?.conversationId === body.conversationId) return; // duplicate (e.g. one per device)
      this.contactsState.requests[from] = request;
      await this.contactsFile.save(this.contactsState);
    } else return log("ignored a confirmation from %s, who is not a contact", from);
    this.emit("trustRequest", { ...request, confirm: body.confirm });
  }

  /** Follows a contact's device announcements: `presence` events when it comes online or goes offline. */
  trackPresence(jamiId: string): void {
    if (this.presence.has(jamiId) || !this.dht) return;
    const id = JamiId.fromHex(jamiId);
    const sub = this.dht.listen(JamiDhtKeys.account(id));
    const entry = { sub, devices: new Set<string>() };
    const byValue = new Map<bigint, string>();
    const report = (): void => {
      this.emit("presence", { jamiId, online: entry.devices.size > 0, devices: [...entry.devices] });
    };
    sub.on("value", (v) => {
      const device = readDeviceAnnouncement(v, id);
      if (!device) return;
      byValue.set(v.id, device.shortId.toString());
      const wasOnline = entry.devices.size > 0;
      const before = entry.devices.size;
      entry.devices.add(device.shortId.toString());
      if (!wasOnline || entry.devices.size !== before) report();
    });
    sub.on("expired", (ids) => {
      for (const vid of ids) {
        const dev = byValue.get(vid);
        byValue.delete(vid);
        if (dev && ![...byValue.values()].includes(dev)) entry.devices.delete(dev);
      }
      report();
    });
    this.presence.set(jamiId, entry);
  }

  /** Whether a contact currently has a live device announcement. */
  isOnline(jamiId: string): boolean {
    return (this.presence.get(jamiId)?.devices.size ?? 0) > 0;
  }
}
