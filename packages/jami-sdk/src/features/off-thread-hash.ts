import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";

/** A running hash of what a download wrote so far; `update` resolves later when too much waits to be hashed. */
export interface RunningHash {
  update(chunk: Uint8Array): void | Promise<void>;
  digest(): Promise<string>;
  /** Drops the state (a download that starts over from the file). */
  dispose(): void;
}

/**
 * The worker: one hash state per id, made at `open` and fed in order (messages from one port arrive in order), each
 * update acknowledged with its size so the sender can bound what is in flight. Inline so a bundle needs no separate
 * file.
 */
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const states = new Map();
parentPort.on("message", (m) => {
  if (m.op === "open") states.set(m.id, createHash(m.algorithm));
  else if (m.op === "update") {
    states.get(m.id).update(m.bytes);
    // the block goes back to be filled again
    parentPort.postMessage({ id: m.id, hashed: m.bytes.byteLength, block: m.bytes.buffer }, [m.bytes.buffer]);
  } else if (m.op === "digest") {
    const state = states.get(m.id);
    states.delete(m.id);
    parentPort.postMessage({ id: m.id, digest: state.digest("hex") });
  } else if (m.op === "drop") states.delete(m.id);
});
`;

/** Bytes posted to the worker and not hashed yet, per hash, before `update` makes its caller wait. */
const MAX_IN_FLIGHT = 8 << 20;
/**
 * Chunks travel in blocks of this size that come back to be filled again: a new buffer per chunk, moved to the
 * worker and dropped there, was only freed when the worker's heap was next collected (+87 MB over 200 MB).
 */
const BLOCK_BYTES = 64 << 10;
const MAX_SPARE_BLOCKS = (2 * MAX_IN_FLIGHT) / BLOCK_BYTES;

interface Pending {
  inFlight: number;
  drained?: () => void;
  digested?: { resolve: (hex: string) => void; reject: (e: Error) => void };
}

/**
 * One worker thread for every large download's hash, started on first use and ended when no hash is left: SHA3-512
 * of a download on the main thread was a third of its CPU, and with it the receiving side fell behind jamid's sending
 * (200 MB: 52 MB/s without hashing, 36 with it on the main thread).
 */
class HashThread {
  private worker?: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly spareBlocks: ArrayBuffer[] = [];

  open(algorithm: string): number {
    const id = this.nextId++;
    this.pending.set(id, { inFlight: 0 });
    this.start().postMessage({ op: "open", id, algorithm });
    return id;
  }

  update(id: number, chunk: Uint8Array): void | Promise<void> {
    const state = this.pending.get(id);
    if (!state || !this.worker) throw new Error("hash already finished");
    // copied into blocks moved to the worker: the chunk's memory stays the caller's
    for (let at = 0; at < chunk.byteLength; at += BLOCK_BYTES) {
      const part = chunk.subarray(at, at + BLOCK_BYTES);
      const bytes = new Uint8Array(this.spareBlocks.pop() ?? new ArrayBuffer(BLOCK_BYTES), 0, part.byteLength);
      bytes.set(part);
      state.inFlight += part.byteLength;
      this.worker.postMessage({ op: "update", id, bytes }, [bytes.buffer]);
    }
    if (state.inFlight > MAX_IN_FLIGHT) return new Promise((resolve) => (state.drained = resolve));
  }

  digest(id: number): Promise<string> {
    const state = this.pending.get(id);
    if (!state || !this.worker) return Promise.reject(new Error("hash already finished"));
    return new Promise((resolve, reject) => {
      state.digested = { resolve, reject };
      this.worker!.postMessage({ op: "digest", id });
    });
  }

  drop(id: number): void {
    if (!this.pending.delete(id)) return;
    this.worker?.postMessage({ op: "drop", id });
    this.stopIfIdle();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref(); // a download in progress keeps the process alive by its link, not by this thread
    worker.on("message", (m: { id: number; hashed?: number; digest?: string; block?: ArrayBuffer }) => {
      if (m.block && this.spareBlocks.length < MAX_SPARE_BLOCKS) this.spareBlocks.push(m.block);
      const state = this.pending.get(m.id);
      if (!state) return;
      if (m.hashed !== undefined) {
        state.inFlight -= m.hashed;
        if (state.drained && state.inFlight <= MAX_IN_FLIGHT / 2) {
          state.drained();
          state.drained = undefined;
        }
      } else if (m.digest !== undefined) {
        this.pending.delete(m.id);
        state.digested?.resolve(m.digest);
        this.stopIfIdle();
      }
    });
    worker.on("error", (error) => this.fail(worker, error));
    worker.on("exit", (code) => this.fail(worker, new Error(`the hashing thread ended (${code})`)));
    this.worker = worker;
    return worker;
  }

  private fail(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    for (const state of this.pending.values()) {
      state.drained?.();
      state.digested?.reject(error);
    }
    this.pending.clear();
  }

  private stopIfIdle(): void {
    if (this.pending.size > 0 || !this.worker) return;
    const worker = this.worker;
    this.worker = undefined;
    this.spareBlocks.length = 0;
    void worker.terminate();
  }
}

const thread = new HashThread();

/** A hash computed on the shared hashing thread (for large files: a small one is not worth the messages). */
export function offThreadHash(algorithm: string): RunningHash {
  const id = thread.open(algorithm);
  return {
    update: (chunk) => thread.update(id, chunk),
    digest: () => thread.digest(id),
    dispose: () => thread.drop(id),
  };
}

/** The same interface on this thread. */
export function inThreadHash(algorithm: string): RunningHash {
  const hash = createHash(algorithm);
  return {
    update: (chunk) => void hash.update(chunk),
    digest: async () => hash.digest("hex"),
    dispose: () => undefined,
  };
}
