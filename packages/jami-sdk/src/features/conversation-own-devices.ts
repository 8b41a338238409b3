import type { SwarmRepository } from "jami-swarm";
import type { AbortOptions } from "jami-core";
import { sleep } from "jami-core";
import type { AccountComponents } from "../account/components.js";
import type { ConvInfo, SyncMsg } from "../dht/sync-msg.js";
import type { ConversationRequest, ConversationRequestBook } from "./conversation-requests.js";
import { unixNow, type ConversationShelf } from "./conversation-shelf.js";
import type { ChannelPeer } from "./links.js";

const HEX40 = /^[0-9a-f]{40}$/;

type Components = Pick<AccountComponents, "identity" | "lifetime" | "logger">;

/** What the feature lends this part: cloning (one at a time per conversation) and telling the user of a request. */
export interface OwnDeviceHooks {
  cloneAndJoin(conversationId: string, from: ChannelPeer, options: AbortOptions): Promise<SwarmRepository>;
  requested(request: ConversationRequest): void;
}

/**
 * The conversations of this account across its devices (jamid 13.7's `ConvInfo`s): the state our other devices are
 * told over `sync://`, what we do with theirs (clone what they have, drop what they left, take their invitations),
 * the conversations an imported archive lists, and what our exported archive lists.
 */
export class OwnDeviceConversations {
  private readonly log;

  constructor(
    private readonly c: Components,
    private readonly shelf: ConversationShelf,
    private readonly requests: () => ConversationRequestBook,
    private readonly hooks: OwnDeviceHooks,
  ) {
    this.log = c.logger("conversations");
  }

  /** What our other devices are told: our conversations (those we left as removed) and the invitations. */
  state(): SyncMsg {
    const requests = this.requests();
    const conversations: Record<string, ConvInfo> = {};
    for (const id of this.shelf.repos.keys())
      conversations[id] = { id, created: requests.times(id)?.created ?? 0, removed: 0, erased: 0, members: this.shelf.members(id), lastDisplayed: "" };
    for (const id of requests.left()) {
      const times = requests.times(id);
      conversations[id] = { id, created: times?.created ?? 0, removed: times?.removed ?? unixNow(), erased: 0, members: [], lastDisplayed: "" };
    }
    return { conversations, requests: Object.fromEntries(requests.all().map((r) => [r.conversationId, toWire(r)])) };
  }

  /** jamid 13.7's `onSyncData`: clone what another own device has, drop what it left, take its invitations. */
  async apply(msg: SyncMsg, from: ChannelPeer): Promise<void> {
    const requests = this.requests();
    for (const info of Object.values(msg.conversations)) {
      const here = this.shelf.repos.get(info.id);
      if (info.removed === 0) {
        const removedHere = requests.times(info.id)?.removed;
        if (here || this.shelf.leaving.has(info.id) || (removedHere !== undefined && removedHere > info.created)) continue;
        await requests.remove(info.id);
        await this.cloneFrom(info.id, from);
      } else if (here) {
        // left on the other device (its leave commit is made there): gone here too, directory first
        await requests.setTimes(info.id, { created: requests.times(info.id)?.created ?? 0, removed: info.removed });
        await this.shelf.removeTree(here.dir).catch((e: Error) => this.log("erasing %s: %s", info.id, e.message));
        this.shelf.forget(info.id);
      }
    }
    for (const r of Object.values(msg.requests)) {
      if (this.shelf.repos.has(r.conversationId)) continue;
      const known = requests.get(r.conversationId);
      if (r.declined) {
        if (known && known.declined === undefined) await requests.decline(r.conversationId, r.declined * 1000);
        continue;
      }
      const request: ConversationRequest = { conversationId: r.conversationId, from: r.from, received: r.received * 1000, metadatas: r.metadatas };
      if (!known && (await requests.add(request))) this.hooks.requested(request);
    }
  }

  /**
   * Clones a conversation another device of ours has, from that device. A failure (the link dropped) is tried again
   * once shortly after, then left as the pending clone `cloneAndJoin` recorded: the next `sip` channel with one of
   * our devices (or the next start) clones it.
   */
  private async cloneFrom(conversationId: string, from: ChannelPeer): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.hooks.cloneAndJoin(conversationId, from, { signal: this.c.lifetime });
        return;
      } catch (error) {
        this.log("clone of %s from our device %s: %s", conversationId, from.deviceId.slice(0, 8), (error as Error).message);
        if (this.shelf.repos.has(conversationId) || this.c.lifetime.aborted || attempt >= 1) return;
        await sleep(2000, { signal: this.c.lifetime });
      }
    }
  }

  /**
   * An imported archive's conversations we do not have become pending clones: from any device of a listed member,
   * this account included (jamid's `syncConversations` after an import).
   */
  async adoptArchive(): Promise<void> {
    const requests = this.requests();
    const self = this.c.identity.jamiId.toString();
    for (const [id, info] of Object.entries(this.c.identity.archiveConversations)) {
      if (!HEX40.test(id) || info.removed || this.shelf.repos.has(id) || requests.clones().some((p) => p.conversationId === id)) continue;
      if (requests.times(id)) continue; // seen here before (cloned then left, or adopted already)
      const members = (info.members ?? []).map((m) => m.uri).filter((uri) => HEX40.test(uri));
      const from = members.find((uri) => uri !== self) ?? self;
      await requests.addClone({ conversationId: id, from, since: Date.now(), members: [...new Set([...members, self])] });
    }
  }

  /** jamid's archive keys: a device imported from it clones these when a member shows up. */
  archiveFields(): Record<string, unknown> {
    const requests = this.requests();
    return {
      conversations: Object.fromEntries(
        [...this.shelf.repos.keys()].map((id) => [
          id,
          { id, created: requests.times(id)?.created ?? 0, members: this.shelf.members(id).map((uri) => ({ uri })), lastDisplayed: "" },
        ]),
      ),
      conversationsRequests: Object.fromEntries(requests.pending().map((r) => [r.conversationId, toWire(r)])),
    };
  }
}

/** A request as jamid syncs and archives it (times in Unix seconds). */
function toWire(r: ConversationRequest): { from: string; conversationId: string; metadatas: Record<string, string>; received: number; declined: number } {
  return {
    from: r.from,
    conversationId: r.conversationId,
    metadatas: r.metadatas,
    received: Math.floor(r.received / 1000),
    declined: r.declined ? Math.floor(r.declined / 1000) : 0,
  };
}
