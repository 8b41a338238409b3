/**
 * Test tool: serves one conversation repository with our upload-pack server on stdin/stdout, so the system git
 * can fetch from it with `git clone "ext::node --import tsx git-bridge.ts <dir> %G/<conversation>"`.
 */
import { Duplex } from "node:stream";
import * as fs from "node:fs";
import { SwarmRepository, serveUploadPack, type GitFs } from "../src/index.js";

const dir = process.argv[2]!;
const stream = Duplex.from({ readable: process.stdin, writable: process.stdout });
SwarmRepository.open(dir, { fs: fs as unknown as GitFs })
  .then((repo) => serveUploadPack(stream, async (id) => (id === repo.conversationId ? repo : undefined)))
  .catch((error: unknown) => {
    process.stderr.write(`bridge: ${(error as Error).message}\n`);
    process.exitCode = 1;
  });
