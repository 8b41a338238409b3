import type { ConversationMode, ConversationProfile, SwarmMessage } from "jami-swarm";
import type { FileProgress } from "./conversation-files.js";
import type { ConversationRequest } from "./conversation-requests.js";

export interface ConversationEvents {
  /** New commits of a conversation after a fetch, oldest first (jamid's `messageReceived`, one per commit). */
  message: [{ conversationId: string; message: SwarmMessage }];
  /** An invitation to a group (jamid's `conversationRequestReceived`); one-to-ones come as contact requests. */
  request: [ConversationRequest];
  /** A conversation is here and joined: cloned after an accept (jamid's `conversationReady`). */
  ready: [{ conversationId: string }];
  /** A member commit (add, join, remove, ban…) arrived or was made here (jamid's `conversationMemberEvent`). */
  member: [{ conversationId: string; jamiId: string; action: string }];
  /** A member is typing, or stopped (`active` false). */
  composing: [{ conversationId: string; from: string; active: boolean }];
  /** A member displayed messages up to `messageId` (an IMDN), or another device of this account did (`from` is this account). */
  read: [{ conversationId: string; from: string; messageId: string }];
  /** A member's device fetched our history up to `head`: every message of ours in it is delivered to that member. */
  delivered: [{ conversationId: string; from: string; head: string }];
  /** The conversation's profile changed (a fetch brought an update, or we wrote one): jamid's `conversationProfileUpdated`. */
  profile: [{ conversationId: string; profile: ConversationProfile & { mode: ConversationMode } }];
  /** A fetch refused by validation: which commit, which rule; nothing was stored. */
  error: [{ conversationId: string; from: string; error: Error }];
  /** Bytes of a file being downloaded here (a resumed download counts what was already on disk). */
  progress: [FileProgress];
  /** A file is here whole and verified (after `download`, or a later retry of one that could not finish). */
  file: [{ conversationId: string; messageId: string; fileId: string; path: string }];
}
