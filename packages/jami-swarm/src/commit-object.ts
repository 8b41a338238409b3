import { SwarmError } from "./errors.js";

/** Author or committer line of a commit: jamid puts the device id in the e-mail and always `+0000`. */
export interface GitPerson {
  name: string;
  email: string;
  /** Unix seconds. */
  timestamp: number;
  /** As written, e.g. `+0000`. */
  timezone: string;
}

/** A commit object as its fields, with the exact bytes it was read from. */
export interface CommitObject {
  tree: string;
  parents: string[];
  author: GitPerson;
  committer: GitPerson;
  /** The base64 `signature` header jamid adds; undefined when absent. */
  signature?: string;
  message: string;
  /** Headers other than the ones above, kept in order (read only). */
  extraHeaders: Array<[string, string]>;
}

const OID = /^[0-9a-f]{40}$/;
const PERSON = /^(.*) <([^<>\n]*)> (\d+) ([+-]\d{4})$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * An object id as a string of its own. A slice of a longer string (`text.slice(5, 45)`) is, in V8, a view that keeps
 * the whole text alive: an id kept as a map key or in the commit graph would hold its commit's kilobyte of text
 * (signature included) for as long as it is kept.
 */
const detached = (oid: string): string => Buffer.from(oid, "latin1").toString("latin1");

function personLine(p: GitPerson): string {
  return `${p.name} <${p.email}> ${p.timestamp} ${p.timezone}`;
}

function parsePerson(value: string): GitPerson {
  const m = PERSON.exec(value);
  if (!m) throw new SwarmError("OBJECT_INVALID", `malformed person line "${value.slice(0, 80)}"`);
  return { name: m[1]!, email: m[2]!, timestamp: Number(m[3]), timezone: m[4]! };
}

/**
 * The bytes jamid signs: the commit as libgit2's `git_commit_create_buffer` writes it, without `signature`.
 * The message is written as given (jamid's messages have no trailing newline).
 */
export function unsignedCommitBytes(commit: Omit<CommitObject, "signature" | "extraHeaders">): Uint8Array {
  let text = `tree ${commit.tree}\n`;
  for (const parent of commit.parents) text += `parent ${parent}\n`;
  text += `author ${personLine(commit.author)}\ncommitter ${personLine(commit.committer)}\n\n${commit.message}`;
  return encoder.encode(text);
}

/** The full object body with `signature <b64>` right after the committer line, as `git_commit_create_with_signature`. */
export function signedCommitBytes(commit: Omit<CommitObject, "extraHeaders">): Uint8Array {
  let text = `tree ${commit.tree}\n`;
  for (const parent of commit.parents) text += `parent ${parent}\n`;
  text += `author ${personLine(commit.author)}\ncommitter ${personLine(commit.committer)}\n`;
  if (commit.signature !== undefined) text += `signature ${commit.signature}\n`;
  text += `\n${commit.message}`;
  return encoder.encode(text);
}

