import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

/**
 * Where an account keeps its state (contacts, known devices, later conversations' indexes): small documents
 * under a key. Injected into `Account` so an app may keep them elsewhere; JSON files by default, memory in tests.
 * Writes to one key are applied in call order and atomically (a crash leaves the old or the new document).
 */
export interface AccountStore {
  /** The document stored under `key`, or `undefined` when there is none yet. */
  read<T>(key: string): Promise<T | undefined>;
  /** Replaces the document under `key` (taken as it is at the call); resolves once it is stored. */
  write<T>(key: string, value: T): Promise<void>;
}

/** Counts temporary names across every JsonFile of the process (two may point at one path). */
let temporaryNames = 0;

/**
 * A small JSON document, replaced atomically (write + rename) on every save. Saves are serialized per file, each
 * through a temporary name of its own: two concurrent saves once shared one temporary name and the second
 * rename failed with ENOENT.
 */
export class JsonFile<T> {
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  /** The stored document, or `undefined` when the file does not exist yet. */
  async load(): Promise<T | undefined> {
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

/** The default store: `<dir>/<key>.json`, one JsonFile per key (the account directory jamid-compatible files sit beside). */
export class JsonDirectoryStore implements AccountStore {
  private readonly files = new Map<string, JsonFile<unknown>>();

  constructor(readonly dir: string) {}

  private file<T>(key: string): JsonFile<T> {
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(key)) throw new TypeError(`not a store key: ${key}`);
    let file = this.files.get(key);
    if (!file) this.files.set(key, (file = new JsonFile(join(this.dir, `${key}.json`))));
    return file as JsonFile<T>;
  }

  read<T>(key: string): Promise<T | undefined> {
    return this.file<T>(key).load();
  }

  write<T>(key: string, value: T): Promise<void> {
    return this.file<T>(key).save(value);
  }
}

/** Keeps documents in memory (copied in and out, as a file would): for tests and short-lived bots. */
export class MemoryStore implements AccountStore {
  private readonly documents = new Map<string, string>();

  async read<T>(key: string): Promise<T | undefined> {
    const text = this.documents.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  async write<T>(key: string, value: T): Promise<void> {
    this.documents.set(key, JSON.stringify(value));
  }
}
