import type { JamiPayload } from "jami-sip";
import type { ConversationEvents } from "./conversation-events.js";
import { SERVED_ROLES } from "./conversation-git.js";
import type { ConversationReceipts } from "./conversation-receipts.js";
import type { ConversationRequest, ConversationRequestBook } from "./conversation-requests.js";
import { unixNow, type ConversationShelf } from "./conversation-shelf.js";
import type { ChannelPeer } from "./links.js";

const HEX40 = /^[0-9a-f]{40}$/;
const ACTIVE_ROLES: ReadonlySet<string> = new Set(["admin", "member"]);

/** What the feature lends this part. */
export interface PayloadHooks {
  books(): { requests: ConversationRequestBook; receipts: ConversationReceipts };
  /** Fetches a conversation from the device that announced a commit (one fetch at a time per conversation). */
  fetch(conversationId: string, from: ChannelPeer): Promise<unknown>;
  /** Sends our invitation to a conversation to `peer`'s account again. */
  resendInvitation(conversationId: string, peer: ChannelPeer): Promise<unknown>;
  /** A new invitation arrived: our other devices are told. */
  invited(request: ConversationRequest): void;
  /** A member's mark changed in a conversation: our other devices are told. */
  marked(conversationId: string): void;
}

/**
 * What members send us over `sip` (or jamid 13.7's DHT messages): commit notices, invitations, requests for an
 * invitation, typing and read marks. Each is checked against the sender's role in the conversation first; whoever
 * may not send it is ignored without a trace (jamid does the same).
 */
export class ConversationPayloads {
  constructor(
    private readonly shelf: ConversationShelf,
    private readonly emit: <K extends keyof ConversationEvents>(event: K, ...args: ConversationEvents[K]) => void,
    private readonly hooks: PayloadHooks,
  ) {}

  async handle(payload: JamiPayload, peer: ChannelPeer): Promise<void> {
    switch (payload.type) {
      case "git-notice": {
        const { conversationId, commit } = payload.notice;
        const repo = this.shelf.repos.get(conversationId);
        if (!repo) return; // unknown: jamid asks for an invitation, we wait for one
        if (!SERVED_ROLES.has((await repo.roleOf(peer.jamiId)) ?? "")) return;
        if (await repo.store.has(commit)) return;
        await this.hooks.fetch(conversationId, peer);
        return;
      }
      case "invitation":
        return this.onInvitation(payload.invitation, peer);
      case "invitation-request": {
        // a member asks us to send the invitation again: only to someone invited there
        const repo = this.shelf.repos.get(payload.conversationId);
        if (!repo || (await repo.roleOf(peer.jamiId)) !== "invited") return;
        await this.hooks.resendInvitation(payload.conversationId, peer);
        return;
      }
      case "composing":
      case "displayed": {
        const conversationId = payload.conversationId;
        const repo = conversationId ? this.shelf.repos.get(conversationId) : undefined;
        if (!repo || !conversationId || !ACTIVE_ROLES.has((await repo.roleOf(peer.jamiId)) ?? "")) return;
        if (payload.type === "composing") return void this.emit("composing", { conversationId, from: peer.jamiId, active: payload.active });
        if (!HEX40.test(payload.messageId) || !(await repo.store.has(payload.messageId))) return;
        if (await this.hooks.books().receipts.mark(conversationId, peer.jamiId, "displayed", payload.messageId, unixNow())) {
          this.emit("read", { conversationId, from: peer.jamiId, messageId: payload.messageId });
          this.hooks.marked(conversationId);
        }
        return;
      }
      default:
        return;
    }
  }

  /** jamid stores an invitation from anyone who can reach us over a link (banned accounts cannot). */
  private async onInvitation(invitation: { conversationId: string; metadatas: Record<string, string> }, peer: ChannelPeer): Promise<void> {
    if (this.shelf.repos.has(invitation.conversationId)) return;
    const request: ConversationRequest = {
      conversationId: invitation.conversationId,
      from: peer.jamiId,
      received: Date.now(),
      metadatas: invitation.metadatas,
    };
    if (await this.hooks.books().requests.add(request)) {
      this.emit("request", request);
      this.hooks.invited(request);
    }
  }
}