/** Parses a commit object body; strict about the headers git itself requires. */
export function parseCommit(body: Uint8Array): CommitObject {
  let text: string;
  try {
    text = decoder.decode(body);
  } catch (cause) {
    throw new SwarmError("OBJECT_INVALID", "commit is not UTF-8", { cause });
  }
  const split = text.indexOf("\n\n");
  if (split < 0) throw new SwarmError("OBJECT_INVALID", "commit without a message separator");
  const headers: Array<[string, string]> = [];
  for (const line of text.slice(0, split).split("\n")) {
    if (line.startsWith(" ") && headers.length > 0) {
      headers[headers.length - 1]![1] += "\n" + line.slice(1);
      continue;
    }
    const space = line.indexOf(" ");
    if (space <= 0) throw new SwarmError("OBJECT_INVALID", `malformed commit header "${line.slice(0, 80)}"`);
    headers.push([line.slice(0, space), line.slice(space + 1)]);
  }
  let tree: string | undefined;
  let author: GitPerson | undefined;
  let committer: GitPerson | undefined;
  let signature: string | undefined;
  const parents: string[] = [];
  const extraHeaders: Array<[string, string]> = [];
  headers.forEach(([key, value], index) => {
    if (key === "tree" && index === 0) tree = value;
    else if (key === "parent" && author === undefined) parents.push(value);
    else if (key === "author" && author === undefined) author = parsePerson(value);
    else if (key === "committer" && committer === undefined && author !== undefined) committer = parsePerson(value);
    else if (key === "signature" && signature === undefined) signature = value;
    else extraHeaders.push([key, value]);
  });
  if (!tree || !OID.test(tree)) throw new SwarmError("OBJECT_INVALID", "commit without a valid tree");
  if (!parents.every((p) => OID.test(p))) throw new SwarmError("OBJECT_INVALID", "commit with a malformed parent");
  if (!author || !committer) throw new SwarmError("OBJECT_INVALID", "commit without author or committer");
  return { tree: detached(tree), parents: parents.map(detached), author, committer, signature, message: text.slice(split + 2), extraHeaders };
}

/**
 * The signed bytes of a raw commit body: the body with the `signature` header line (and any continuation lines)
 * cut out, the recipe that verifies on jamid's commits. Undefined when there is no signature header.
 */
export function signedPayload(body: Uint8Array): { payload: Uint8Array; signature: string } | undefined {
  const end = indexOfSeparator(body);
  let lineStart = 0;
  while (lineStart < end) {
    let lineEnd = body.indexOf(0x0a, lineStart);
    if (lineEnd < 0 || lineEnd > end) lineEnd = end;
    if (startsWith(body, lineStart, "signature ")) {
      let cut = lineEnd + 1;
      while (cut < end && body[cut] === 0x20) {
        const next = body.indexOf(0x0a, cut);
        cut = next < 0 ? end : next + 1;
      }
      const signature = new TextDecoder().decode(body.subarray(lineStart + 10, cut - 1)).replace(/\n /g, "\n");
      const payload = new Uint8Array(body.byteLength - (cut - lineStart));
      payload.set(body.subarray(0, lineStart), 0);
      payload.set(body.subarray(cut), lineStart);
      return { payload, signature };
    }
    lineStart = lineEnd + 1;
  }
  return undefined;
}

function indexOfSeparator(body: Uint8Array): number {
  for (let i = 0; i + 1 < body.length; i++) if (body[i] === 0x0a && body[i + 1] === 0x0a) return i + 1;
  return body.length;
}

function startsWith(bytes: Uint8Array, at: number, prefix: string): boolean {
  for (let i = 0; i < prefix.length; i++) if (bytes[at + i] !== prefix.charCodeAt(i)) return false;
  return true;
}

/**
 * Only what a history walk needs — parents, tree, committer time — read from the header bytes without decoding
 * the message: serving a clone walks every commit once, and this is most of that walk's time.
 */
export function commitLinks(body: Uint8Array): { parents: string[]; tree: string; time: number } {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const separator = bytes.indexOf("\n\n");
  // the signature header comes after the committer: stop there, it is most of the header's bytes
  const signature = bytes.indexOf("\nsignature ");
  const end = signature >= 0 && (separator < 0 || signature < separator) ? signature : separator < 0 ? bytes.length : separator;
  const header = bytes.toString("latin1", 0, end);
  const parents: string[] = [];
  let tree = "";
  let time = NaN;
  for (const line of header.split("\n")) {
    if (line.startsWith("tree ")) tree = detached(line.slice(5));
    else if (line.startsWith("parent ")) parents.push(detached(line.slice(7)));
    else if (line.startsWith("committer ")) time = Number(line.slice(line.lastIndexOf(">") + 2).split(" ")[0]);
  }
  if (!OID.test(tree) || !parents.every((p) => OID.test(p)) || !Number.isFinite(time)) throw new SwarmError("OBJECT_INVALID", "malformed commit header");
  return { parents, tree, time };
}
