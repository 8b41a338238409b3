import createDebug from "debug";
import { randomBytes } from "node:crypto";
import { DhtNode, DhtProxyClient, InfoHash, SecureDht, TypedEmitter, Value, type DhtClient, type Subscription } from "jami-dht";
import {
  createAccount,
  DeviceId,
  DeviceShortId,
  importAccount,
  JamiId,
  loadAccount,
  openAccountArchive,
  PublicKey,
  toBase64,
  fromBase64,
  writeArchive,
  type AccountArchive,
  type LocalAccount,
  type VerifiedDevice,
} from "jami-identity";
import { readDeviceAnnouncement } from "../dht/device-announcement.js";
import { findDeviceChain, findDeviceChainById, findDevices, forEachDevice, publishDevice } from "../dht/devices.js";
import { ConnectionManager } from "../connection/connection-manager.js";
import type { Channel } from "jami-dtls";
import type { StunServer, TurnServer } from "jami-ice";
import { JamiDhtKeys } from "../dht/keys.js";
import { decodeTrustRequest, encodeTrustRequest, TRUST_REQUEST_TYPE } from "../dht/trust-request.js";
import { decodeDeviceSync, DEVICE_SYNC_TYPE, encodeDeviceSync } from "../dht/device-sync.js";
import { ContactBook } from "./contact-book.js";
import { isActive, toArchiveContact, type Contact, type PendingTrustRequest } from "./contacts.js";
import { KnownDevices, type KnownDevice } from "./known-devices.js";
import { applySyncData, buildSyncData } from "./sync-data.js";
import { AccountError } from "../errors.js";
import { BoundedSet } from "../bounded-set.js";
import { RevocationChecker } from "./revocations.js";

const log = createDebug("jami:sdk:account");
const MAX_HANDLED_INBOX_VALUES = 4096;

export interface NetworkOptions {
  /** `host:port` of DHT nodes to join (default: none — pass one, or use `createLocalNetwork`). */
  bootstrap?: string[];
  /** Use an OpenDHT proxy over HTTP instead of a UDP node. */
  proxy?: string;
  /** UDP port of our node (default: any free port) and address to bind (default 0.0.0.0). */
  port?: number;
  host?: string;
  /** Host addresses offered as ICE candidates for device links (default: every non-internal interface address). */
  iceAddresses?: string[];
  /** A STUN server for a server-reflexive candidate (default: none). */
  stun?: StunServer;
  /** A TURN server for a relayed candidate (TCP relay, RFC 6062; default: none). */
  turn?: TurnServer;
}

/** Decides on a channel another device asks for (see `onChannelRequest`). */
export type ChannelRequestFilter = (request: { name: string; peer: { jamiId: string; deviceId: string } }) => boolean | Promise<boolean>;

export interface AccountEvents {
  /** A contact's device appeared or the last one went away. */
  presence: [{ jamiId: string; online: boolean; devices: string[] }];
  /** A trust request arrived (new, or a confirmation of ours when `confirm` is true). */
  trustRequest: [PendingTrustRequest & { confirm: boolean }];
  /** A contact was added or changed (confirmed, banned). */
  contact: [Contact];
  /** The account is published and listening. */
  online: [];
  /** The account's known devices changed (a device of ours appeared or was renamed). */
  devices: [KnownDevice[]];
  /** Another device of this account sent its contacts and requests (DeviceSync) and we merged them. */
  sync: [{ fromDevice: string; contacts: number; requests: number }];
  /** A channel another device opened and a handler accepted. */
  channel: [{ channel: Channel; peer: { jamiId: string; deviceId: string } }];
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
  /** Inbox values already handled (owner/id/seq), the oldest forgotten past a bound. */
  private readonly handled = new BoundedSet<string>(MAX_HANDLED_INBOX_VALUES);
  private readonly revocations = new RevocationChecker(
    () => this.requireDht().dht,
    () => ({ jamiId: this.local.jamiId, list: this.archive.revocationList }),
  );
  /** Own devices whose announcement we already answered with a sync in this session. */
  private readonly greeted = new Set<string>();
  private lastSyncDate = 0n;
  private connections?: ConnectionManager;
  private readonly channelHandlers: Array<{ pattern: string | RegExp; accept: ChannelRequestFilter }> = [];
  private syncQueue: Promise<void> = Promise.resolve();

