/**
 * The Jami SDK: an `Account` (one device of a Jami account) composed of feature modules — `contacts`,
 * `devices`, `presence`, `profile`, `links` built in, optional ones from their own packages through `features`.
 *
 * @example
 * const account = await Account.load({ dir, bootstrap: ["127.0.0.1:4222"] });
 * account.contacts.on("request", (r) => void account.contacts.accept(r.from));
 * await account.start();
 *
 * Wire codecs and the connection manager are in `jami-sdk/internal` (no stability promise).
 * @packageDocumentation
 * @module jami-sdk
 */
export { Account, type AccountEvents, type AccountOptions, type FeatureFactories, type FeaturesOf } from "./account/account.js";
export type { NetworkOptions } from "./account/network.js";
export type { AccountComponents, AccountFeature, FeatureLifecycle } from "./account/components.js";
export { JsonDirectoryStore, MemoryStore, type AccountStore } from "./account/store.js";
export type { AccountIdentity } from "./account/identity.js";
export type { AccountNetwork } from "./account/network.js";
export type { InboxRouter, InboxHandler } from "./account/inbox.js";
export type { TrustPolicy, TrustRule } from "./account/trust.js";
export type { SyncRegistry, SyncPart } from "./account/sync-registry.js";
export type { EventBus, AccountInternalEvents } from "./account/event-bus.js";
export type { Contacts, ContactEvents } from "./features/contacts.js";
export type { Contact, PendingTrustRequest } from "./features/contact.js";
export type { Devices, DeviceEvents } from "./features/devices.js";
export type { KnownDevice } from "./features/known-devices.js";
export type { Presence, PresenceEvents, PresenceChange } from "./features/presence.js";
export type { Profile, ProfileEvents, MemberProfile, PersonalProfile } from "./features/profile.js";
export type { LinkManager, LinkEvents, ChannelPeer, ChannelRequestFilter } from "./features/links.js";
export { conversations, type Conversations, type ConversationsOptions, type ConversationEvents } from "./features/conversations.js";
export type { CacheReleaseOptions } from "./features/conversation-cache-release.js";
export { safeFileName, type FileMessage, type FileProgress } from "./features/conversation-files.js";
export type { Channel } from "jami-dtls";
export type { LinkPath } from "./connection/connection-manager.js";
export { createLocalNetwork, type LocalNetwork, type LocalNetworkOptions, type LocalNetworkAccount } from "./local-network.js";
export { AccountError, type AccountErrorCode } from "./errors.js";
export { JamiError, isJamiError } from "jami-core";
