// The echo bot. Two ways to run it:
//   npm start                                         a demo on an embedded local DHT: a visitor adds the bot and talks to it
//   npm start -- --dir DIR --bootstrap HOST:PORT       the bot itself, on that network (the account in DIR, created if new);
//                                                      JSON lines on stdout, until Ctrl-C. On the Jami network use
//                                                      --bootstrap bootstrap.jami.net:4222
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Account, conversations, createLocalNetwork } from "jami-sdk";
import { echoBot, type ChatAccount } from "./bot.js";

async function runBot(dir: string, bootstrap: string[], bind?: string): Promise<void> {
  const say = (line: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(line) + "\n");
  const options = { dir, bootstrap, host: bind, features: { conversations: conversations() } };
  const bot: ChatAccount = existsSync(join(dir, "archive.gz")) ? await Account.load(options) : await Account.create({ ...options, displayName: "Echo bot" });
  echoBot(bot, say);
  await bot.start();
  say({ event: "ready", jamiId: bot.jamiId, deviceId: bot.deviceId });
  await new Promise((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
    process.stdin.once("end", resolve); // a parent process ending our input stops us too
    process.stdin.resume();
  });
  await bot.conversations.settled();
  await bot.stop();
}

async function demo(): Promise<void> {
  const net = await createLocalNetwork({ accounts: 2, names: ["visitor", "bot"] });
  const [visitor, bot] = net.accounts as [ChatAccount, ChatAccount];
  echoBot(bot);
  try {
    const ready = new Promise<string>((resolve) =>
      visitor.conversations.on("member", (m) => m.action === "join" && m.jamiId === bot.jamiId && resolve(m.conversationId)),
    );
    const { conversationId } = await visitor.contacts.add(bot.jamiId);
    await ready;
    console.log(`the bot accepted the visitor and joined their conversation ${conversationId.slice(0, 12)}…`);
    const answered = new Promise<string>((resolve) =>
      visitor.conversations.on("message", ({ message }) => message.author === bot.jamiId && message.body.type === "text/plain" && resolve(message.body.body)),
    );
    await visitor.conversations.send(conversationId, "hello bot");
    console.log("visitor: hello bot");
    console.log(`bot: ${await answered}`);
  } finally {
    await net.close();
  }
}

const { values } = parseArgs({ options: { dir: { type: "string" }, bootstrap: { type: "string", multiple: true }, bind: { type: "string" } } });
(values.dir ? runBot(values.dir, values.bootstrap ?? ["bootstrap.jami.net:4222"], values.bind) : demo()).catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
