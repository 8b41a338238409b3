import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, open, readdir, rename, rm, rmdir } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { IdentityError } from "./errors.js";

export interface FileToWrite {
  name: string;
  data: Uint8Array | string;
  /** 0o600 for private keys and archives. */
  mode: number;
}

/** Write to a sibling temp file, fsync, rename: readers see the old file or the new one, never a torn one. */
export async function writeFileAtomic(path: string, data: Uint8Array | string, mode: number): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeSynced(temp, data, mode);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * Creates directory `dir` holding exactly `files`, all or nothing: they are
 * written into a staging directory beside it, which is then renamed into
 * place. `dir` must not exist or be empty.
 */
export async function createDirectoryAtomic(dir: string, files: readonly FileToWrite[]): Promise<void> {
  const existing = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return undefined;
    throw e;
  });
  if (existing && existing.length > 0) {
    throw new IdentityError("ACCOUNT_EXISTS", `${dir} is not empty: refusing to overwrite an account`);
  }
  await mkdir(dirname(dir), { recursive: true });
  const staging = await mkdtemp(join(dirname(dir), `.${basename(dir)}.staging-`));
  try {
    for (const file of files) await writeSynced(join(staging, file.name), file.data, file.mode);
    if (existing) await rmdir(dir);
    await rename(staging, dir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

async function writeSynced(path: string, data: Uint8Array | string, mode: number): Promise<void> {
  const handle = await open(path, "wx", mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask may have narrowed or widened nothing, but make it exact
    await handle.sync();
  } finally {
    await handle.close();
  }
}
