import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { lstat, mkdir, readlink, rm, stat, symlink, unlink } from "node:fs/promises";
import { basename, dirname, extname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import type { AbortOptions } from "jami-core";
import type { Channel } from "jami-dtls";
import type { FileBody } from "jami-swarm";
import type { AccountComponents } from "../account/components.js";
import { AccountError } from "../errors.js";
import type { ConversationShelf } from "./conversation-shelf.js";
import type { ChannelPeer } from "./links.js";
import { inThreadHash, offThreadHash, type RunningHash } from "./off-thread-hash.js";

/** `data-transfer://<conversation>/<the requester's device>/<fileId>[?start=&end=]` (spec jami-swarm.md §6.2). */
export const FILE_CHANNEL = /^data-transfer:\/\/([0-9a-f]{40})\/([0-9a-f]{64})\/([0-9a-f]{40}_[0-9]{1,20}(?:\.[^/?]{1,64})?)(?:\?(.*))?$/;
/** jamid writes a file in chunks of at most this many bytes. */
const CHUNK = 65535;
/** Bytes of a download buffered for the disk at most. */
const WRITE_BUFFER = 1 << 20;
const SERVING_ROLES: ReadonlySet<string> = new Set(["admin", "member"]);

type Components = Pick<AccountComponents, "identity" | "links" | "lifetime" | "logger" | "store">;

/** A download not finished yet: tried again when a member device shows up (jamid's `waiting` entries). */
interface WaitingDownload {
  conversationId: string;
  messageId: string;
  fileId: string;
  target: string;
}
const WAITING_KEY = "file-downloads";
/** Unfinished downloads remembered (the oldest forgotten first). */
export const MAX_WAITING_DOWNLOADS = 1000;
/** Served files whose hash check is remembered (the oldest forgotten first: it is then computed again). */
const MAX_VERIFIED_FILES = 1000;

/** A file message and where its bytes are. */
export interface FileMessage {
  conversationId: string;
  messageId: string;
  /** `<messageId>_<tid>[.<extension>]`: jamid's name for the file, the last part of the channel name. */
  fileId: string;
  /** The account that sent it. */
  author: string;
  body: FileBody;
}

export interface FileProgress {
  conversationId: string;
  fileId: string;
  /** `download`: bytes coming here; `upload`: bytes we serve to a member's device (`peer`). */
  direction: "download" | "upload";
  /** Download: bytes on disk (a resumed download starts from what was there). Upload: the file offset reached. */
  bytes: number;
  total: number;
  /** Bytes per second moved by this transfer since it began (what was on disk before is not counted). */
  rate: number;
  /** Upload: the device asking. */
  peer?: string;
}

/** Counts the bytes going through, reporting each chunk with the transfer's average rate. */
function metered(start: number, report: (bytes: number, rate: number) => void, now: () => number = Date.now) {
  return async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    const began = now();
    let bytes = start;
    for await (const chunk of source) {
      bytes += chunk.length;
      yield chunk;
      report(bytes, Math.round(((bytes - start) * 1000) / Math.max(1, now() - began)));
    }
  };
}

/** The file id jamid derives from a file message: `<commit>_<tid>` and the display name's extension. */
export function fileIdOf(messageId: string, body: Pick<FileBody, "tid" | "displayName">): string {
  const ext = extname(body.displayName);
  return `${messageId}_${body.tid}${/^\.[A-Za-z0-9_-]{1,16}$/.test(ext) ? ext : ""}`;
}

/**
 * A name to store a received file under, from the sender's display name: its last path component with separators and
 * control characters replaced, never empty, `.` or `..` (a display name like `../../x` cannot leave the folder).
 */
export function safeFileName(displayName: string): string {
  const name = [...displayName]
    .filter((ch) => ch.charCodeAt(0) >= 0x20 && ch.charCodeAt(0) !== 0x7f) // control characters out
    .join("")
    .split(/[\\/]/)
    .filter(Boolean)
    .pop()
    ?.slice(0, 255);
  return !name || name === "." || name === ".." ? "file" : name;
}

/** Files from this size on are hashed on the hashing thread while they download. */
const OFF_THREAD_HASH_BYTES = 1 << 20;

/** A SHA3-512 state fed with the first `bytes` bytes of `path` (none when `bytes` is 0). */
async function sha3Prefix(path: string, bytes: number, totalSize: number, options: AbortOptions): Promise<RunningHash> {
  const hash = totalSize >= OFF_THREAD_HASH_BYTES ? offThreadHash("sha3-512") : inThreadHash("sha3-512");
  try {
    if (bytes > 0) for await (const chunk of createReadStream(path, { start: 0, end: bytes - 1, signal: options.signal })) await hash.update(chunk as Buffer);
  } catch (error) {
    hash.dispose();
    throw error;
  }
  return hash;
}

