import { createHash } from "node:crypto";
import { crc32, deflateSync, inflateSync } from "node:zlib";
import { fromHex, toHex } from "jami-core";
import { SwarmError } from "./errors.js";
import { objectId, ownBytes, type ObjectType, type RawObject } from "./objects.js";

/**
 * Git pack files (version 2): our own reader and writer, because the reader must refuse hostile packs with
 * bounded memory (isomorphic-git's inflates whatever it is given) and the writer is ~20× faster with node:zlib
 * than isomorphic-git's packObjects.
 */

export interface PackLimits {
  /** Whole pack; jamid aborts a fetch above 256 MiB. */
  maxPackBytes: number;
  maxObjects: number;
  /** Any one object once inflated (and delta-resolved). */
  maxObjectBytes: number;
  /** All objects once inflated: the zlib-bomb bound. */
  maxTotalBytes: number;
}

export const DEFAULT_PACK_LIMITS: PackLimits = {
  maxPackBytes: 256 * 1024 * 1024,
  maxObjects: 1_000_000,
  maxObjectBytes: 32 * 1024 * 1024,
  maxTotalBytes: 512 * 1024 * 1024,
};

const TYPE_CODES: Record<number, ObjectType> = { 1: "commit", 2: "tree", 3: "blob", 4: "tag" };
const CODE_OF: Record<ObjectType, number> = { commit: 1, tree: 2, blob: 3, tag: 4 };
const OFS_DELTA = 6;
const REF_DELTA = 7;

export interface PackEntry extends RawObject {
  oid: string;
  offset: number;
  crc32: number;
}

export interface ParsedPack {
  objects: Map<string, RawObject>;
  /** In pack order, with what an index needs. */
  entries: PackEntry[];
  checksum: string;
}

const bad = (message: string): SwarmError => new SwarmError("PACK_INVALID", message);

/**
 * Parses and checks a whole pack: header, every object (inflated within the limits, deltas resolved against
 * the pack or `base` for thin packs), the trailing SHA-1. Throws `PACK_INVALID`/`PACK_TOO_LARGE`.
 */
export function parsePack(pack: Uint8Array, options: { limits?: Partial<PackLimits>; base?: (oid: string) => RawObject | undefined } = {}): ParsedPack {
  const limits = { ...DEFAULT_PACK_LIMITS, ...options.limits };
  if (pack.byteLength > limits.maxPackBytes) throw new SwarmError("PACK_TOO_LARGE", `pack of ${pack.byteLength} bytes is over ${limits.maxPackBytes}`);
  if (pack.byteLength < 32) throw bad("pack shorter than its header and trailer");
  const view = new DataView(pack.buffer, pack.byteOffset, pack.byteLength);
  if (view.getUint32(0) !== 0x5041434b) throw bad("no PACK signature");
  const version = view.getUint32(4);
  if (version !== 2 && version !== 3) throw bad(`pack version ${version}`);
  const count = view.getUint32(8);
  if (count > limits.maxObjects) throw new SwarmError("PACK_TOO_LARGE", `pack announces ${count} objects`);
  const bodyEnd = pack.byteLength - 20;
  const checksum = toHex(pack.subarray(bodyEnd));
  if (createHash("sha1").update(pack.subarray(0, bodyEnd)).digest("hex") !== checksum) throw bad("pack checksum mismatch");

  const objects = new Map<string, RawObject>();
  const entries: PackEntry[] = [];
  const byOffset = new Map<number, PackEntry>();
  let total = 0;
  let at = 12;
  for (let i = 0; i < count; i++) {
    const start = at;
    if (at >= bodyEnd) throw bad(`pack ends after ${i} of ${count} objects`);
    const header = readEntryHeader(pack, at, bodyEnd);
    let baseObject: RawObject | undefined;
    if (header.baseOffset !== undefined) {
      baseObject = byOffset.get(header.baseOffset);
      if (!baseObject) throw bad(`delta at ${start} names no object of the pack`);
    } else if (header.baseOid !== undefined) {
      baseObject = objects.get(header.baseOid) ?? options.base?.(header.baseOid);
      if (!baseObject) throw bad(`delta on ${header.baseOid}, an object the pack does not carry`);
    }
    if (header.size > limits.maxObjectBytes) throw new SwarmError("PACK_TOO_LARGE", `object of ${header.size} bytes`);
    const { data: inflated, consumed } = inflateEntry(pack, header.dataStart, bodyEnd, header.size, start);
    at = header.dataStart + consumed;
    const object: RawObject = baseObject
      ? { type: baseObject.type, content: applyDelta(baseObject.content, inflated, limits.maxObjectBytes) }
      : { type: TYPE_CODES[header.code]!, content: inflated };
    total += object.content.byteLength;
    if (total > limits.maxTotalBytes) throw new SwarmError("PACK_TOO_LARGE", `objects inflate past ${limits.maxTotalBytes} bytes`);
    const oid = objectId(object.type, object.content);
    const entry: PackEntry = { ...object, oid, offset: start, crc32: crc32(pack.subarray(start, at)) };
    entries.push(entry);
    byOffset.set(start, entry);
    objects.set(oid, object);
  }
  if (at !== bodyEnd) throw bad(`${bodyEnd - at} bytes after the last object`);
  return { objects, entries, checksum };
}