  private constructor(
    readonly local: LocalAccount,
    private readonly archive: AccountArchive,
    private readonly book: ContactBook,
    private readonly devices: KnownDevices,
    private readonly network: NetworkOptions,
  ) {
    super();
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
    const book = await ContactBook.open(local.dir, archive.contacts);
    const devices = await KnownDevices.open(local.dir);
    await devices.add({
      deviceId: local.deviceId.toString(),
      shortId: local.deviceShortId.toString(),
      name: local.deviceName,
      publicKey: toBase64(local.device.key.publicKey.spki),
    });
    return new Account(local, archive, book, devices, network);
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
    // Online once a node holds the announcement; the closest nodes that are slow or gone get it in the background.
    await publishDevice(this.dht, this.archive.accountKeys.accountKey, this.local.device, { signal, acknowledgedBy: 1 });
    // Only values encrypted to this device: a signed value sent to another device cannot be replayed here.
    const inbox = this.secure.listen(JamiDhtKeys.inbox(this.local.deviceShortId), { requireEncrypted: true });
    inbox.on("value", (v) => void this.onInboxValue(v));
    // Our own announcements: a device of this account coming online gets our contacts (and we learn it).
    const own = this.dht.listen(JamiDhtKeys.account(this.local.jamiId));
    own.on("value", (v) => void this.onOwnAnnouncement(v));
    this.subscriptions.push(inbox, own);
    for (const c of this.book.contacts()) if (isActive(c)) this.trackPresence(c.jamiId);
    this.connections = new ConnectionManager({
      dht: this.dht,
      secure: this.secure,
      identity: this.local.device,
      ice: { addresses: this.network.iceAddresses, stun: this.network.stun, turn: this.network.turn },
      authorize: (peer) => this.authorizeDevice(peer),
      onChannelRequest: (peer, name) => this.decideChannel(peer, name),
      onChannel: (peer, channel) => this.emit("channel", { channel, peer: { jamiId: peer.jamiId.toString(), deviceId: peer.deviceId.toString() } }),
    });
    this.connections.start();
    this.emit("online");
  }

  /** Stops listening and closes the node once pending device syncs are sent; permanent puts end with it. */
  async stop(): Promise<void> {
    log("stopping: waiting for pending device syncs");
    await this.syncQueue;
    log("stopping: closing links and subscriptions");
    this.connections?.stop();
    this.connections = undefined;
    for (const s of this.subscriptions.splice(0)) s.cancel();
    for (const p of this.presence.values()) p.sub.cancel();
    this.presence.clear();
    await this.dht?.close();
    this.dht = this.node = this.secure = undefined;
    log("stopped");
  }

  private requireDht(): { dht: DhtClient; secure: SecureDht } {
    if (!this.dht || !this.secure) throw new AccountError("NOT_STARTED", "account not started: call start() first");
    return { dht: this.dht, secure: this.secure };
  }

  /** Active and banned contacts. */
  contacts(): Contact[] {
    return this.book.contacts();
  }

  trustRequests(): PendingTrustRequest[] {
    return this.book.requests();
  }

  /** The devices of this account we know of (this one, those seen on the DHT, those other devices told us of). */
  knownDevices(): KnownDevice[] {
    return this.devices.list();
  }

  /** An archive of the account with the current contacts, for another device or for jamid (`password`: the account's). */
  async exportArchive(options: { password?: string } = {}): Promise<Uint8Array> {
    const archive = await openAccountArchive({ dir: this.local.dir, password: options.password });
    const contacts = Object.fromEntries(this.book.allContacts().map((c) => [c.jamiId, toArchiveContact(c)]));
    return writeArchive(archive.with({ ringAccountContacts: contacts }), options.password);
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
    assertJamiId(jamiId);
    const existing = this.book.contact(jamiId);
    const reuse = existing && isActive(existing) ? existing : undefined;
    // Until swarm conversations exist (jami-swarm), the conversation id is a fresh random 40-hex id.
    const contact: Contact = reuse ?? {
      jamiId,
      added: Date.now(),
      confirmed: false,
      banned: false,
      conversationId: randomBytes(20).toString("hex"),
      ...(existing?.removed ? { removed: existing.removed } : {}),
    };
    const before = this.book.snapshot();
    // Recorded before sending, so a quick confirmation finds the contact.
    await this.book.putContact(contact);
    try {
      await this.sendTrustRequest(jamiId, contact.conversationId, false, options.payload ?? new Uint8Array(), options.signal);
    } catch (error) {
      await this.book.restore(before);
      throw error;
    }
    this.contactChanged(contact);
    return contact;
  }

