import type { Account, ConversationEvents, Conversations } from "jami-sdk";

/** An account with conversations: `Account.create({ ..., features: { conversations: conversations() } })`. */
export type ChatAccount = Account & { conversations: Conversations };

/**
 * The echo bot: accepts every trust request and every conversation invitation, and answers each text message
 * of someone else with "echo: <text>" as a reply to it. Returns the function that stops it listening.
 */
export function echoBot(account: ChatAccount, log: (line: Record<string, unknown>) => void = () => {}): () => void {
  const chats = account.conversations;
  const onTrustRequest = (r: { from: string; confirm: boolean }): void => {
    if (r.confirm) return; // the answer to a request of ours
    log({ event: "accepting contact", from: r.from });
    account.contacts.accept(r.from).catch((e: Error) => log({ event: "error", message: e.message }));
  };
  const onInvitation = (r: { conversationId: string; from: string }): void => {
    log({ event: "accepting invitation", conversationId: r.conversationId, from: r.from });
    chats.accept(r.conversationId).catch((e: Error) => log({ event: "error", message: e.message }));
  };
  const onMessage = ({ conversationId, message }: ConversationEvents["message"][0]): void => {
    const body = message.body;
    // only others' plain texts: not our own, not reactions or edits
    if (message.author === account.jamiId || body.type !== "text/plain" || body.reactTo || body.edit) return;
    log({ event: "echoing", conversationId, from: message.author, text: body.body });
    chats.send(conversationId, `echo: ${body.body}`, { replyTo: message.id }).catch((e: Error) => log({ event: "error", message: e.message }));
  };
  account.contacts.on("request", onTrustRequest);
  chats.on("request", onInvitation);
  chats.on("message", onMessage);
  return () => {
    account.contacts.off("request", onTrustRequest);
    chats.off("request", onInvitation);
    chats.off("message", onMessage);
  };
}
