import { createHash } from "node:crypto";
import { TypedEmitter, type AbortOptions } from "jami-core";
import type { Channel } from "jami-dtls";
import type { AccountComponents, FeatureLifecycle } from "../account/components.js";
import { AccountError } from "../errors.js";
import type { ChannelPeer } from "./links.js";
import { ProfileFiles, type MemberProfile } from "./profile-store.js";
import { MAX_VCARD_BYTES, readPersonalVcard, writePersonalVcard, type PersonalProfile } from "./vcard.js";

export type { MemberProfile, PersonalProfile };

/** A member's device pushing its own vCard: `data-transfer://<conversation>/<its device>/profile.vcf`. */
export const PROFILE_PUSH = /^data-transfer:\/\/([0-9a-f]{40})\/([0-9a-f]{64})\/profile\.vcf$/;
/** Asking a device for a member's vCard: `data-transfer://<conversation>/profile/<Jami ID>.vcf`. */
export const PROFILE_PULL = /^data-transfer:\/\/([0-9a-f]{40})\/profile\/([0-9a-f]{40})\.vcf$/;
/** Our own devices exchanging the account's vCard (no conversation). */
export const OWN_PROFILE = "data-transfer://profile.vcf";
const SENT_KEY = "profile-sent";
/** (Jami ID, device) pairs remembered as having our current vCard (the oldest forgotten first: sent again). */
export const MAX_PROFILE_RECIPIENTS = 10_000;
const PUSH_FROM: ReadonlySet<string> = new Set(["admin", "member", "invited"]);
const SERVE_TO: ReadonlySet<string> = new Set(["admin", "member", "invited"]);

type Components = Pick<AccountComponents, "identity" | "store" | "links" | "events" | "membership" | "ownCard" | "lifetime" | "logger">;

export interface ProfileEvents {
  /** The account's own profile changed: set here (`from` undefined) or received from another of its devices. */
  updated: [{ profile: PersonalProfile; from?: string }];
  /** A member's vCard arrived (pushed by its device, pulled after a clone, or in its trust request) and differs from the one kept. */
  received: [{ profile: MemberProfile; deviceId: string }];
  /** A vCard a device sent was refused (`BAD_VCARD`: too large, too many lines, not a vCard); nothing was kept. */
  error: [{ from: ChannelPeer; error: AccountError }];
}

/**
 * `account.profile`: the account's display name and avatar, and the ones conversation members sent (jamid 13.7's
 * vCards, spec jami-swarm.md §7). Ours is pushed to each member device after a sync with it, once per device until
 * it changes (`data-transfer://<conv>/<our device>/profile.vcf`); after a clone the members' are pulled from the
 * device cloned from (one-to-ones, or our own device); our devices exchange ours on `data-transfer://profile.vcf`.
 * A vCard is accepted only from a device of a member of that conversation, in its own name, and bounded in size.
 */
export class Profile extends TypedEmitter<ProfileEvents> implements FeatureLifecycle {
  private readonly files: ProfileFiles;
  private readonly log;
  /** Our vCard as sent, what it says, and its SHA3 (what tells which devices have this one). */
  private own?: { bytes: Uint8Array; profile: PersonalProfile; sha3: string };
  /** Who has our current vCard: its SHA3 and the `<Jami ID>/<device>` pairs it went to (jamid's vcard cache). */
  private sent: { sha3: string; to: string[] } = { sha3: "", to: [] };
  private removeHandlers?: () => void;

