import { stat } from "node:fs/promises";
import { sleep } from "jami-core";
import { join } from "node:path";
import { safeFileName } from "../features/conversation-files.js";
import { openAccount, type AccountCliOptions } from "./open.js";
import { parseInteger, printLine as line, UsageError, type CliIo } from "./output.js";
import { progressPrinter } from "./progress.js";

export interface FileCliOptions extends AccountCliOptions {
  out?: string;
  name?: string;
  wait?: string;
  "reply-to"?: string;
}

const ID = /^[0-9a-f]{40}$/;

/**
 * `jami file send CONVERSATION_ID PATH`: the file message, announced; the account stays online `--wait` seconds to
 * serve it (members ask its bytes later, from any device of ours that is online).
 * `jami file get CONVERSATION_ID MESSAGE_ID --out PATH|DIR`: downloads (resumes) and verifies; progress as JSON lines.
 */
export async function fileCommand(sub: string | undefined, args: string[], options: FileCliOptions, io: CliIo): Promise<void> {
  const [conversationId, second] = args;
  switch (sub) {
    case "send": {
      const usage = "jami file send CONVERSATION_ID PATH --dir D --bootstrap HOST:PORT [--name DISPLAY_NAME] [--reply-to COMMIT] [--wait S]";
      if (!conversationId || !ID.test(conversationId) || !second) throw new UsageError(`usage: ${usage}`);
      const waitMs = parseInteger(options.wait, "wait", 0) * 1000;
      const account = await openAccount(options);
      await account.start();
      try {
        const file = await account.conversations.sendFile(conversationId, second, {
          ...(options.name ? { displayName: options.name } : {}),
          ...(options["reply-to"] ? { replyTo: options["reply-to"] } : {}),
        });
        await account.conversations.settled();
        line(io, { conversationId, id: file.messageId, fileId: file.fileId, ...file.body });
        account.conversations.on(
          "progress",
          progressPrinter(io, "upload", () => file.body.displayName),
        );
        // serving meanwhile; Ctrl-C (the io signal) ends the wait early
        if (waitMs) await sleep(waitMs, io.signal ? { signal: io.signal } : {}).catch(() => undefined);
      } finally {
        await account.stop();
      }
      return;
    }
    case "get": {
      const usage = "jami file get CONVERSATION_ID MESSAGE_ID --out PATH|DIR --dir D --bootstrap HOST:PORT";
      if (!conversationId || !ID.test(conversationId) || !second || !ID.test(second) || !options.out) throw new UsageError(`usage: ${usage}`);
      const account = await openAccount(options);
      await account.start();
      try {
        // into a folder: under the sender's display name, made safe (it cannot point outside the folder)
        const isDir = (await stat(options.out).catch(() => undefined))?.isDirectory() ?? false;
        const message = (await account.conversations.loadMessages(conversationId)).find((m) => m.id === second);
        const displayName = message?.body.type === "application/data-transfer+json" ? message.body.displayName : "file";
        const target = isDir ? join(options.out, safeFileName(displayName)) : options.out;
        account.conversations.on(
          "progress",
          progressPrinter(io, "download", () => safeFileName(displayName)),
        );
        const path = await account.conversations.download(conversationId, second, target, { signal: io.signal });
        line(io, { conversationId, id: second, path, verified: true });
      } finally {
        await account.stop();
      }
      return;
    }
    default:
      throw new UsageError(`unknown file command "${sub ?? ""}"; try jami --help`);
  }
}
