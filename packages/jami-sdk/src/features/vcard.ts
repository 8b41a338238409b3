import { AccountError } from "../errors.js";

/**
 * A vCard larger than this is refused (Jami clients scale avatars down to a few hundred KB; jamid itself sets no
 * limit, which lets any member fill a disk): a pushed one is cut off at this size and nothing of it kept.
 */
export const MAX_VCARD_BYTES = 4 << 20;
/** Logical lines (after unfolding) read from a vCard at most: a display name and a photo need a handful. */
export const MAX_VCARD_PROPERTIES = 256;
/** A display name is cut to this many characters. */
export const MAX_DISPLAY_NAME = 256;

/** What a person's vCard says: the display name and the avatar (the image bytes, PNG or JPEG). */
export interface PersonalProfile {
  displayName?: string;
  avatar?: Uint8Array;
}

/**
 * Reads a personal vCard (2.1 or 3.0, CRLF or LF, folded lines) as Jami clients write it: `FN` and a base64
 * `PHOTO`. Anything else is ignored. Throws `BAD_VCARD` for something that is not a vCard or breaks the bounds.
 */
export function readPersonalVcard(bytes: Uint8Array): PersonalProfile {
  if (bytes.length > MAX_VCARD_BYTES) throw new AccountError("BAD_VCARD", `a vCard of ${bytes.length} bytes (at most ${MAX_VCARD_BYTES})`);
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  // unfolding is one linear pass: a line break followed by a space or a tab continues the previous line
  const lines = text
    .replace(/\r\n?/g, "\n")
    .replace(/\n[ \t]/g, "")
    .split("\n")
    .filter((l) => l.length > 0);
  if (lines[0]?.trim().toUpperCase() !== "BEGIN:VCARD") throw new AccountError("BAD_VCARD", "not a vCard (no BEGIN:VCARD)");
  if (lines[lines.length - 1]?.trim().toUpperCase() !== "END:VCARD") throw new AccountError("BAD_VCARD", "a vCard cut short (no END:VCARD)");
  if (lines.length > MAX_VCARD_PROPERTIES) throw new AccountError("BAD_VCARD", `a vCard of ${lines.length} properties (at most ${MAX_VCARD_PROPERTIES})`);
  const out: PersonalProfile = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const [name = "", ...params] = line.slice(0, colon).split(";");
    const value = line.slice(colon + 1);
    const key = name.toUpperCase();
    if (key === "FN" && out.displayName === undefined) {
      const displayName = unescapeText(value).trim().slice(0, MAX_DISPLAY_NAME);
      if (displayName) out.displayName = displayName;
    } else if (key === "PHOTO" && out.avatar === undefined) {
      const base64 = params.some((p) => /^(ENCODING=)?(BASE64|B)$/i.test(p)) ? value : /^data:[^,]*;base64,(.*)$/i.exec(value)?.[1];
      const clean = base64?.replace(/\s+/g, "");
      if (clean && /^[A-Za-z0-9+/]+={0,2}$/.test(clean)) out.avatar = new Uint8Array(Buffer.from(clean, "base64"));
    }
  }
  return out;
}

/** A personal vCard as Jami clients write it (vCard 2.1, LF line ends); `uid` is the account's Jami ID. */
export function writePersonalVcard(profile: PersonalProfile, uid?: string): Uint8Array {
  const lines = ["BEGIN:VCARD", "VERSION:2.1"];
  if (uid) lines.push(`UID:${uid}`);
  if (profile.displayName) lines.push(`FN:${escapeText(profile.displayName.slice(0, MAX_DISPLAY_NAME))}`);
  if (profile.avatar?.length) lines.push(`PHOTO;ENCODING=BASE64;TYPE=${imageType(profile.avatar)}:${Buffer.from(profile.avatar).toString("base64")}`);
  lines.push("END:VCARD", "");
  return new TextEncoder().encode(lines.join("\n"));
}

/** `PNG` or `JPEG` by the image's first bytes (what clients put in TYPE); PNG when unknown. */
function imageType(image: Uint8Array): string {
  return image[0] === 0xff && image[1] === 0xd8 ? "JPEG" : "PNG";
}

function escapeText(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\r?\n/g, "\\n").replace(/,/g, "\\,").replace(/;/g, "\\;");
}

function unescapeText(value: string): string {
  return value.replace(/\\([nN,;\\])/g, (_, c: string) => (c === "n" || c === "N" ? "\n" : c));
}
