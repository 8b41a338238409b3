import * as fs from "node:fs";
import { resolve } from "node:path";
import { CommitRejectedError, SwarmRepository, verifyConversation, type GitFs } from "jami-swarm";
import { printJson, printLine, UsageError, type CliIo } from "./output.js";

const nodeFs = fs as unknown as GitFs;

/**
 * `jami swarm verify DIR [--lenient]`: checks a conversation repository (jamid's `conversations/<id>` or ours)
 * from its initial commit to `main` with every rule; `jami swarm log DIR`: its messages in display order.
 * Returns the exit status (verify: 1 when a commit is refused, with `{error: {code, message, commit, rule}}`).
 */
export async function swarmCommand(sub: string | undefined, args: readonly string[], options: { lenient?: boolean }, io: CliIo): Promise<number> {
  const dir = args[0];
  if (!dir) throw new UsageError(`jami swarm ${sub ?? "verify|log"} needs the repository directory`);
  const path = resolve(dir);
  switch (sub) {
    case "verify":
      try {
        printJson(io, await verifyConversation(path, { fs: nodeFs, mode: options.lenient ? "lenient" : "strict" }));
        return 0;
      } catch (error) {
        if (!(error instanceof CommitRejectedError)) throw error;
        printJson(io, { error: { code: error.code, message: error.message, commit: error.commit, rule: error.rule } });
        return 1;
      }
    case "log": {
      const repo = await SwarmRepository.open(path, { fs: nodeFs });
      for await (const message of repo.messages()) printLine(io, { ...message });
      return 0;
    }
    default:
      throw new UsageError(`unknown swarm command "${sub ?? ""}"; try jami --help`);
  }
}
