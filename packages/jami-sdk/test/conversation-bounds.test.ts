import { MemoryStore } from "jami-sdk";
import { ConversationRequestBook, MAX_CONVERSATION_REQUESTS } from "../src/features/conversation-requests.js";

/** Anyone who can reach us may send invitations: the list kept of them is bounded, the oldest dropped first. */
describe("conversation request bound", () => {
  it(`keeps the newest ${MAX_CONVERSATION_REQUESTS} invitations, in the store too`, async () => {
    const store = new MemoryStore();
    const book = await ConversationRequestBook.open(store);
    const id = (i: number): string => i.toString(16).padStart(40, "0");
    for (let i = 0; i < MAX_CONVERSATION_REQUESTS + 20; i++) await book.add({ conversationId: id(i), from: "f".repeat(40), received: i, metadatas: {} });
    expect(book.pending()).toHaveLength(MAX_CONVERSATION_REQUESTS);
    expect(book.get(id(0))).toBeUndefined();
    expect(book.get(id(MAX_CONVERSATION_REQUESTS + 19))).toBeDefined();
    const reopened = await ConversationRequestBook.open(store);
    expect(reopened.pending()).toHaveLength(MAX_CONVERSATION_REQUESTS);
  });
});
