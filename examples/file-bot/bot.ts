import { mkdir, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { safeFileName, type Account, type ConversationEvents, type Conversations } from "jami-sdk";

/** An account with conversations: `Account.create({ ..., features: { conversations: conversations() } })`. */
export type ChatAccount = Account & { conversations: Conversations };

export interface FileBotOptions {
  /** The files it serves: `!get <name>` sends `<folder>/<name>` (a name, never a path: `../x` is just `x`). */
  folder: string;
  /** Where the files it is sent are kept, as `<first 8 of the message id>-<their name made safe>`. */
  inbox: string;
  log?: (line: Record<string, unknown>) => void;
}

/**
 * The file bot: accepts every trust request and invitation; answers `!list` with the names in its folder and
 * `!get <name>` with that file (as a reply), or says it has none; downloads (verified) every file someone sends.
 * Returns the function that stops it listening.
 */
export function fileBot(account: ChatAccount, options: FileBotOptions): () => void {
  const chats = account.conversations;
  const log = options.log ?? (() => {});
  const fail = (e: Error): void => log({ event: "error", message: e.message });

  const answer = async (conversationId: string, replyTo: string, text: string): Promise<void> => {
    const [command, ...rest] = text.trim().split(/\s+/);
    if (command === "!list") {
      const names = (await readdir(options.folder, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
      await chats.send(conversationId, names.length ? names.join("\n") : "(no files)", { replyTo });
    } else if (command === "!get" && rest.length) {
      const wanted = rest.join(" ");
      const name = safeFileName(wanted);
      const path = join(options.folder, name);
      if (name !== wanted || !(await stat(path).catch(() => undefined))?.isFile()) {
        await chats.send(conversationId, `no file named ${JSON.stringify(wanted)} (try !list)`, { replyTo });
        return;
      }
      const file = await chats.sendFile(conversationId, path, { replyTo });
      log({ event: "sent", conversationId, name, fileId: file.fileId });
    }
  };

  const keep = async (conversationId: string, messageId: string, displayName: string): Promise<void> => {
    await mkdir(options.inbox, { recursive: true });
    const path = await chats.download(conversationId, messageId, join(options.inbox, `${messageId.slice(0, 8)}-${safeFileName(displayName)}`));
    log({ event: "received", conversationId, from: messageId, path });
  };

  const onTrustRequest = (r: { from: string; confirm: boolean }): void => {
    if (!r.confirm) account.contacts.accept(r.from).catch(fail);
  };
  const onInvitation = (r: { conversationId: string }): void => void chats.accept(r.conversationId).catch(fail);
  const onMessage = ({ conversationId, message }: ConversationEvents["message"][0]): void => {
    if (message.author === account.jamiId) return;
    const body = message.body;
    if (body.type === "text/plain" && !body.reactTo && !body.edit) void answer(conversationId, message.id, body.body).catch(fail);
    else if (body.type === "application/data-transfer+json") void keep(conversationId, message.id, body.displayName).catch(fail);
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
