import { randomBytes } from "node:crypto";
import type { AbortOptions } from "jami-core";

/** What a conversations feature answers when contacts need the one-to-one conversation of a contact. */
export type OneToOneResolver = (jamiId: string, options?: AbortOptions) => Promise<string>;

/**
 * The slot between contacts and conversations (features never import each other): a trust request names the
 * one-to-one conversation with the contact. The conversations feature, when composed, provides the resolver (it
 * creates the repository); without it the id is random and names no repository (an account without swarms).
 */
export class OneToOneSlot {
  private resolver?: OneToOneResolver;

  provide(resolver: OneToOneResolver): void {
    this.resolver = resolver;
  }

  conversationFor(jamiId: string, options?: AbortOptions): Promise<string> {
    return this.resolver ? this.resolver(jamiId, options) : Promise.resolve(randomBytes(20).toString("hex"));
  }
}
