import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { benchDht } from "./dht.js";
import { benchIdentity } from "./identity.js";

/** `npm run bench`: every benchmark, printed and saved to bench/results/. */
async function main() {
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: (await import("node:os")).cpus().length, node: process.version },
    identity: await benchIdentity(),
    dht: await benchDht(),
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
