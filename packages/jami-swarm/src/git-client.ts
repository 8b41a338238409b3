import type { Duplex } from "node:stream";
import { throwIfAborted } from "./abort.js";
import { onAbort } from "jami-core";
import { SwarmError } from "./errors.js";
import { DEFAULT_PACK_LIMITS } from "./pack.js";
import { ByteReader, FLUSH, PktReader, flushPkt, pkt } from "./pktline.js";

export interface FetchRequest {
  conversationId: string;
  /** The serving device's id (jamid's `host=`). */
  host: string;
  /** Commits we have, newest first (our head and its recent ancestors). */
  haves?: readonly string[];
  /** Skip the pack when we already have the advertised head. */
  hasCommit?: (oid: string) => boolean | Promise<boolean>;
}

export interface FetchedPack {
  /** The server's `main` (or HEAD). */
  head: string;
  /** The pack, or undefined when we already had `head`. */
  pack?: Uint8Array;
}

/**
 * Fetches a conversation's `main` over `stream` as jamid's libgit2 client does (protocol v1 over a git://-style
 * request): one want, our haves, `done`, then the pack from side-band channel 1. Bounded by `maxPackBytes`.
 * `keepOpen` leaves the channel for the next fetch (as jamid caches its git channels; pass the same `reader`).
 * `onAnswered` is called when the server has answered our `done` (its ACK or NAK), the pack still to come.
 */
export async function fetchPack(
  stream: Duplex,
  request: FetchRequest,
  options: { signal?: AbortSignal; maxPackBytes?: number; keepOpen?: boolean; reader?: ByteReader; onAnswered?: () => void } = {},
): Promise<FetchedPack> {
  const maxPack = options.maxPackBytes ?? DEFAULT_PACK_LIMITS.maxPackBytes;
  // a kept channel is read through one ByteReader across fetches (bytes already buffered belong to the next one)
  const bytes = options.reader ?? new ByteReader(stream);
  const reader = new PktReader(bytes);
  const stopListening = onAbort(options.signal, () => stream.destroy(new SwarmError("ABORTED", "fetch aborted")));
  try {
    throwIfAborted(options.signal);
    stream.write(pkt(`git-upload-pack /${request.conversationId}\0host=${request.host}\0`));
    const refs = new Map<string, string>();
    for (let first = true; ; first = false) {
      const line = await reader.line();
      if (line === undefined) throw new SwarmError("PROTOCOL", "the server closed before its references");
      if (line === FLUSH) break;
      if (line.startsWith("ERR ")) throw new SwarmError("PROTOCOL", `the server refused: ${line.slice(4, 200)}`);
      if (first && line.startsWith("version ")) continue;
      const m = /^([0-9a-f]{40}) ([^\0 ]+)(\0.*)?$/.exec(line);
      if (!m) throw new SwarmError("PROTOCOL", `bad reference line "${line.slice(0, 80)}"`);
      if (refs.size >= 1000) throw new SwarmError("PROTOCOL", "too many references");
      refs.set(m[2]!, m[1]!);
    }
    const head = refs.get("refs/heads/main") ?? refs.get("HEAD");
    if (!head) throw new SwarmError("PROTOCOL", "the server advertised no main branch");
    if (await request.hasCommit?.(head)) {
      stream.write(flushPkt());
      return { head };
    }
    // one write, as libgit2 sends them: jamid 13.7 reads a second TLS record of the same segment only 500 ms later
    const lines = [
      pkt(`want ${head} side-band-64k no-progress\n`),
      flushPkt(),
      ...(request.haves ?? []).slice(0, 256).map((h) => pkt(`have ${h}\n`)),
      pkt("done\n"),
    ];
    stream.write(Buffer.concat(lines));

    const parts: Uint8Array[] = [];
    let size = 0;
    let answered = false;
    for (;;) {
      throwIfAborted(options.signal);
      const next = await reader.next();
      if (next === undefined) {
        if (parts.length > 0) break; // a server without side-band ends the stream
        throw new SwarmError("PROTOCOL", "the server closed before sending a pack");
      }
      if (next === FLUSH) break;
      const text = next.byteLength < 60 ? new TextDecoder().decode(next) : "";
      if (parts.length === 0 && (text.startsWith("NAK") || text.startsWith("ACK "))) {
        if (!answered) options.onAnswered?.();
        answered = true;
        continue;
      }
      const band = next[0];
      if (band === 1) {
        size += next.byteLength - 1;
        if (size > maxPack) throw new SwarmError("PACK_TOO_LARGE", `pack over ${maxPack} bytes`);
        parts.push(next.subarray(1));
      } else if (band === 3) throw new SwarmError("PROTOCOL", `the server failed: ${new TextDecoder().decode(next.subarray(1, 200))}`);
      else if (band !== 2) throw new SwarmError("PROTOCOL", `unexpected side-band ${band}`);
    }
    const pack = new Uint8Array(size);
    let at = 0;
    for (const part of parts) {
      pack.set(part, at);
      at += part.byteLength;
    }
    return { head, pack };
  } finally {
    stopListening();
    if (!options.keepOpen) stream.end();
  }
}
