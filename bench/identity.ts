import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { certifyDevice, createAccount, createAccountKeys, PrivateKey } from "jami-identity";
import { stretchKey } from "jami-identity/internal";
import { JamidHarness } from "../test-support/jamid-harness.js";
import { summarize, timeRuns, type Summary } from "./stats.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

export interface IdentityBench {
  oursKeysAndCertificates: Summary;
  oursCreateAccountOnDisk: Summary;
  argon2StretchKey: Summary;
  jamidCreateAccount: Summary | { skipped: string };
}

/** Account creation (CA + account + device, RSA-4096): ours next to jamid's, same machine, same run. */
export async function benchIdentity(): Promise<IdentityBench> {
  const work = mkdtempSync(join(tmpdir(), "jami-bench-"));
  // the three keys in parallel, as createAccount does, without the disk
  const oursKeysAndCertificates = summarize(
    await timeRuns(RUNS, async () => {
      const [keys, deviceKey] = await Promise.all([createAccountKeys(), PrivateKey.generate()]);
      return certifyDevice(keys, deviceKey);
    }),
  );
  const oursCreateAccountOnDisk = summarize(await timeRuns(RUNS, (i) => createAccount({ dir: join(work, `a${i}`), displayName: "bench" })));
  const argon2StretchKey = summarize(await timeRuns(RUNS, () => stretchKey("password", new Uint8Array(16))));
  return { oursKeysAndCertificates, oursCreateAccountOnDisk, argon2StretchKey, jamidCreateAccount: await benchJamid() };
}

async function benchJamid(): Promise<Summary | { skipped: string }> {
  let harness: JamidHarness;
  try {
    harness = await JamidHarness.start({ netns: "jamits-bench", dhtPort: 4222 });
  } catch (error) {
    return { skipped: (error as Error).message };
  }
  try {
    await harness.startInstance("bench");
    return summarize(
      await timeRuns(RUNS, async (i) => {
        const account = await harness.createAccount("bench", { alias: `bench${i}` });
        if (account.registrationStatus !== "REGISTERED") throw new Error(`jamid account ${i}: ${account.registrationStatus}`);
      }),
    );
  } finally {
    await harness.stop();
  }
}
