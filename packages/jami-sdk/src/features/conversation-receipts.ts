import type { AccountStore } from "../account/store.js";
import type { MemberStatus } from "../dht/sync-msg.js";

/** Where a message of ours stands with the other members. */
export type DeliveryStatus = "sent" | "delivered" | "displayed";

/**
 * Per conversation, per member account: the newest head a device of it fetched from us, and the last message it
 * displayed, each with when we learnt it (Unix seconds; absent in what earlier versions stored).
 */
interface Marks {
  fetched?: string;
  fetchedAt?: number;
  displayed?: string;
  displayedAt?: number;
}

type Kind = "fetched" | "displayed";

type Stored = Record<string, Record<string, Marks>>;

const KEY = "conversation-receipts";

/**
 * The evidence behind delivery states, kept in the account store so a restart loses nothing: `delivered` when a
 * member's device was served a head that contains the message (our git server sees the fetch, as jamid's
 * `setFetched`), `displayed` when a member sent an IMDN for it or a later message.
 */
export class ConversationReceipts {
  private constructor(
    private readonly store: AccountStore,
    private state: Stored,
  ) {}

  static async open(store: AccountStore): Promise<ConversationReceipts> {
    return new ConversationReceipts(store, (await store.read<Stored>(KEY)) ?? {});
  }

  marks(conversationId: string): ReadonlyMap<string, Marks> {
    return new Map(Object.entries(this.state[conversationId] ?? {}));
  }

  /** Records a mark learnt at `at` (Unix seconds); false when it is not news (the same commit again). */
  async mark(conversationId: string, member: string, kind: Kind, commit: string, at: number): Promise<boolean> {
    const current = this.state[conversationId]?.[member];
    if (current?.[kind] === commit) return false;
    const marks: Marks = { ...current, [kind]: commit, [`${kind}At`]: at };
    const next: Stored = { ...this.state, [conversationId]: { ...this.state[conversationId], [member]: marks } };
    await this.store.write(KEY, next);
    this.state = next;
    return true;
  }

  /**
   * A mark another device of this account learnt (today's `ms`): taken unless ours is the same commit or newer, as
   * jamid's `updateMessageStatus`. True when taken.
   */
  async merge(conversationId: string, member: string, kind: Kind, commit: string, at: number): Promise<boolean> {
    const current = this.state[conversationId]?.[member];
    const ours = current?.[`${kind}At`];
    if (current?.[kind] === commit || (ours !== undefined && ours > at)) return false;
    return this.mark(conversationId, member, kind, commit, at);
  }

  /** The marks of `conversationIds` in today's `ms` layout (`read` is our `displayed`); marks without a time are left out. */
  statuses(conversationIds: Iterable<string>): Record<string, Record<string, MemberStatus>> {
    const out: Record<string, Record<string, MemberStatus>> = {};
    for (const id of conversationIds)
      for (const [member, m] of Object.entries(this.state[id] ?? {})) {
        const status: MemberStatus = {};
        if (m.fetched && m.fetchedAt !== undefined) Object.assign(status, { fetched: m.fetched, fetchedAt: m.fetchedAt });
        if (m.displayed && m.displayedAt !== undefined) Object.assign(status, { read: m.displayed, readAt: m.displayedAt });
        if (Object.keys(status).length) (out[id] ??= {})[member] = status;
      }
    return out;
  }

  async forget(conversationId: string): Promise<void> {
    if (!(conversationId in this.state)) return;
    const next = { ...this.state };
    delete next[conversationId];
    await this.store.write(KEY, next);
    this.state = next;
  }
}