  /** Accepts a pending request: confirms it to every device of the sender and adds the contact (confirmed). */
  async acceptTrustRequest(from: string, signal?: AbortSignal): Promise<Contact> {
    const request = this.book.request(from);
    if (!request) throw new AccountError("NO_TRUST_REQUEST", `no trust request from ${from}`);
    const before = this.book.snapshot();
    // Recorded first (as jamid does), so the contact exists before the peer can see our confirmation.
    const previous = this.book.contact(from);
    const contact: Contact = {
      jamiId: from,
      added: Date.now(),
      confirmed: true,
      banned: false,
      conversationId: request.conversationId,
      ...(previous?.removed ? { removed: previous.removed } : {}),
    };
    await this.book.putContact(contact);
    try {
      await this.sendTrustRequest(from, request.conversationId, true, new Uint8Array(), signal);
    } catch (error) {
      await this.book.restore(before);
      throw error;
    }
    this.contactChanged(contact);
    return contact;
  }

  async declineTrustRequest(from: string): Promise<void> {
    if (!this.book.request(from)) throw new AccountError("NO_TRUST_REQUEST", `no trust request from ${from}`);
    await this.book.declineRequest(from);
  }

  /** Removes a contact (jamid's `removeContact`); with `ban`, its requests are ignored from now on. */
  async removeContact(jamiId: string, options: { ban?: boolean } = {}): Promise<Contact> {
    assertJamiId(jamiId);
    const existing = this.book.contact(jamiId);
    const now = Math.max(Date.now(), (existing?.added ?? 0) + 1);
    const contact: Contact = { ...(existing ?? { jamiId, added: 0, confirmed: false, conversationId: "" }), removed: now, banned: options.ban === true };
    await this.book.putContact(contact);
    if (options.ban) await this.book.deleteRequest(jamiId);
    this.contactChanged(contact);
    return contact;
  }

  /** Bans an account: removed from the contacts, its requests ignored from now on. */
  async block(jamiId: string): Promise<Contact> {
    return this.removeContact(jamiId, { ban: true });
  }

  /** After a local change: event, presence, and the news sent to our other devices. */
  private contactChanged(contact: Contact): void {
    this.emit("contact", contact);
    if (isActive(contact)) this.trackPresence(contact.jamiId);
    else this.untrackPresence(contact.jamiId);
    this.scheduleDeviceSync();
  }

  private async sendTrustRequest(jamiId: string, conversationId: string, confirm: boolean, payload: Uint8Array, signal?: AbortSignal): Promise<void> {
    const { dht, secure } = this.requireDht();
    const data = encodeTrustRequest({ conversationId, payload, confirm });
    // Each device gets its copy as soon as it is verified, as jamid's forEachDevice does.
    const puts: Promise<unknown>[] = [];
    await forEachDevice(
      dht,
      JamiId.fromHex(jamiId),
      (d) =>
        void puts.push(
          secure.putEncrypted(JamiDhtKeys.inbox(d.deviceShortId), new Value({ type: TRUST_REQUEST_TYPE, data }), d.device.publicKey, { signal, acknowledgedBy: 1 }),
        ),
      signal,
    );
    if (puts.length === 0) throw new AccountError("NO_DEVICES", `no device of ${jamiId} found on the DHT`);
    await Promise.all(puts);
  }

