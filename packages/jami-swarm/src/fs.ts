/**
 * The file system a repository lives on: isomorphic-git's `fs` client (Node's `fs`, memfs, LightningFS in a
 * browser). Only the promise API is used.
 */
export interface GitFs {
  promises: {
    readFile(path: string, options?: unknown): Promise<Uint8Array | string>;
    writeFile(path: string, data: Uint8Array | string, options?: unknown): Promise<void>;
    unlink(path: string): Promise<void>;
    readdir(path: string): Promise<string[]>;
    mkdir(path: string, options?: unknown): Promise<unknown>;
    rmdir(path: string): Promise<void>;
    stat(path: string): Promise<unknown>;
    lstat(path: string): Promise<unknown>;
    rename?(from: string, to: string): Promise<void>;
    readlink?(path: string): Promise<string>;
    symlink?(target: string, path: string): Promise<void>;
  };
}

export function joinPath(...parts: string[]): string {
  return parts
    .filter((p) => p.length > 0)
    .join("/")
    .replace(/\/+/g, "/");
}

export async function exists(fs: GitFs, path: string): Promise<boolean> {
  try {
    await fs.promises.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Creates `path` and any missing parents (tries the directory itself first: usually only it is missing). */
export async function mkdirp(fs: GitFs, path: string): Promise<void> {
  try {
    await fs.promises.mkdir(path);
    return;
  } catch {
    if (await exists(fs, path)) return;
  }
  const parent = path.slice(0, path.lastIndexOf("/"));
  if (parent && parent !== path) await mkdirp(fs, parent);
  try {
    await fs.promises.mkdir(path);
  } catch (error) {
    if (!(await exists(fs, path))) throw error;
  }
}
