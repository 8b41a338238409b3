/** What a conversations feature answers about who is in a conversation (for features that serve its members). */
export interface MembershipProvider {
  /** The role of `jamiId` in `conversationId` (`admin`, `member`, `invited`, `banned`, `left`), if any. */
  roleOf(conversationId: string, jamiId: string): Promise<string | undefined>;
  /** The Jami IDs of its admins and members. */
  members(conversationId: string): Promise<string[]>;
  /** 0 for a one-to-one, 1–3 for groups; undefined for a conversation not here. */
  mode(conversationId: string): Promise<number | undefined>;
}

/**
 * The slot between conversations and the features that serve conversation members (profiles): provided by the
 * conversations feature when composed; without it nobody is a member of anything.
 */
export class MembershipSlot implements MembershipProvider {
  private provider?: MembershipProvider;

  provide(provider: MembershipProvider): void {
    this.provider = provider;
  }

  async roleOf(conversationId: string, jamiId: string): Promise<string | undefined> {
    return this.provider?.roleOf(conversationId, jamiId).catch(() => undefined);
  }

  async members(conversationId: string): Promise<string[]> {
    return (await this.provider?.members(conversationId).catch(() => [])) ?? [];
  }

  async mode(conversationId: string): Promise<number | undefined> {
    return this.provider?.mode(conversationId).catch(() => undefined);
  }
}