  /** The sender's verified chain (up to `jamiId` when given), refused when its account revoked it. */
  private async verifiedSender(deviceKeyId: InfoHash, jamiId?: JamiId, keys?: InfoHash[]): Promise<VerifiedDevice> {
    const sender = await findDeviceChain(this.requireDht().dht, deviceKeyId, { jamiId, keys });
    if (await this.revocations.isRevoked(sender)) throw new AccountError("PEER_REFUSED", `device ${sender.deviceId} is revoked`);
    return sender;
  }

  private async onInboxValue(v: Value): Promise<void> {
    if (!v.ownerId) return log("ignored an unsigned inbox value");
    if (!this.handled.add(`${v.ownerId}/${v.id}/${v.seq}`)) return;
    log("inbox value type %d from device %s", v.type, v.ownerId);
    if (v.type === TRUST_REQUEST_TYPE) return this.onTrustRequestValue(v, v.ownerId);
    if (v.type === DEVICE_SYNC_TYPE) return this.onDeviceSyncValue(v, v.ownerId);
    log("ignored inbox value of type %d", v.type);
  }

  private async onTrustRequestValue(v: Value, ownerId: InfoHash): Promise<void> {
    const body = decodeTrustRequest(v.data);
    if (!body) return log("ignored an inbox value that is not a trust request");
    let sender: VerifiedDevice;
    try {
      sender = await this.verifiedSender(ownerId);
    } catch (e) {
      return log("ignored a trust request from device %s: %s", ownerId, (e as Error).message);
    }
    const from = sender.jamiId.toString();
    log("trust request (confirm %s) from %s verified", body.confirm, from);
    const contact = this.book.contact(from);
    if (contact?.banned && !isActive(contact)) return log("ignored a trust request from banned %s", from);
    const request: PendingTrustRequest = {
      from,
      device: sender.deviceShortId.toString(),
      conversationId: body.conversationId,
      payload: Buffer.from(body.payload).toString("base64"),
      received: Date.now(),
      deviceKey: toBase64(sender.device.publicKey.spki),
    };
    if (body.confirm) {
      if (!contact || !isActive(contact)) return log("ignored a confirmation from %s, who is not a contact", from);
      if (!contact.confirmed) {
        const confirmed = { ...contact, confirmed: true };
        await this.book.putContact(confirmed);
        this.contactChanged(confirmed);
      }
    } else {
      if (contact && isActive(contact) && contact.confirmed) return; // a replay, or a request we already accepted
      const known = this.book.request(from);
      if (known?.conversationId === body.conversationId) return; // duplicate (e.g. one per device)
      if (this.book.wasDeclined(from, body.conversationId)) return log("ignored a declined request from %s sent again", from);
      await this.book.putRequest(request);
      this.scheduleDeviceSync();
    }
    this.emit("trustRequest", { ...request, confirm: body.confirm });
  }

  /** jamid 13.7's DeviceSync from another device of this account: contacts, requests and devices merged. */
  private async onDeviceSyncValue(v: Value, ownerId: InfoHash): Promise<void> {
    const sync = decodeDeviceSync(v.data);
    if (!sync) return log("ignored a type-0 inbox value that is not a DeviceSync");
    let sender: VerifiedDevice;
    try {
      sender = await this.verifiedSender(ownerId, this.local.jamiId);
    } catch (e) {
      return log("ignored a DeviceSync from device %s: %s", ownerId, (e as Error).message);
    }
    await this.rememberDevice(sender, sync.deviceName);
    if (!(await this.devices.acceptSync(sender.deviceId.toString(), sync.date))) return log("ignored an outdated DeviceSync from %s", ownerId);
    const { contacts, requests } = applySyncData(this.book, sync);
    await this.book.save();
    for (const c of contacts) {
      this.emit("contact", c);
      if (isActive(c)) this.trackPresence(c.jamiId);
      else this.untrackPresence(c.jamiId);
    }
    for (const r of requests) this.emit("trustRequest", { ...r, confirm: false });
    this.emit("sync", { fromDevice: sender.deviceId.toString(), contacts: contacts.length, requests: requests.length });
    for (const d of sync.devices) void this.learnDevice(d.shortId, d.deviceId, d.name);
  }

