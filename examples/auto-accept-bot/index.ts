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
  bot.on("trustRequest", async (r) => {
    if (r.confirm) return;
    console.log(`request from ${r.from}: accepting`);
    await bot.acceptTrustRequest(r.from);
  });
  bot.on("presence", (p) => console.log(`${p.jamiId} is ${p.online ? "online" : "offline"}`));
  await bot.start();
  console.log(`bot ${bot.jamiId} is online`);
  // --- end of the bot ---

  const accepted = new Promise<void>((resolve) => visitor!.on("contact", (c) => c.confirmed && resolve()));
  await visitor!.addContact(bot.jamiId);
  await accepted;
  await new Promise((r) => setTimeout(r, 500));
  console.log(`visitor's contacts: ${visitor!.contacts().map((c) => `${c.jamiId} confirmed=${c.confirmed}`).join(", ")}`);
  await bot.stop();
  await net.close();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