/** SHA3-512 of a file, streamed (lowercase hex, as jamid's `sha3sum`). */
export async function sha3File(path: string, options: AbortOptions = {}): Promise<string> {
  const hash = createHash("sha3-512");
  await pipeline(createReadStream(path), hash, { signal: options.signal });
  return hash.digest("hex");
}

/**
 * Files in conversations as jamid 13.7 moves them: a `data-transfer` commit names the file (SHA3-512, size, tid);
 * its bytes come on a `data-transfer://` channel from any member device that holds the complete file. Files we
 * sent or fetched live in `<account>/conversation_data/<conversation>/<fileId>` (jamid's layout; what we send is a
 * symbolic link to the original, as jamid does), and are served from there to member devices only.
 */
export class ConversationFiles {
  private readonly log;
  /** Downloads under way, by file id: one at a time each (jamid refuses a second transfer of a file in progress). */
  private readonly downloading = new Map<string, Promise<string>>();
  private waiting = new Map<string, WaitingDownload>();
  /** Files whose SHA3-512 was checked, by path: the size, mtime and inode they had then. */
  private readonly verified = new Map<string, string>();

  constructor(
    private readonly c: Components,
    private readonly shelf: ConversationShelf,
    private readonly progress: (p: FileProgress) => void,
    private readonly done: (file: { conversationId: string; messageId: string; fileId: string; path: string }) => void,
  ) {
    this.log = c.logger("files");
  }

  /** The unfinished downloads of an earlier run. */
  async load(): Promise<void> {
    const stored = (await this.c.store.read<WaitingDownload[]>(WAITING_KEY)) ?? [];
    this.waiting = new Map(stored.slice(-MAX_WAITING_DOWNLOADS).map((w) => [w.fileId, w]));
  }

  private async saveWaiting(): Promise<void> {
    while (this.waiting.size > MAX_WAITING_DOWNLOADS) this.waiting.delete(this.waiting.keys().next().value!);
    await this.c.store.write(WAITING_KEY, [...this.waiting.values()]);
  }

  /** Downloads not finished yet (tried again whenever a member device of their conversation shows up). */
  pending(): WaitingDownload[] {
    return [...this.waiting.values()];
  }

  /**
   * A member device is reachable (a `sip` channel came up): the unfinished downloads of the conversations it is a
   * member of are tried again (jamid retries its waiting entries at every sync).
   */
  async retry(peer: ChannelPeer): Promise<void> {
    for (const w of [...this.waiting.values()]) {
      const repo = this.shelf.repos.get(w.conversationId);
      if (!repo) continue;
      if (!SERVING_ROLES.has((await repo.roleOf(peer.jamiId).catch(() => undefined)) ?? "")) continue;
      await this.download(w.conversationId, w.messageId, w.target, { signal: this.c.lifetime }).catch((e: Error) =>
        this.log("download of %s again: %s", w.fileId, e.message),
      );
    }
  }

  private dataDir(conversationId: string): string {
    return join(this.c.identity.dir, "conversation_data", conversationId);
  }

  /** The conversation's repository, if this account is an admin or member of it (`NOT_MEMBER` otherwise: left, removed, banned). */
  private async memberRepo(conversationId: string) {
    const repo = this.shelf.require(conversationId);
    const role = await repo.roleOf(this.c.identity.jamiId.toString()).catch(() => undefined);
    if (!SERVING_ROLES.has(role ?? "")) throw new AccountError("NOT_MEMBER", `this account is not a member of ${conversationId} (${role ?? "no role"})`);
    return repo;
  }

  /** Commits a file message for `path` (hashed as a stream) and keeps a link to it, to serve it. */
  async send(conversationId: string, path: string, options: { displayName?: string; replyTo?: string } & AbortOptions = {}): Promise<FileMessage> {
    const repo = await this.memberRepo(conversationId);
    const source = resolve(path);
    const info = await stat(source).catch(() => undefined);
    if (!info?.isFile()) throw new AccountError("INVALID_ARGUMENT", `${path} is not a file`);
    const sha3sum = await sha3File(source, options);
    const tid = randomBytes(8).readBigUInt64BE().toString();
    const displayName = options.displayName ?? basename(source);
    const messageId = await repo.sendFile({ displayName, sha3sum, totalSize: info.size, tid, ...(options.replyTo ? { replyTo: options.replyTo } : {}) });
    const body: FileBody = { type: "application/data-transfer+json", displayName, sha3sum, tid, totalSize: info.size };
    const fileId = fileIdOf(messageId, body);
    await mkdir(this.dataDir(conversationId), { recursive: true });
    await symlink(source, join(this.dataDir(conversationId), fileId));
    return { conversationId, messageId, fileId, author: this.c.identity.jamiId.toString(), body };
  }

