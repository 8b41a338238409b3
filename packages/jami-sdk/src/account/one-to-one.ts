import { randomBytes } from "node:crypto";
import type { AbortOptions } from "jami-core";

/** What a conversations feature answers when contacts need the one-to-one conversation of a contact. */
export interface OneToOneProvider {
  /** The conversation with `jamiId`; `created` when it was made for this call. */
  conversationFor(jamiId: string, options?: AbortOptions): Promise<{ conversationId: string; created: boolean }>;
  /** Removes a conversation made for a trust request that could not be sent (nothing else wrote to it). */
  discard(conversationId: string): Promise<void>;
}

/**
 * The slot between contacts and conversations (features never import each other): a trust request names the
 * one-to-one conversation with the contact. The conversations feature, when composed, provides the resolver (it
 * creates the repository); without it the id is random and names no repository (an account without swarms).
 */
export class OneToOneSlot {
  private provider?: OneToOneProvider;

  provide(provider: OneToOneProvider): void {
    this.provider = provider;
  }

  conversationFor(jamiId: string, options?: AbortOptions): Promise<{ conversationId: string; created: boolean }> {
    return this.provider
      ? this.provider.conversationFor(jamiId, options)
      : Promise.resolve({ conversationId: randomBytes(20).toString("hex"), created: false });
  }

  async discard(conversationId: string): Promise<void> {
    await this.provider?.discard(conversationId);
  }
}