/** The header of the pack entry at `at`: type code, inflated size, where the zlib data starts, the delta base. */
export function readEntryHeader(
  pack: Uint8Array,
  at: number,
  end: number,
): { code: number; size: number; dataStart: number; baseOffset?: number; baseOid?: string } {
  const start = at;
  let byte = pack[at++]!;
  const code = (byte >> 4) & 7;
  let size = byte & 0x0f;
  let shift = 4;
  while (byte & 0x80) {
    if (at >= end || shift > 49) throw bad("bad object header");
    byte = pack[at++]!;
    size += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  }
  if (code === OFS_DELTA) {
    if (at >= end) throw bad("truncated delta offset");
    byte = pack[at++]!;
    let distance = byte & 0x7f;
    while (byte & 0x80) {
      if (at >= end || distance > 2 ** 40) throw bad("bad delta offset");
      byte = pack[at++]!;
      distance = (distance + 1) * 128 + (byte & 0x7f);
    }
    if (distance > start) throw bad(`delta at ${start} points before the pack`);
    return { code, size, dataStart: at, baseOffset: start - distance };
  }
  if (code === REF_DELTA) {
    if (at + 20 > end) throw bad("truncated delta base");
    return { code, size, dataStart: at + 20, baseOid: toHex(pack.subarray(at, at + 20)) };
  }
  if (!TYPE_CODES[code]) throw bad(`object type ${code}`);
  return { code, size, dataStart: at };
}

/** Inflates exactly `size` bytes at `at` (never more: the zlib-bomb guard) and says how much input it used. */
export function inflateEntry(pack: Uint8Array, at: number, end: number, size: number, entryStart: number): { data: Uint8Array; consumed: number } {
  let result: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    result = inflateSync(pack.subarray(at, end), { info: true, maxOutputLength: Math.max(size, 1) }) as unknown as typeof result;
  } catch (cause) {
    throw new SwarmError("PACK_INVALID", `object at ${entryStart} does not inflate to its ${size} bytes`, { cause });
  }
  if (result.buffer.byteLength !== size) throw bad(`object at ${entryStart} inflates to ${result.buffer.byteLength} bytes, not ${size}`);
  return { data: ownBytes(result.buffer), consumed: result.engine.bytesWritten };
}

export const PACK_TYPES = TYPE_CODES;

