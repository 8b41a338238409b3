import { readFile } from "node:fs/promises";
import type { ConversationMode } from "jami-swarm";
import type { DeliveryStatus } from "../features/conversation-receipts.js";
import { openAccount, type AccountCliOptions, type CliAccount } from "./open.js";
import { parseInteger, printLine as line, UsageError, type CliIo } from "./output.js";

export interface ConversationCliOptions extends AccountCliOptions {
  title?: string;
  description?: string;
  avatar?: string;
  mode?: string;
  n?: string;
  "reply-to"?: string;
  wait?: string;
}

const CONVERSATION_ID = /^[0-9a-f]{40}$/;

function needId(value: string | undefined, usage: string, pattern = CONVERSATION_ID): string {
  if (!value || !pattern.test(value)) throw new UsageError(`usage: ${usage}`);
  return value;
}

/** Runs `work` with the account online, then waits for the announcements to go out before stopping. */
async function online<T>(options: AccountCliOptions, work: (account: CliAccount) => Promise<T>): Promise<T> {
  const account = await openAccount(options);
  await account.start();
  try {
    const result = await work(account);
    await account.conversations.settled();
    return result;
  } finally {
    await account.stop();
  }
}

/** `jami conversation list|create|invite|accept|decline|leave|profile|set-profile|messages`: one JSON document (messages: JSON lines). */
export async function conversationCommand(sub: string | undefined, args: string[], options: ConversationCliOptions, io: CliIo): Promise<void> {
  const [first, second] = args;
  switch (sub) {
    case "list": {
      const account = await openAccount(options);
      const conversations = await Promise.all(
        account.conversations.list().map(async (id) => {
          const repo = account.conversations.get(id)!;
          return { id, mode: await repo.mode(), head: await repo.head(), members: await repo.members() };
        }),
      );
      return line(io, { conversations, requests: account.conversations.requests() });
    }
    case "create": {
      const mode = parseInteger(options.mode, "mode", 2);
      if (mode < 1 || mode > 3) throw new UsageError("--mode is 1, 2 or 3 (a one-to-one comes with `jami contact add`)");
      // a title is a profile commit, which jamid refuses as a device's first: the group goes online for it
      const account = await openAccount(options);
      const repo = await account.conversations.create({ mode: mode as ConversationMode, ...(options.title ? { profile: { title: options.title } } : {}) });
      return line(io, { conversationId: repo.conversationId, mode, head: await repo.head() });
    }
    case "invite": {
      const id = needId(first, "jami conversation invite CONVERSATION_ID JAMI_ID --dir D --bootstrap HOST:PORT");
      const peer = needId(second, "jami conversation invite CONVERSATION_ID JAMI_ID --dir D --bootstrap HOST:PORT");
      return line(io, { conversationId: id, invited: peer, ...(await online(options, (a) => a.conversations.invite(id, peer))) });
    }
    case "accept": {
      const id = needId(first, "jami conversation accept CONVERSATION_ID --dir D --bootstrap HOST:PORT");
      const head = await online(options, async (a) => (await a.conversations.accept(id)).head());
      return line(io, { conversationId: id, joined: true, head });
    }
    case "decline": {
      const id = needId(first, "jami conversation decline CONVERSATION_ID --dir D");
      await (await openAccount(options)).conversations.decline(id);
      return line(io, { conversationId: id, declined: true });
    }
    case "leave": {
      const id = needId(first, "jami conversation leave CONVERSATION_ID --dir D --bootstrap HOST:PORT");
      await online(options, (a) => a.conversations.leave(id));
      return line(io, { conversationId: id, left: true });
    }
    case "profile": {
      const id = needId(first, "jami conversation profile CONVERSATION_ID --dir D");
      const account = await openAccount(options);
      return line(io, { conversationId: id, ...(await account.conversations.profile(id)) });
    }
    case "set-profile": {
      const usage = "jami conversation set-profile CONVERSATION_ID --dir D --bootstrap HOST:PORT [--title T] [--description D] [--avatar FILE]";
      const id = needId(first, usage);
      if (options.title === undefined && options.description === undefined && options.avatar === undefined) throw new UsageError(`usage: ${usage}`);
      const update = {
        ...(options.title !== undefined ? { title: options.title } : {}),
        ...(options.description !== undefined ? { description: options.description } : {}),
        ...(options.avatar !== undefined ? { avatar: (await readFile(options.avatar)).toString("base64") } : {}),
      };
      const commit = await online(options, (a) => a.conversations.updateProfile(id, update));
      return line(io, { conversationId: id, commit, ...update });
    }
    case "messages": {
      const id = needId(first, "jami conversation messages CONVERSATION_ID --dir D [--n N]");
      const account = await openAccount(options);
      const n = parseInteger(options.n, "n", 0);
      for (const m of await account.conversations.loadMessages(id, n ? { n } : {}))
        line(io, { id: m.id, author: m.author, device: m.device, timestamp: m.timestamp, body: m.body });
      return;
    }
    default:
      throw new UsageError(`unknown conversation command "${sub ?? ""}"; try jami --help`);
  }
}

/** `jami message send CONVERSATION_ID TEXT`: commits, announces to the members, prints the commit id. */
export async function messageCommand(sub: string | undefined, args: string[], options: ConversationCliOptions, io: CliIo): Promise<void> {
  if (sub !== "send") throw new UsageError(`unknown message command "${sub ?? ""}"; try jami --help`);
  const usage = "jami message send CONVERSATION_ID TEXT --dir D --bootstrap HOST:PORT [--reply-to COMMIT] [--wait S]";
  const id = needId(args[0], usage);
  const text = args[1];
  if (text === undefined) throw new UsageError(`usage: ${usage}`);
  const replyTo = options["reply-to"];
  const waitMs = parseInteger(options.wait, "wait", 30) * 1000;
  const result = await online(options, async (a) => {
    const commit = await a.conversations.send(id, text, replyTo ? { replyTo } : {});
    await a.conversations.settled();
    // the members fetch from this device: stay online until one did (or --wait passed), so the message leaves it
    return { id: commit, status: await untilDelivered(a, id, commit, waitMs) };
  });
  line(io, { conversationId: id, ...result });
}

/** The message's status once a member's device fetched it, or when `waitMs` passed. */
async function untilDelivered(account: CliAccount, conversationId: string, messageId: string, waitMs: number): Promise<DeliveryStatus> {
  const chats = account.conversations;
  return new Promise((resolve) => {
    const check = (): void =>
      void chats.status(conversationId, messageId).then((status) => {
        if (status !== "sent") done(status);
      });
    const done = (status: DeliveryStatus): void => {
      clearTimeout(timer);
      chats.off("delivered", check);
      resolve(status);
    };
    const timer = setTimeout(() => done("sent"), waitMs);
    chats.on("delivered", check);
    check();
  });
}
