// The file bot. Two ways to run it:
//   npm start                                                      a demo on an embedded local DHT
//   npm start -- --dir DIR --folder F --inbox I --bootstrap HOST:PORT   the bot itself on that network (the account in
//                                                                  DIR, created if new); JSON lines, until Ctrl-C.
//                                                                  On the Jami network: --bootstrap bootstrap.jami.net:4222
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Account, conversations, createLocalNetwork } from "jami-sdk";
import { fileBot, type ChatAccount } from "./bot.js";

async function runBot(dir: string, folder: string, inbox: string, bootstrap: string[], bind?: string): Promise<void> {
  const say = (line: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(line) + "\n");
  const options = { dir, bootstrap, host: bind, features: { conversations: conversations() } };
  const bot: ChatAccount = existsSync(join(dir, "archive.gz")) ? await Account.load(options) : await Account.create({ ...options, displayName: "File bot" });
  fileBot(bot, { folder, inbox, log: say });
  await bot.start();
  say({ event: "ready", jamiId: bot.jamiId, deviceId: bot.deviceId });
  await new Promise((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
    process.stdin.once("end", resolve);
    process.stdin.resume();
  });
  await bot.conversations.settled();
  await bot.stop();
}

async function demo(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "file-bot-"));
  const folder = join(work, "served");
  const inbox = join(work, "inbox");
  await import("node:fs/promises").then((fs) => fs.mkdir(folder));
  writeFileSync(join(folder, "report.txt"), "the quarterly report\n");
  const net = await createLocalNetwork({ accounts: 2, names: ["visitor", "bot"] });
  const [visitor, bot] = net.accounts as [ChatAccount, ChatAccount];
  let kept = (_path: string): void => {};
  const keptPath = new Promise<string>((resolve) => (kept = resolve));
  fileBot(bot, { folder, inbox, log: (l) => l.event === "received" && kept(l.path as string) });
  try {
    const joined = new Promise<string>((resolve) =>
      visitor.conversations.on("member", (m) => m.action === "join" && m.jamiId === bot.jamiId && resolve(m.conversationId)),
    );
    const { conversationId } = await visitor.contacts.add(bot.jamiId);
    await joined;
    console.log("the bot accepted the visitor");
    const fileCame = new Promise<string>((resolve) =>
      visitor.conversations.on(
        "message",
        ({ message }) => message.author === bot.jamiId && message.body.type === "application/data-transfer+json" && resolve(message.id),
      ),
    );
    await visitor.conversations.send(conversationId, "!get report.txt");
    console.log("visitor: !get report.txt");
    const got = await visitor.conversations.download(conversationId, await fileCame, join(work, "visitor-report.txt"));
    console.log(`bot sent report.txt; the visitor downloaded it: ${JSON.stringify(readFileSync(got, "utf8"))}`);
    const photo = join(work, "holiday.jpg");
    writeFileSync(photo, "not really a photo");
    await visitor.conversations.sendFile(conversationId, photo);
    console.log(`visitor sent holiday.jpg; the bot kept it as ${(await keptPath).slice(inbox.length + 1)}`);
  } finally {
    await net.close();
  }
}

const { values } = parseArgs({
  options: {
    dir: { type: "string" },
    folder: { type: "string" },
    inbox: { type: "string" },
    bootstrap: { type: "string", multiple: true },
    bind: { type: "string" },
  },
});
(values.dir ? runBot(values.dir, values.folder ?? ".", values.inbox ?? "inbox", values.bootstrap ?? ["bootstrap.jami.net:4222"], values.bind) : demo()).catch(
  (error) => {
    console.error(error);
    process.exitCode = 1;
  },
);
