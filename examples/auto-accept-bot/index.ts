// A bot that accepts every trust request and logs presence. Here it runs on an embedded local DHT with one
// visitor; on the real network give Account.create a bootstrap node instead (e.g. bootstrap.jami.net:4222).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Account, createLocalNetwork } from "jami-sdk";

async function main(): Promise<void> {
  const net = await createLocalNetwork({ accounts: 1, names: ["visitor"] });
  const [visitor] = net.accounts;

  // --- the bot ---
  const bot = await Account.create({ dir: join(mkdtempSync(join(tmpdir(), "bot-")), "bot"), bootstrap: net.bootstrap });
  bot.contacts.on("request", async (r) => {
    if (r.confirm) return;
    console.log(`request from ${r.from}: accepting`);
    await bot.contacts.accept(r.from);
  });
  bot.presence.on("change", (p) => console.log(`${p.jamiId} is ${p.online ? "online" : "offline"}`));
  await bot.start();
  console.log(`bot ${bot.jamiId} is online`);
  // --- end of the bot ---

  const accepted = new Promise<void>((resolve) => visitor!.contacts.on("change", (c) => c.confirmed && resolve()));
  await visitor!.contacts.add(bot.jamiId);
  await accepted;
  console.log(
    `visitor's contacts: ${visitor!.contacts
      .list()
      .map((c) => `${c.jamiId} confirmed=${c.confirmed}`)
      .join(", ")}`,
  );
  await bot.stop();
  await net.close();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