  /** A device named in a sync: verified through its certificate on the DHT before it joins the known devices. */
  private async learnDevice(shortId: string, deviceId: string | undefined, name: string): Promise<void> {
    if ((deviceId && this.devices.get(deviceId)) || this.devices.byShortId(shortId)) return;
    const keys = [InfoHash.fromHex(shortId), ...(deviceId ? [JamiDhtKeys.deviceCertificate(DeviceId.fromHex(deviceId))] : [])];
    try {
      await this.rememberDevice(await this.verifiedSender(InfoHash.fromHex(shortId), this.local.jamiId, keys), name);
    } catch (e) {
      log("device %s named in a sync not verified: %s", shortId, (e as Error).message);
    }
  }

  private async rememberDevice(device: VerifiedDevice, name: string): Promise<void> {
    const added = await this.devices.add({
      deviceId: device.deviceId.toString(),
      shortId: device.deviceShortId.toString(),
      name,
      publicKey: toBase64(device.device.publicKey.spki),
    });
    if (added) this.emit("devices", this.devices.list());
  }

  /** An announcement at our own Jami ID: a device of ours we greet with a sync (once per session). */
  private async onOwnAnnouncement(v: Value): Promise<void> {
    const announced = readDeviceAnnouncement(v, this.local.jamiId);
    if (!announced || announced.shortId.toString() === this.local.deviceShortId.toString()) return;
    const shortId = announced.shortId.toString();
    if (this.greeted.has(shortId)) return;
    this.greeted.add(shortId);
    const keys = announced.publicKey ? JamiDhtKeys.certificates(announced.publicKey) : undefined;
    try {
      const device = await this.verifiedSender(announced.shortId, this.local.jamiId, keys ? [keys.legacy, keys.current] : undefined);
      await this.rememberDevice(device, this.devices.byShortId(shortId)?.name ?? "");
    } catch (e) {
      this.greeted.delete(shortId);
      return log("own announcement of %s refused: %s", shortId, (e as Error).message);
    }
    this.scheduleDeviceSync([shortId]);
  }

  /** Queues a DeviceSync to our other known devices (or only `onlyShortIds`); `stop()` waits for the queue. */
  private scheduleDeviceSync(onlyShortIds?: string[]): void {
    if (!this.secure) return;
    this.syncQueue = this.syncQueue.then(() => this.syncDevices(onlyShortIds)).catch((e) => log("device sync failed: %s", (e as Error).message));
  }