  /** The file message `messageId` of a conversation here (a `NOT_A_FILE` error when it is something else). */
  async message(conversationId: string, messageId: string): Promise<FileMessage> {
    const repo = this.shelf.require(conversationId);
    const commit = /^[0-9a-f]{40}$/.test(messageId) ? await repo.readCommit(messageId).catch(() => undefined) : undefined;
    const message = commit ? await repo.toMessage(messageId, commit) : undefined;
    if (message?.body.type !== "application/data-transfer+json")
      throw new AccountError("NOT_A_FILE", `${messageId} is not a file message of ${conversationId}`);
    return { conversationId, messageId, fileId: fileIdOf(messageId, message.body), author: message.author, body: message.body };
  }

  /** Whether to accept a `data-transfer://` channel: a member's device asking a complete file we hold. */
  async mayServe(name: string, peer: ChannelPeer): Promise<boolean> {
    const m = FILE_CHANNEL.exec(name);
    if (!m || m[2] === this.c.identity.deviceId.toString() || m[2] !== peer.deviceId) return false;
    const [, conversationId, , fileId] = m as unknown as [string, string, string, string];
    const repo = this.shelf.repos.get(conversationId);
    if (!repo || !SERVING_ROLES.has((await repo.roleOf(peer.jamiId)) ?? "")) {
      this.log("%s refused to %s: NOT_MEMBER of %s", fileId, peer.deviceId.slice(0, 8), conversationId);
      return false;
    }
    const file = await this.message(conversationId, fileId.slice(0, 40)).catch(() => undefined);
    if (!file || file.fileId !== fileId) return false;
    const path = join(this.dataDir(conversationId), fileId);
    const held = await stat(path).catch(() => undefined);
    if (!held?.isFile()) {
      // a link whose original is gone: dropped, as jamid does
      if (await lstat(path).catch(() => undefined)) await unlink(path).catch(() => undefined);
      return false;
    }
    // only complete files whose bytes still are what the commit says (hashed again only when the file changed:
    // jamid asks the same file repeatedly, and a large one takes seconds to hash)
    if (held.size !== file.body.totalSize) return false;
    const stamp = `${held.size}:${held.mtimeMs}:${held.ino}`;
    if (this.verified.get(path) === stamp) return true;
    const ok = (await sha3File(path)) === file.body.sha3sum;
    if (ok) this.verified.set(path, stamp);
    else this.verified.delete(path);
    while (this.verified.size > MAX_VERIFIED_FILES) this.verified.delete(this.verified.keys().next().value!);
    return ok;
  }

  /** Writes the asked range of the file on the channel, then ends it (no header, no trailer: jamid's framing). */
  async serve(channel: Channel, peer: ChannelPeer): Promise<void> {
    const m = FILE_CHANNEL.exec(channel.name)!;
    const [, conversationId, , fileId, query] = m as unknown as [string, string, string, string, string | undefined];
    const params = new URLSearchParams(query ?? "");
    const start = Math.max(0, Number(params.get("start") ?? 0) || 0);
    const end = Number(params.get("end") ?? 0) || 0;
    const path = join(this.dataDir(conversationId), fileId);
    const range = end > start ? { start, end: end - 1 } : { start };
    const total = end > start ? end : ((await stat(path).catch(() => undefined))?.size ?? 0);
    const report = (bytes: number, rate: number): void =>
      this.progress({ conversationId, fileId, direction: "upload", bytes, total, rate, peer: peer.deviceId });
    try {
      await pipeline(createReadStream(path, { ...range, highWaterMark: CHUNK }), metered(start, report), channel, { signal: this.c.lifetime });
    } catch (error) {
      this.log("serving %s: %s", fileId, (error as Error).message);
      channel.destroy();
    }
  }

  /**
   * Downloads a file message to `toPath`: what is already there is kept and the rest asked (`start` = its size), from
   * each member account's devices in turn until one serves it; the whole file's SHA3-512 must match the commit (a
   * complete file that does not is deleted: `HASH_MISMATCH`). More bytes than the size announced end the transfer.
   */
  async download(conversationId: string, messageId: string, toPath: string, options: AbortOptions = {}): Promise<string> {
    await this.memberRepo(conversationId);
    const file = await this.message(conversationId, messageId);
    const running = this.downloading.get(file.fileId);
    if (running) return running;
    const target = resolve(toPath);
    const run = (async () => {
      this.waiting.delete(file.fileId); // re-inserted last: the newest is forgotten last
      this.waiting.set(file.fileId, { conversationId, messageId, fileId: file.fileId, target });
      await this.saveWaiting();
      const path = await this.fetchFile(file, target, options);
      this.waiting.delete(file.fileId);
      await this.saveWaiting();
      this.done({ conversationId, messageId, fileId: file.fileId, path });
      return path;
    })().finally(() => this.downloading.delete(file.fileId));
    this.downloading.set(file.fileId, run);
    return run;
  }

