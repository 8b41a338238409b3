import { openAccount as open, type AccountCliOptions } from "./open.js";
import { parseInteger, printLine as line, untilStopped, UsageError, type CliIo } from "./output.js";
import { collectPeriodically, DEFAULT_GC_MINUTES } from "./periodic-gc.js";

export type { AccountCliOptions };

/** `jami online`: the account on the network, its events as JSON lines, until Ctrl-C. */
export async function onlineCommand(options: AccountCliOptions, io: CliIo, signal?: AbortSignal): Promise<void> {
  const account = await open(options);
  account.presence.on("change", (p) => line(io, { event: "presence", ...p }));
  account.contacts.on("change", (c) => line(io, { event: "contact", ...c }));
  account.devices.on("change", (devices) =>
    line(io, { event: "devices", devices: devices.map(({ deviceId, shortId, name }) => ({ deviceId, shortId, name })) }),
  );
  account.devices.on("sync", (s) => line(io, { event: "sync", ...s }));
  account.contacts.on("request", (r) => {
    line(io, { event: "trustRequest", ...r });
    if (options["accept-all"] && !r.confirm) void account.contacts.accept(r.from).catch((e: Error) => line(io, { event: "warning", message: e.message }));
  });
  const chats = account.conversations;
  chats.on("message", ({ conversationId, message }) =>
    line(io, { event: "message", conversationId, id: message.id, author: message.author, timestamp: message.timestamp, body: message.body }),
  );
  chats.on("request", (r) => {
    line(io, { event: "conversationRequest", ...r });
    if (options["accept-all"]) void chats.accept(r.conversationId).catch((e: Error) => line(io, { event: "warning", message: e.message }));
  });
  chats.on("ready", (r) => line(io, { event: "conversationReady", ...r }));
  chats.on("member", (m) => line(io, { event: "member", ...m }));
  chats.on("composing", (m) => line(io, { event: "composing", ...m }));
  chats.on("read", (m) => line(io, { event: "read", ...m }));
  chats.on("delivered", (m) => line(io, { event: "delivered", ...m }));
  chats.on("error", ({ conversationId, from, error }) => line(io, { event: "conversationError", conversationId, from, error: error.message }));
  await account.start({ signal });
  line(io, { event: "online", jamiId: account.jamiId, deviceId: account.deviceId });
  const stopCollecting = collectPeriodically(parseInteger(options["gc-interval"], "gc-interval", DEFAULT_GC_MINUTES));
  const why = await untilStopped({ signal });
  stopCollecting();
  await account.stop();
  line(io, { event: "stopped", reason: why });
}

/** `jami contact add|accept|decline|remove|block|list`: one JSON document. */
export async function contactCommand(sub: string | undefined, args: string[], options: AccountCliOptions, io: CliIo): Promise<void> {
  const [peer] = args;
  const needPeer = (): string => {
    if (!peer || !/^[0-9a-f]{40}$/.test(peer)) throw new UsageError(`usage: jami contact ${sub} JAMI_ID --dir D`);
    return peer;
  };
  switch (sub) {
    case "list": {
      const account = await open(options);
      return line(io, { contacts: account.contacts.list(), trustRequests: account.contacts.requests() });
    }
    case "decline": {
      const account = await open(options);
      await account.contacts.decline(needPeer());
      return line(io, { declined: peer });
    }
    case "add":
    case "accept":
    case "remove":
    case "block": {
      const id = needPeer();
      const account = await open(options);
      // Online even for remove/block: the change is sent to the account's other devices before stopping.
      await account.start();
      try {
        const contact =
          sub === "add"
            ? await account.contacts.add(id)
            : sub === "accept"
              ? await account.contacts.accept(id)
              : await account.contacts.remove(id, { ban: sub === "block" });
        return line(io, { contact });
      } finally {
        await account.stop();
      }
    }
    default:
      throw new UsageError(`unknown contact command "${sub ?? ""}"; try jami --help`);
  }
}
