import type { Duplex } from "node:stream";
import createDebug from "debug";
import { throwIfAborted } from "./abort.js";
import { SwarmError } from "./errors.js";
import { objectsToSend } from "./pack-objects.js";
import { writePack, type PackInput } from "./pack.js";
import { ByteReader, FLUSH, PktReader, flushPkt, pkt } from "./pktline.js";
import type { SwarmRepository } from "./repository.js";

const log = createDebug("jami:swarm:git-server");
const CAPABILITIES = "side-band side-band-64k shallow no-progress include-tag";
const OID = /^[0-9a-f]{40}$/;
/** How many `have` lines a client may send before we stop listening (git itself sends at most a few hundred). */
const MAX_HAVES = 10_000;

export interface ServeOptions {
  signal?: AbortSignal;
  /** Called when a client was served a pack up to `head` (jamid's `setFetched`). */
  onServed?: (conversationId: string, head: string) => void;
}

/**
 * Serves one git fetch on `stream` as jamid's git server does (spec `jami-identity-connection.md` §4.7): reads
 * the `git-upload-pack /<conversation>` request, asks `resolve` for that repository (undefined refuses, e.g. a
 * peer that is not a member), advertises HEAD and `main`, takes one want and its haves, answers NAK/ACK, and
 * sends the pack on side-band channel 1 — then waits for the next request on the same stream, as jamid's server
 * does (its client keeps the channel for later fetches). Ends the stream when the peer ends its side.
 */
export async function serveUploadPack(
  stream: Duplex,
  resolve: (conversationId: string) => Promise<SwarmRepository | undefined>,
  options: ServeOptions = {},
): Promise<void> {
  const reader = new PktReader(new ByteReader(stream));
  try {
    // jamid's client keeps the channel and sends a new request line for every fetch: serve until the stream ends
    while (await serveOne(stream, reader, resolve, options));
  } finally {
    stream.end();
  }
}

/** One request line and what follows; false once the stream is over (or the request was refused). */
async function serveOne(
  stream: Duplex,
  reader: PktReader,
  resolve: (conversationId: string) => Promise<SwarmRepository | undefined>,
  options: ServeOptions,
): Promise<boolean> {
  // What we answer goes out in one write per turn of the exchange (as git and libgit2 do): jamid 13.7 reads a
  // second TLS record that came in the same segment only at its next poll, 500 ms later.
  const pending: Uint8Array[] = [];
  const write = (data: Uint8Array): void => void pending.push(data);
  const send = (): void => {
    if (pending.length === 0) return;
    stream.write(pending.length === 1 ? pending[0]! : Buffer.concat(pending));
    pending.length = 0;
  };
  let request = await reader.next();
  while (request === FLUSH) request = await reader.next();
  if (request === undefined) return false;
  const text = new TextDecoder().decode(request);
  const match = /^git-upload-pack \/?([^\0\n]*)\n?\0/.exec(text);
  if (!match) throw new SwarmError("PROTOCOL", "expected a git-upload-pack request");
  const conversationId = match[1]!.replace(/\.git$/, "").replace(/^.*\//, "");
  const repo = OID.test(conversationId) ? await resolve(conversationId) : undefined;
  if (!repo) {
    write(pkt(`ERR unknown conversation ${conversationId.slice(0, 64)}\n`));
    send();
    return false;
  }
  if (text.split("\0").includes("version=1")) write(pkt("version 1\n"));
  const head = await repo.head();
  write(pkt(`${head} HEAD\0${CAPABILITIES}\n`));
  write(pkt(`${head} refs/heads/main\n`));
  write(flushPkt());
  send();
  throwIfAborted(options.signal);

  let want: string | undefined;
  let sideBand: 0 | 1000 | 65520 = 0;
  for (;;) {
    const line = await reader.line();
    if (line === undefined) return false;
    if (line === FLUSH) break;
    const wantMatch = /^want ([0-9a-f]{40})(?: (.*))?$/.exec(line);
    if (wantMatch) {
      if (want !== undefined && wantMatch[1] !== want) throw new SwarmError("PROTOCOL", "this server takes one want");
      want = wantMatch[1];
      const caps = (wantMatch[2] ?? "").split(" ");
      if (caps.includes("side-band-64k")) sideBand = 65520;
      else if (caps.includes("side-band")) sideBand = 1000;
    } else if (!/^(shallow|deepen)/.test(line)) throw new SwarmError("PROTOCOL", `unexpected line "${line.slice(0, 80)}"`);
  }
  if (want === undefined) return true; // references only (ls-remote): the next request may follow
  if (want !== head) throw new SwarmError("PROTOCOL", `want ${want} is not the advertised head`);

  const common: string[] = [];
  let acked = false;
  let haves = 0;
  for (;;) {
    const line = await reader.line();
    if (line === undefined) throw new SwarmError("PROTOCOL", "stream ended before done");
    if (line === FLUSH) {
      if (!acked) write(pkt("NAK\n"));
      send();
      continue;
    }
    if (line === "done") break;
    const have = /^have ([0-9a-f]{40})$/.exec(line);
    if (!have) throw new SwarmError("PROTOCOL", `unexpected line "${line.slice(0, 80)}"`);
    if (++haves > MAX_HAVES) throw new SwarmError("PROTOCOL", "too many haves");
    if (await isCommit(repo, have[1]!)) {
      common.push(have[1]!);
      if (!acked) {
        write(pkt(`ACK ${have[1]}\n`));
        acked = true;
      }
    }
  }
  if (!acked) write(pkt("NAK\n"));
  throwIfAborted(options.signal);
  const objects = await objectsToSend(repo.store, want, common);
  const inputs: PackInput[] = [];
  for (const [oid, type] of objects) {
    // reuse what a stored pack already holds deflated (git's pack reuse): serving is then mostly copying
    const stored = await repo.store.compressed(oid);
    inputs.push(stored ? { type, size: stored.size, deflated: stored.data } : await repo.store.read(oid));
  }
  const pack = writePack(inputs);
  if (sideBand === 0) {
    write(pack);
    send();
    return false; // without side-band the pack ends the conversation on this stream
  }
  const chunk = sideBand - 5;
  for (let at = 0; at < pack.byteLength; at += chunk) {
    const band = new Uint8Array(Math.min(chunk, pack.byteLength - at) + 1);
    band[0] = 1;
    band.set(pack.subarray(at, at + chunk), 1);
    write(pkt(band));
  }
  write(flushPkt());
  send();
  log("served %s up to %s (%d bytes, %d common)", conversationId, want, pack.byteLength, common.length);
  options.onServed?.(conversationId, want);
  return true;
}

async function isCommit(repo: SwarmRepository, oid: string): Promise<boolean> {
  try {
    return (await repo.store.read(oid)).type === "commit";
  } catch {
    return false;
  }
}