  private async fetchFile(file: FileMessage, target: string, options: AbortOptions): Promise<string> {
    const repo = this.shelf.require(file.conversationId);
    const self = this.c.identity.jamiId.toString();
    const members = (await repo.members()).filter((m) => SERVING_ROLES.has(m.role)).map((m) => m.uri);
    // the author's devices first (they hold it), then ours (another may have fetched it), then the other members'
    const sources = [...new Set([file.author, self, ...members])].filter((uri) => members.includes(uri));
    await mkdir(dirname(target), { recursive: true });
    const failures: string[] = [];
    let mismatch: AccountError | undefined;
    // SHA3-512 of what is on disk, kept up to date as bytes are written: no second read of the whole file at the end
    let running: { hash: RunningHash; bytes: number } | undefined;
    try {
      for (const account of sources) {
        if (options.signal?.aborted) throw new AccountError("ABORTED", "download aborted");
        const have = (await stat(target).catch(() => undefined))?.size ?? 0;
        if (have >= file.body.totalSize) break;
        if (running?.bytes !== have) {
          running?.hash.dispose();
          running = { hash: await sha3Prefix(target, have, file.body.totalSize, options), bytes: have };
        }
        const name = `data-transfer://${file.conversationId}/${this.c.identity.deviceId.toString()}/${file.fileId}${have ? `?start=${have}` : ""}`;
        try {
          const channel = await this.c.links.connect(account, name, options);
          await this.receive(channel, file, target, have, running, options);
        } catch (error) {
          // what reached the disk is not known to the byte: hashed again from the file if another source is tried
          running?.hash.dispose();
          running = undefined;
          if ((error as AccountError).code === "HASH_MISMATCH") mismatch = error as AccountError;
          failures.push(`${account.slice(0, 8)}: ${(error as Error).message}`);
        }
      }
      const size = (await stat(target).catch(() => undefined))?.size ?? 0;
      if (size < file.body.totalSize && mismatch) throw mismatch; // what a source sent was not the file: say so
      if (size < file.body.totalSize) {
        throw new AccountError(
          "NO_SOURCE",
          `no member device served ${file.fileId} (${size} of ${file.body.totalSize} bytes here)${failures.length ? `: ${failures.join("; ")}` : ""}`,
        );
      }
      const digest = running?.bytes === size ? await running.hash.digest() : await sha3File(target, options);
      if (digest !== file.body.sha3sum) {
        await rm(target, { force: true });
        throw new AccountError("HASH_MISMATCH", `${file.fileId}: the bytes received are not the file the message names (deleted)`);
      }
      // held now: served to the other members too
      const held = join(this.dataDir(file.conversationId), file.fileId);
      await mkdir(dirname(held), { recursive: true });
      if ((await readlink(held).catch(() => undefined)) !== target) {
        await rm(held, { force: true });
        await symlink(target, held);
      }
      return target;
    } finally {
      // a download that failed (or was aborted) leaves no state on the hashing thread (after a digest: nothing to do)
      running?.hash.dispose();
    }
  }

  /** Appends what the channel brings to `target`, up to the announced size (more ends the transfer). */
  private async receive(
    channel: Channel,
    file: FileMessage,
    target: string,
    start: number,
    running: { hash: RunningHash; bytes: number },
    options: AbortOptions,
  ): Promise<void> {
    // a deep write buffer: the disk writes go on while the next chunks are read and hashed (16 KiB, the default, made
    // each 64 KiB chunk wait for its own write, and the link pause while it did)
    const out = createWriteStream(target, { flags: "a", highWaterMark: WRITE_BUFFER });
    let bytes = start;
    let tooMuch = false;
    const report = (at: number, rate: number): void =>
      this.progress({ conversationId: file.conversationId, fileId: file.fileId, direction: "download", bytes: at, total: file.body.totalSize, rate });
    const limit = async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
      for await (const chunk of source) {
        const room = file.body.totalSize - bytes;
        if (chunk.length > room) {
          tooMuch = true;
          if (room > 0) yield chunk.subarray(0, room);
          bytes += Math.max(0, room);
          return;
        }
        bytes += chunk.length;
        yield chunk;
      }
    };
    try {
      const hashed = async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
        for await (const chunk of source) {
          await running.hash.update(chunk);
          running.bytes += chunk.length;
          yield chunk;
        }
      };
      await pipeline(channel, limit, metered(start, report), hashed, out, { signal: options.signal });
    } finally {
      channel.destroy();
    }
    if (tooMuch) {
      await rm(target, { force: true });
      throw new AccountError("HASH_MISMATCH", `${file.fileId}: the peer sent more than the ${file.body.totalSize} bytes announced (deleted)`);
    }
  }
}