  private readonly onChannel = ({ channel, peer }: { channel: Channel; peer: ChannelPeer }): void => {
    const pull = PROFILE_PULL.exec(channel.name);
    if (PROFILE_PUSH.test(channel.name)) void this.take(channel, peer, peer.jamiId);
    else if (channel.name === OWN_PROFILE) void this.take(channel, peer, this.self);
    else if (pull) void this.serve(channel, pull[2]!);
    else if (channel.name.startsWith("sync://") && peer.jamiId === this.self) void this.pushOwn(peer);
  };
  private readonly onSynced = ({ conversationId, peer }: { conversationId: string; peer: ChannelPeer }): void =>
    void this.push(conversationId, peer).catch((e: Error) => this.log("pushing our vCard to %s: %s", peer.deviceId.slice(0, 8), e.message));
  private readonly onTrustRequest = ({ from, deviceId, payload }: { from: string; deviceId?: string; payload: Uint8Array }): void =>
    void this.takeFromRequest(from, deviceId ?? "", payload).catch((e: Error) => this.log("the vCard of %s's request: %s", from, e.message));
  private readonly onCloned = ({ conversationId, peer }: { conversationId: string; peer: ChannelPeer }): void =>
    void this.pullMembers(conversationId, peer).catch((e: Error) => this.log("members' vCards of %s: %s", conversationId, e.message));

  constructor(private readonly c: Components) {
    super();
    this.files = new ProfileFiles(c.identity.dir);
    this.log = c.logger("profile");
    c.ownCard.provide(() => this.own && { bytes: this.own.bytes, ...(this.own.profile.displayName ? { displayName: this.own.profile.displayName } : {}) });
  }

  private get self(): string {
    return this.c.identity.jamiId.toString();
  }

  /** Reads our vCard (an account created with a display name gets one) and the members' kept ones. */
  async load(): Promise<void> {
    this.sent = (await this.c.store.read<{ sha3: string; to: string[] }>(SENT_KEY)) ?? { sha3: "", to: [] };
    await this.files.load();
    const bytes = await this.files.readOwn();
    if (bytes) {
      try {
        this.own = ownCard(bytes, readPersonalVcard(bytes));
      } catch (error) {
        this.log("our profile.vcf does not read: %s", (error as Error).message);
      }
    } else if (this.c.identity.displayName) {
      await this.write({ displayName: this.c.identity.displayName });
    }
  }

  async start(): Promise<void> {
    const removers = [
      this.c.links.handle(PROFILE_PUSH, ({ name, peer }) => this.acceptsPush(name, peer)),
      this.c.links.handle(PROFILE_PULL, ({ name, peer }) => this.acceptsPull(name, peer)),
      this.c.links.handle(OWN_PROFILE, ({ peer }) => peer.jamiId === this.self),
    ];
    this.removeHandlers = () => removers.forEach((remove) => remove());
    this.c.links.on("channel", this.onChannel);
    this.c.events.on("conversationSynced", this.onSynced);
    this.c.events.on("conversationCloned", this.onCloned);
    this.c.events.on("trustRequestReceived", this.onTrustRequest);
  }

  async stop(): Promise<void> {
    this.removeHandlers?.();
    this.c.links.off("channel", this.onChannel);
    this.c.events.off("conversationSynced", this.onSynced);
    this.c.events.off("conversationCloned", this.onCloned);
    this.c.events.off("trustRequestReceived", this.onTrustRequest);
  }

  /** Our display name and avatar. */
  get(): PersonalProfile {
    return { ...this.own?.profile };
  }

  /** Our vCard as it is sent (undefined when we have none). */
  vcard(): Uint8Array | undefined {
    return this.own?.bytes;
  }

  /**
   * Changes our profile: `displayName` and `avatar` given replace the current ones (`null` removes one, a missing key
   * keeps it). Members' devices get it at their next sync, as jamid does.
   */
  async set(update: { displayName?: string | null; avatar?: Uint8Array | null }, _options: AbortOptions = {}): Promise<PersonalProfile> {
    const next: PersonalProfile = { ...this.own?.profile };
    if (update.displayName !== undefined) next.displayName = update.displayName ?? undefined;
    if (update.avatar !== undefined) next.avatar = update.avatar ?? undefined;
    if (next.displayName === undefined) delete next.displayName;
    if (next.avatar === undefined) delete next.avatar;
    await this.write(next);
    this.emit("updated", { profile: this.get() });
    return this.get();
  }

  /** The profile a member's devices sent us, if any. */
  of(jamiId: string): MemberProfile | undefined {
    return this.files.member(jamiId);
  }