  /** Sends jamid's DeviceSync (contacts, pending requests, known devices) to each other device of this account. */
  async syncDevices(onlyShortIds?: string[], signal?: AbortSignal): Promise<void> {
    const { secure } = this.requireDht();
    const self = this.local.deviceId.toString();
    const targets = this.devices.list().filter((d) => d.deviceId !== self && (!onlyShortIds || onlyShortIds.includes(d.shortId)));
    if (targets.length === 0) return;
    // jamid drops a sync whose date is not newer than the last one it accepted from us.
    const now = BigInt(Date.now()) * 1_000_000n;
    this.lastSyncDate = now > this.lastSyncDate ? now : this.lastSyncDate + 1n;
    const data = encodeDeviceSync(buildSyncData(this.book, this.devices.list(), this.local.deviceName, this.lastSyncDate));
    await Promise.all(
      targets.map((d) =>
        secure.putEncrypted(JamiDhtKeys.inbox(DeviceShortId.fromHex(d.shortId)), new Value({ type: DEVICE_SYNC_TYPE, data }), PublicKey.fromSpki(fromBase64(d.publicKey)), {
          signal,
          acknowledgedBy: 1,
        }),
      ),
    );
    log("sent DeviceSync to %d device(s)", targets.length);
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

  private untrackPresence(jamiId: string): void {
    this.presence.get(jamiId)?.sub.cancel();
    this.presence.delete(jamiId);
  }

  /**
   * A channel to another device over a direct link (reused by every channel to that device): `target` is a
   * Jami ID (40 hex: the first of its devices to answer), a device id (64 hex, found by today's certificate key)
   * or a device found earlier (`devicesOf`).
   */
  async connect(target: string | VerifiedDevice, name: string, options: { signal?: AbortSignal } = {}): Promise<Channel> {
    const connections = this.connections;
    if (!connections) throw new AccountError("NOT_STARTED", "account not started: call start() first");
    const { dht } = this.requireDht();
    if (typeof target !== "string") return connections.openChannel(target, name, options.signal);
    if (/^[0-9a-f]{64}$/.test(target)) return connections.openChannel(await findDeviceChainById(dht, DeviceId.fromHex(target), options.signal), name, options.signal);
    assertJamiId(target);
    const self = this.local.deviceId.toString();
    const attempts: Promise<Channel>[] = [];
    await forEachDevice(
      dht,
      JamiId.fromHex(target),
      (d) => {
        if (d.deviceId.toString() === self) return;
        const attempt = connections.openChannel(d, name, options.signal);
        attempt.catch(() => undefined); // judged below, once every device is known
        attempts.push(attempt);
      },
      options.signal,
    );
    if (attempts.length === 0) throw new AccountError("NO_DEVICES", `no device of ${target} found on the DHT`);
    const first = await Promise.any(attempts).catch((e: AggregateError) => {
      throw e.errors[0] as Error;
    });
    // Extra channels from devices that answered too are closed.
    for (const a of attempts) void a.then((c) => c !== first && c.end(), () => undefined);
    return first;
  }

  /**
   * Accepts channels whose name is `pattern` (or matches it) when `accept` says so; the first matching handler
   * decides, channels nobody handles are declined (as jamid declines names it does not know). Returns a remover.
   */
  onChannelRequest(pattern: string | RegExp, accept: ChannelRequestFilter = () => true): () => void {
    const entry = { pattern, accept };
    this.channelHandlers.push(entry);
    return () => {
      const i = this.channelHandlers.indexOf(entry);
      if (i >= 0) this.channelHandlers.splice(i, 1);
    };
  }

  /**
   * jamid's beacon on the link with a device: resolves with the round trip in ms; a link that does not answer
   * within `timeoutMs` is closed (its channels end) and the promise rejects.
   */
  async ping(deviceId: string, timeoutMs = 3000): Promise<number> {
    const link = this.connections?.linkTo(deviceId);
    if (!link || link.isClosed) throw new AccountError("NOT_CONNECTED", `no link with device ${deviceId}`);
    const t0 = performance.now();
    await link.sendBeacon(timeoutMs);
    return performance.now() - t0;
  }

  /** Closes the link with a device (64-hex id) and every channel on it. */
  disconnect(deviceId: string): void {
    this.connections?.closeLink(deviceId);
  }

  /** Devices we have a live link with (64-hex ids). */
  connectedDevices(): string[] {
    return this.connections?.connectedDevices() ?? [];
  }

  private decideChannel(peer: VerifiedDevice, name: string): boolean | Promise<boolean> {
    const handler = this.channelHandlers.find((h) => (typeof h.pattern === "string" ? h.pattern === name : h.pattern.test(name)));
    if (!handler) return log("declined channel %s from %s: no handler", name, peer.deviceId), false;
    return handler.accept({ name, peer: { jamiId: peer.jamiId.toString(), deviceId: peer.deviceId.toString() } });
  }

  /** jamid's ICE policy (§4.3): any valid device, unless its account banned or revoked it. */
  private async authorizeDevice(peer: VerifiedDevice): Promise<void> {
    const contact = this.book.contact(peer.jamiId.toString());
    if (contact?.banned && !isActive(contact)) throw new AccountError("PEER_REFUSED", `account ${peer.jamiId} is banned`);
    if (await this.revocations.isRevoked(peer)) throw new AccountError("PEER_REFUSED", `device ${peer.deviceId} is revoked`);
  }

  /** Whether a contact currently has a live device announcement. */
  isOnline(jamiId: string): boolean {
    return (this.presence.get(jamiId)?.devices.size ?? 0) > 0;
  }
}

function assertJamiId(jamiId: string): void {
  if (!/^[0-9a-f]{40}$/.test(jamiId)) throw new AccountError("INVALID_ARGUMENT", `not a Jami ID (40 lowercase hex): ${jamiId}`);
}