function readVarint(delta: Uint8Array, at: { i: number }): number {
  let value = 0;
  let shift = 0;
  let byte: number;
  do {
    if (at.i >= delta.length || shift > 49) throw bad("truncated delta header");
    byte = delta[at.i++]!;
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return value;
}

export function applyDelta(base: Uint8Array, delta: Uint8Array, maxBytes: number): Uint8Array {
  const at = { i: 0 };
  if (readVarint(delta, at) !== base.byteLength) throw bad("delta base size mismatch");
  const size = readVarint(delta, at);
  if (size > maxBytes) throw new SwarmError("PACK_TOO_LARGE", `delta result of ${size} bytes`);
  const out = new Uint8Array(size);
  let written = 0;
  while (at.i < delta.length) {
    const cmd = delta[at.i++]!;
    if (cmd & 0x80) {
      let offset = 0;
      let length = 0;
      for (let bit = 0; bit < 4; bit++) if (cmd & (1 << bit)) offset |= (delta[at.i++] ?? 0) << (8 * bit);
      for (let bit = 0; bit < 3; bit++) if (cmd & (0x10 << bit)) length |= (delta[at.i++] ?? 0) << (8 * bit);
      if (length === 0) length = 0x10000;
      offset >>>= 0;
      if (offset + length > base.byteLength || written + length > size) throw bad("delta copies outside its base or result");
      out.set(base.subarray(offset, offset + length), written);
      written += length;
    } else if (cmd !== 0) {
      if (at.i + cmd > delta.length || written + cmd > size) throw bad("delta inserts past its end");
      out.set(delta.subarray(at.i, at.i + cmd), written);
      at.i += cmd;
      written += cmd;
    } else throw bad("delta opcode 0");
  }
  if (written !== size) throw bad("delta result shorter than announced");
  return out;
}

/** An object for `writePack`: whole, or already deflated (copied from a stored pack). */
export type PackInput = RawObject | { type: ObjectType; size: number; deflated: Uint8Array };

/** A pack of whole objects (no deltas), each deflated with node:zlib unless given deflated. */
export function writePack(objects: Iterable<PackInput>): Uint8Array {
  const parts: Uint8Array[] = [];
  let count = 0;
  for (const object of objects) {
    const header: number[] = [];
    let size = "deflated" in object ? object.size : object.content.byteLength;
    let byte = (CODE_OF[object.type] << 4) | (size & 0x0f);
    size = Math.floor(size / 16);
    while (size > 0) {
      header.push(byte | 0x80);
      byte = size & 0x7f;
      size = Math.floor(size / 128);
    }
    header.push(byte);
    parts.push(Uint8Array.from(header), "deflated" in object ? object.deflated : deflateSync(object.content, { level: 1 }));
    count++;
  }
  const head = new Uint8Array(12);
  const view = new DataView(head.buffer);
  view.setUint32(0, 0x5041434b);
  view.setUint32(4, 2);
  view.setUint32(8, count);
  const hash = createHash("sha1").update(head);
  for (const part of parts) hash.update(part);
  return Buffer.concat([head, ...parts, hash.digest()]);
}

/** A version-2 `.idx` for a parsed pack, so git and isomorphic-git can read the pack in place. */
export function writePackIndex(entries: readonly PackEntry[], packChecksum: string): Uint8Array {
  const sorted = [...entries].sort((a, b) => (a.oid < b.oid ? -1 : a.oid > b.oid ? 1 : 0));
  const large = sorted.filter((e) => e.offset >= 0x80000000);
  const size = 8 + 256 * 4 + sorted.length * 28 + large.length * 8 + 40;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0xff744f63);
  view.setUint32(4, 2);
  const fanout = new Uint32Array(256);
  for (const e of sorted) fanout[parseInt(e.oid.slice(0, 2), 16)]!++;
  let running = 0;
  for (let i = 0; i < 256; i++) {
    running += fanout[i]!;
    view.setUint32(8 + i * 4, running);
  }
  let at = 8 + 1024;
  for (const e of sorted) {
    out.set(fromHex(e.oid), at);
    at += 20;
  }
  for (const e of sorted) {
    view.setUint32(at, e.crc32 >>> 0);
    at += 4;
  }
  let largeIndex = 0;
  const largeAt = at + sorted.length * 4;
  for (const e of sorted) {
    if (e.offset >= 0x80000000) {
      view.setUint32(at, 0x80000000 | largeIndex);
      view.setBigUint64(largeAt + largeIndex * 8, BigInt(e.offset));
      largeIndex++;
    } else view.setUint32(at, e.offset);
    at += 4;
  }
  at = largeAt + large.length * 8;
  out.set(fromHex(packChecksum), at);
  out.set(
    createHash("sha1")
      .update(out.subarray(0, at + 20))
      .digest(),
    at + 20,
  );
  return out;
}