  /** Every member profile kept. */
  members(): MemberProfile[] {
    return this.files.list();
  }

  private async write(profile: PersonalProfile): Promise<void> {
    const bytes = writePersonalVcard(profile, this.self);
    await this.files.writeOwn(bytes);
    this.own = ownCard(bytes, readPersonalVcard(bytes));
  }

  // ── who may ──

  private async acceptsPush(name: string, peer: ChannelPeer): Promise<boolean> {
    const m = PROFILE_PUSH.exec(name)!;
    if (m[2] !== peer.deviceId || peer.jamiId === this.self) return false;
    return PUSH_FROM.has((await this.c.membership.roleOf(m[1]!, peer.jamiId)) ?? "");
  }

  /** jamid's rule: our own vCard to a member of that conversation; a member's vCard only to our own devices. */
  private async acceptsPull(name: string, peer: ChannelPeer): Promise<boolean> {
    const [, conversationId, uri] = PROFILE_PULL.exec(name)!;
    if (peer.jamiId === this.self) return true;
    return uri === this.self && SERVE_TO.has((await this.c.membership.roleOf(conversationId!, peer.jamiId)) ?? "");
  }

  // ── what arrives ──

  /** Reads a vCard a device sends (to its end, bounded) as the profile of `jamiId`. */
  private async take(channel: Channel, peer: ChannelPeer, jamiId: string): Promise<void> {
    let bytes: Uint8Array;
    try {
      bytes = await readBounded(channel);
    } catch (error) {
      return this.refused(peer, error as Error);
    }
    if (bytes.length === 0) return; // jamid sends nothing when it has no vCard
    let profile: PersonalProfile;
    try {
      profile = readPersonalVcard(bytes);
    } catch (error) {
      return this.refused(peer, error as Error);
    }
    if (jamiId === this.self) {
      if (this.own && Buffer.from(this.own.bytes).equals(bytes)) return;
      await this.files.writeOwn(bytes);
      this.own = ownCard(bytes, profile);
      this.emit("updated", { profile: this.get(), from: peer.deviceId });
    } else if (await this.files.keepMember(jamiId, bytes, profile)) {
      this.emit("received", { profile: this.files.member(jamiId)!, deviceId: peer.deviceId });
    }
  }

  /**
   * A trust request's payload, when it is a vCard (what jamid's clients send): kept as the sender's profile, as jamid's
   * clients keep it, so a request shows who it is from. Another payload (an application's own) is left alone.
   */
  private async takeFromRequest(jamiId: string, deviceId: string, payload: Uint8Array): Promise<void> {
    if (jamiId === this.self || !/^\s*BEGIN:VCARD/i.test(new TextDecoder().decode(payload.subarray(0, 64)))) return;
    let profile: PersonalProfile;
    try {
      profile = readPersonalVcard(payload);
    } catch (error) {
      return this.refused({ jamiId, deviceId }, error as Error);
    }
    if (await this.files.keepMember(jamiId, payload, profile)) this.emit("received", { profile: this.files.member(jamiId)!, deviceId });
  }

  private refused(peer: ChannelPeer, error: Error): void {
    const refusal = error instanceof AccountError ? error : new AccountError("BAD_VCARD", error.message);
    this.log("a vCard from %s refused: %s", peer.deviceId.slice(0, 8), refusal.message);
    if (refusal.code === "BAD_VCARD" && this.listenerCount("error") > 0) this.emit("error", { from: peer, error: refusal });
  }

  /** Answers a pull: the vCard of `jamiId` (ours, or a member's we keep), nothing when we have none. */
  private async serve(channel: Channel, jamiId: string): Promise<void> {
    const bytes = jamiId === this.self ? this.own?.bytes : await this.files.memberBytes(jamiId);
    channel.on("error", () => undefined);
    if (bytes) channel.end(Buffer.from(bytes));
    else channel.end();
  }

  // ── what we send ──

