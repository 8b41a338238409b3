import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { benchAccount } from "./account.js";
import { benchDht } from "./dht.js";
import { benchDtls } from "./dtls.js";
import { benchIdentity } from "./identity.js";
import { benchLinks } from "./links.js";
import { benchSwarm } from "./swarm.js";
import { benchConversations } from "./conversations.js";
import { benchConversationClone } from "./conversation-clone.js";
import { benchFiles } from "./files.js";

/**
 * The benches driving two jamid 13.7: an invitation between the two jamids is now and then never delivered (their
 * `conversationRequestReceived` never comes): such a run is made again, once, from a fresh harness.
 */
function onceMore<T>(run: () => Promise<T>): () => Promise<T> {
  return async () => {
    try {
      return await run();
    } catch (error) {
      console.error(`bench failed (${(error as Error).message.split("\n")[0]}): once more`);
      return run();
    }
  };
}

/** `npm run bench`: every benchmark (or `BENCH_ONLY=identity,dht,account,links,dtls,swarm,conversations,conversation-clone,files`), printed and saved to bench/results/. */
async function main() {
  const only = (process.env.BENCH_ONLY ?? "identity,dht,account,links,dtls,swarm,conversations").split(",");
  const part = <T>(name: string, run: () => Promise<T>): Promise<T | undefined> => (only.includes(name) ? run() : Promise.resolve(undefined));
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: (await import("node:os")).cpus().length, node: process.version },
    identity: await part("identity", benchIdentity),
    dht: await part("dht", benchDht),
    account: await part("account", benchAccount),
    links: await part("links", benchLinks),
    dtls: await part("dtls", benchDtls),
    swarm: await part("swarm", benchSwarm),
    conversations: await part("conversations", onceMore(benchConversations)),
    conversationClone: await part("conversation-clone", onceMore(benchConversationClone)),
    files: await part("files", onceMore(benchFiles)),
  };
  const dir = join(__dirname, "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "latest.json"), JSON.stringify(results, null, 2) + "\n");
  console.log(JSON.stringify(results, null, 2));
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
