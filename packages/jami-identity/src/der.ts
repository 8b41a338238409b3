import { IdentityError } from "./errors.js";

/** One DER element: where its header starts, where its content lies. */
export interface Tlv {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

/**
 * Reads the element at `offset`. Only what X.509 needs: single-byte tags and
 * definite lengths up to 4 length bytes. Used to take exact byte ranges
 * (to-be-signed parts, names, keys) out of certificates and CRLs.
 */
export function readTlv(der: Uint8Array, offset: number, limit = der.byteLength): Tlv {
  const fail = (why: string) => new IdentityError("CERT_INVALID", `malformed DER at ${offset}: ${why}`);
  if (offset + 2 > limit) throw fail("truncated header");
  const tag = der[offset]!;
  if ((tag & 0x1f) === 0x1f) throw fail("multi-byte tag");
  let length = der[offset + 1]!;
  let contentStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw fail("unsupported length");
    if (contentStart + count > limit) throw fail("truncated length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[contentStart + i]!;
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > limit) throw fail("content runs past its container");
  return { tag, start: offset, contentStart, end };
}

/** The children of a constructed element. */
export function readChildren(der: Uint8Array, parent: Tlv): Tlv[] {
  const children: Tlv[] = [];
  let offset = parent.contentStart;
  while (offset < parent.end) {
    const child = readTlv(der, offset, parent.end);
    children.push(child);
    offset = child.end;
  }
  return children;
}

export function slice(der: Uint8Array, tlv: Tlv): Uint8Array {
  return der.subarray(tlv.start, tlv.end);
}