  /** After a sync with a member's device: our vCard, unless that device already has this one. */
  async push(conversationId: string, peer: ChannelPeer, options: AbortOptions = {}): Promise<boolean> {
    if (!this.own || peer.jamiId === this.self || !this.needsOurs(peer)) return false;
    await this.send(`data-transfer://${conversationId}/${this.c.identity.deviceId.toString()}/profile.vcf`, peer, options);
    return true;
  }

  /** To our own device whose `sync://` we accepted (jamid's rule). */
  private async pushOwn(peer: ChannelPeer): Promise<void> {
    if (!this.own || !this.needsOurs(peer)) return;
    await this.send(OWN_PROFILE, peer, { signal: this.c.lifetime }).catch((e: Error) => this.log("our vCard to our device: %s", e.message));
  }

  private async send(name: string, peer: ChannelPeer, options: AbortOptions): Promise<void> {
    const { bytes, sha3 } = this.own!;
    const channel = await this.c.links.connect(peer.deviceId, name, { signal: options.signal ?? this.c.lifetime });
    channel.on("error", () => undefined);
    await new Promise<void>((resolve, reject) => {
      channel.once("error", reject);
      channel.end(Buffer.from(bytes), () => resolve());
    });
    await this.markSent(peer, sha3);
  }

  private needsOurs(peer: ChannelPeer): boolean {
    return this.sent.sha3 !== this.own!.sha3 || !this.sent.to.includes(`${peer.jamiId}/${peer.deviceId}`);
  }

  private async markSent(peer: ChannelPeer, sha3: string): Promise<void> {
    const key = `${peer.jamiId}/${peer.deviceId}`;
    const to = this.sent.sha3 === sha3 ? this.sent.to.filter((k) => k !== key) : [];
    to.push(key);
    this.sent = { sha3, to: to.slice(-MAX_PROFILE_RECIPIENTS) };
    await this.c.store.write(SENT_KEY, this.sent);
  }

  /** After a clone from `peer`: the members' vCards it has (jamid asks in one-to-ones, or when `peer` is ours). */
  async pullMembers(conversationId: string, peer: ChannelPeer, options: AbortOptions = {}): Promise<number> {
    const fromOwnDevice = peer.jamiId === this.self;
    if (!fromOwnDevice && (await this.c.membership.mode(conversationId)) !== 0) return 0;
    let got = 0;
    for (const uri of await this.c.membership.members(conversationId)) {
      // from another account's device, only that account's own vCard is taken
      if (uri === this.self || (!fromOwnDevice && uri !== peer.jamiId)) continue;
      const name = `data-transfer://${conversationId}/profile/${uri}.vcf`;
      try {
        const channel = await this.c.links.connect(peer.deviceId, name, { signal: options.signal ?? this.c.lifetime });
        const before = this.files.member(uri);
        await this.take(channel, peer, uri);
        if (this.files.member(uri) !== before) got++;
      } catch (error) {
        this.log("%s's vCard from %s: %s", uri.slice(0, 8), peer.deviceId.slice(0, 8), (error as Error).message);
      }
    }
    return got;
  }
}

/**
 * Everything a channel brings until it ends or closes (jamid writes the vCard then shuts the channel down; its link
 * may go right after, before our stream says "end"); more than a vCard may be cuts it off (`BAD_VCARD`). A vCard
 * cut short by a broken link lacks its `END:VCARD` and is refused when read.
 */
function readBounded(channel: Channel): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    channel.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_VCARD_BYTES) return void parts.push(chunk);
      parts.length = 0;
      reject(new AccountError("BAD_VCARD", `a vCard over ${MAX_VCARD_BYTES} bytes: cut off`));
      channel.destroy();
    });
    channel.on("error", () => undefined);
    const done = (): void => resolve(new Uint8Array(Buffer.concat(parts)));
    channel.once("end", done);
    channel.once("close", done);
  });
}

function ownCard(bytes: Uint8Array, profile: PersonalProfile): { bytes: Uint8Array; profile: PersonalProfile; sha3: string } {
  return { bytes, profile, sha3: createHash("sha3-512").update(bytes).digest("hex") };
}
