import type { AccountStore } from "../account/store.js";

/** Where a message of ours stands with the other members. */
export type DeliveryStatus = "sent" | "delivered" | "displayed";

/** Per conversation, per member account: the newest head a device of it fetched from us, and the last message it displayed. */
interface Marks {
  fetched?: string;
  displayed?: string;
}

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

  /** Records a mark; false when it is not news (the same commit again). */
  async mark(conversationId: string, member: string, kind: keyof Marks, commit: string): Promise<boolean> {
    const current = this.state[conversationId]?.[member];
    if (current?.[kind] === commit) return false;
    const next: Stored = { ...this.state, [conversationId]: { ...this.state[conversationId], [member]: { ...current, [kind]: commit } } };
    await this.store.write(KEY, next);
    this.state = next;
    return true;
  }

  async forget(conversationId: string): Promise<void> {
    if (!(conversationId in this.state)) return;
    const next = { ...this.state };
    delete next[conversationId];
    await this.store.write(KEY, next);
    this.state = next;
  }
}
