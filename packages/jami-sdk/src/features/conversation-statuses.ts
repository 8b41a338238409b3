import type { MemberStatuses } from "../dht/sync-msg.js";
import type { ConversationEvents } from "./conversation-events.js";
import type { ConversationReceipts } from "./conversation-receipts.js";
import type { ConversationShelf } from "./conversation-shelf.js";

type Emit = <K extends keyof ConversationEvents>(event: K, ...args: ConversationEvents[K]) => void;

/**
 * Where the members stand — the newest commit a device of each fetched, the last each displayed, this account
 * included — kept in step across this account's devices over `sync://`: jamid 13.7's `ld` (displayed marks) and
 * today's `ms` (both, with times). What another of our devices learnt is taken unless ours is newer, and told as the
 * events a member's own receipt would be (`read` from this account: one of its devices displayed it).
 */
export class MemberStatusSync {
  constructor(
    private readonly self: string,
    private readonly shelf: ConversationShelf,
    private readonly receipts: () => ConversationReceipts,
    private readonly emit: Emit,
  ) {}

  /** The marks of every conversation here (or of `conversationId` alone), as our other devices are told them. */
  statuses(conversationId?: string): MemberStatuses {
    return this.receipts().statuses(conversationId ? [conversationId] : this.shelf.repos.keys());
  }

  /**
   * Marks another device of this account sent, for conversations we have and accounts their repository names (any
   * role): each mark is a store write, so what a device may make us keep is bounded by the conversation's members.
   */
  async apply(statuses: MemberStatuses): Promise<void> {
    const receipts = this.receipts();
    for (const [conversationId, members] of Object.entries(statuses)) {
      const repo = this.shelf.repos.get(conversationId);
      if (!repo) continue;
      const known = new Set((await repo.members()).map((m) => m.uri));
      for (const [member, status] of Object.entries(members)) {
        if (!known.has(member)) continue;
        if (status.fetched && status.fetchedAt !== undefined && (await receipts.merge(conversationId, member, "fetched", status.fetched, status.fetchedAt)))
          if (member !== this.self) this.emit("delivered", { conversationId, from: member, head: status.fetched });
        if (status.read && status.readAt !== undefined && (await receipts.merge(conversationId, member, "displayed", status.read, status.readAt)))
          this.emit("read", { conversationId, from: member, messageId: status.read });
      }
    }
  }
}
