import { SipError } from "./errors.js";

export interface MimePart {
  contentType: string;
  body: Uint8Array;
}

/** The boundary parameter of a `multipart/*` Content-Type, or undefined. */
export function multipartBoundary(contentType: string): string | undefined {
  if (!/^\s*multipart\//i.test(contentType)) return undefined;
  const m = /;\s*boundary=("([^"]+)"|[^;\s]+)/i.exec(contentType);
  return m ? (m[2] ?? m[1]) : undefined;
}

/**
 * The parts of a multipart body (RFC 2046), each with its own Content-Type (default `text/plain`). jamid never
 * sends one, but parses them on receive, so we do too. At most `maxParts`.
 */
export function parseMultipart(body: Uint8Array, boundary: string, maxParts = 16): MimePart[] {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("latin1");
  const delimiter = `--${boundary}`;
  const pieces = text.split(delimiter);
  if (pieces.length < 3) throw new SipError("MALFORMED", "multipart body without its boundaries");
  const parts: MimePart[] = [];
  for (const piece of pieces.slice(1)) {
    if (piece.startsWith("--")) break; // the closing delimiter
    const content = piece.replace(/^\r?\n/, "").replace(/\r?\n$/, "");
    const split = /\r?\n\r?\n/.exec(content);
    const head = split ? content.slice(0, split.index) : "";
    const partBody = split ? content.slice(split.index + split[0].length) : content;
    const type = /^content-type:\s*(.+)$/im.exec(head)?.[1]?.trim() ?? "text/plain";
    parts.push({ contentType: type, body: Uint8Array.from(Buffer.from(partBody, "latin1")) });
    if (parts.length > maxParts) throw new SipError("TOO_LARGE", `more than ${maxParts} parts`);
  }
  return parts;
}
