import { IdentityError } from "./errors.js";

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

export interface PemBlock {
  label: string;
  der: Uint8Array;
}

/** Every PEM block of a text, in order (a chain file holds several). */
export function decodePem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(BLOCK)) {
    const body = (match[2] ?? "").replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) {
      throw new IdentityError("CERT_INVALID", `PEM block ${match[1]} is not base64`);
    }
    blocks.push({ label: match[1] ?? "", der: new Uint8Array(Buffer.from(body, "base64")) });
  }
  return blocks;
}

/** PEM as GnuTLS writes it: 64-column base64, LF line ends, a final LF. */
export function encodePem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
