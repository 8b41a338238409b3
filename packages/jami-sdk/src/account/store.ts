import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/** Counts temporary names across every JsonFile of the process (two may point at one path). */
let temporaryNames = 0;

/**
 * A small JSON document in the account directory, replaced atomically (write + rename) on every save. Saves are
 * serialized per file, each through a temporary name of its own: two concurrent saves once shared one temporary
 * name and the second rename failed with ENOENT.
 */
export class JsonFile<T> {
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly empty: () => T,
  ) {}

  async load(): Promise<T> {
    return (await this.loadIfPresent()) ?? this.empty();
  }

  /** The stored document, or `undefined` when the file does not exist yet. */
  async loadIfPresent(): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(this.path, "utf8")) as T;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  /** Writes `value` (taken as it is now); resolves once it is on disk, after any save started before it. */
  save(value: T): Promise<void> {
    const text = JSON.stringify(value, null, 2) + "\n";
    const tmp = `${this.path}.${process.pid}.${++temporaryNames}.tmp`;
    const write = async (): Promise<void> => {
      await mkdir(dirname(this.path), { recursive: true });
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, this.path);
    };
    const done = this.queue.then(write, write);
    this.queue = done.catch(() => undefined);
    return done;
  }
}
