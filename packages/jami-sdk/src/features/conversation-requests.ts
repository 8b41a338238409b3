import type { AccountStore } from "../account/store.js";

/** An invitation to a conversation we are not in yet (jamid's `ConversationRequest`). */
export interface ConversationRequest {
  conversationId: string;
  /** The Jami ID that invited us (the SIP sender, checked against the link; or the trust request's sender). */
  from: string;
  /** When it arrived, Unix ms. */
  received: number;
  /** `mode` ("0" one-to-one, "2" group…), `title`, `description`… as the inviter sent them (strings). */
  metadatas: Record<string, string>;
  /** Set once declined (kept, so the same invitation sent again stays declined, as jamid). */
  declined?: number;
}

/**
 * A conversation accepted but not cloned yet (the inviter was offline), or listed by an imported archive: cloned when
 * a device of `from`, or of any account in `members`, shows up (jamid's `syncConversations` clones an imported
 * conversation from any member's device; our own account is a member of each, so our other devices qualify).
 */
export interface PendingClone {
  conversationId: string;
  from: string;
  since: number;
  members?: string[];
}

interface Stored {
  requests: ConversationRequest[];
  pendingClones: PendingClone[];
  /** Conversations we left whose directory is kept until the members fetched the leave (jamid's `removed`). */
  left?: string[];
  /** When each conversation came here and, once left, when it was removed (Unix s): jamid's `ConvInfo` times. */
  times?: Record<string, { created: number; removed?: number }>;
}

const KEY = "conversation-requests";
/** Invitations kept (oldest dropped first): anyone may send them, so the list is bounded. */
export const MAX_CONVERSATION_REQUESTS = 500;

/** The conversation requests and the clones still to do, in the account store; every change is written at once. */
export class ConversationRequestBook {
  private constructor(
    private readonly store: AccountStore,
    private state: Stored,
  ) {}

  static async open(store: AccountStore): Promise<ConversationRequestBook> {
    const stored = await store.read<Stored>(KEY);
    return new ConversationRequestBook(store, {
      requests: stored?.requests ?? [],
      pendingClones: stored?.pendingClones ?? [],
      left: stored?.left ?? [],
      times: stored?.times ?? {},
    });
  }

  /** Every request kept, declined ones included (what own devices are told). */
  all(): readonly ConversationRequest[] {
    return this.state.requests;
  }

  /** Requests not answered (declined ones are kept apart). */
  pending(): ConversationRequest[] {
    return this.state.requests.filter((r) => r.declined === undefined);
  }

  get(conversationId: string): ConversationRequest | undefined {
    return this.state.requests.find((r) => r.conversationId === conversationId);
  }

  /** Records a new request; false (nothing written) when one for that conversation is already here. */
  async add(request: ConversationRequest): Promise<boolean> {
    if (this.get(request.conversationId)) return false;
    const requests = [...this.state.requests, request].slice(-MAX_CONVERSATION_REQUESTS);
    await this.save({ ...this.state, requests });
    return true;
  }

  async decline(conversationId: string, now: number): Promise<void> {
    await this.save({ ...this.state, requests: this.state.requests.map((r) => (r.conversationId === conversationId ? { ...r, declined: now } : r)) });
  }

  async remove(conversationId: string): Promise<void> {
    await this.save({ ...this.state, requests: this.state.requests.filter((r) => r.conversationId !== conversationId) });
  }

  clones(): PendingClone[] {
    return this.state.pendingClones;
  }

  async addClone(clone: PendingClone): Promise<void> {
    const others = this.state.pendingClones.filter((c) => c.conversationId !== clone.conversationId);
    await this.save({ ...this.state, pendingClones: [...others, clone] });
  }

  async removeClone(conversationId: string): Promise<void> {
    if (!this.state.pendingClones.some((c) => c.conversationId === conversationId)) return;
    await this.save({ ...this.state, pendingClones: this.state.pendingClones.filter((c) => c.conversationId !== conversationId) });
  }

  left(): readonly string[] {
    return this.state.left ?? [];
  }

  async setLeft(conversationId: string, left: boolean): Promise<void> {
    const others = this.left().filter((id) => id !== conversationId);
    await this.save({ ...this.state, left: left ? [...others, conversationId] : others });
  }

  times(conversationId: string): { created: number; removed?: number } | undefined {
    return this.state.times?.[conversationId];
  }

  async setTimes(conversationId: string, times: { created: number; removed?: number }): Promise<void> {
    await this.save({ ...this.state, times: { ...this.state.times, [conversationId]: times } });
  }

  private async save(next: Stored): Promise<void> {
    await this.store.write(KEY, next);
    this.state = next;
  }
}
