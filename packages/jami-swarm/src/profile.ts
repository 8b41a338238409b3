/** The conversation profile (`profile.vcf`, vCard 2.1 as jamid 13.7 writes it) and its fields. */
export interface ConversationProfile {
  title?: string;
  description?: string;
  /** Base64 image. */
  avatar?: string;
  rdvAccount?: string;
  rdvDevice?: string;
}

const KEYS: Array<[keyof ConversationProfile, string]> = [
  ["title", "FN"],
  ["description", "DESCRIPTION"],
  ["avatar", "PHOTO"],
  ["rdvAccount", "X-JAMI-RDV-ACCOUNT"],
  ["rdvDevice", "X-JAMI-RDV-DEVICE"],
];

/** jamid 13.7's bytes: LF line ends, PHOTO line always present, its two stray blank lines kept. */
export function writeProfileVcf(profile: ConversationProfile): string {
  const lines = ["BEGIN:VCARD", "VERSION:2.1"];
  if (profile.title) lines.push(`FN:${profile.title}`);
  if (profile.description) lines.push(`DESCRIPTION:${profile.description}`);
  lines.push(profile.avatar ? `PHOTO;ENCODING=BASE64:${profile.avatar}` : "PHOTO;ENCODING=BASE64");
  if (profile.rdvAccount) lines.push(`X-JAMI-RDV-ACCOUNT:${profile.rdvAccount}`);
  lines.push("");
  if (profile.rdvDevice) lines.push(`X-JAMI-RDV-DEVICE:${profile.rdvDevice}`);
  lines.push("");
  lines.push("END:VCARD");
  return lines.join("\n");
}

/** Reads any vCard (CRLF or LF, folded lines, parameters) into the profile fields jamid uses. */
export function readProfileVcf(text: string): ConversationProfile {
  const unfolded = text.replace(/\r\n/g, "\n").replace(/\n[ \t]/g, "");
  const profile: ConversationProfile = {};
  for (const line of unfolded.split("\n")) {
    const colon = line.indexOf(":");
    const name = (colon < 0 ? line : line.slice(0, colon)).split(";")[0]!.toUpperCase();
    const value = colon < 0 ? "" : line.slice(colon + 1);
    const key = KEYS.find(([, vcard]) => vcard === name)?.[0];
    if (key && value !== "") profile[key] = value;
  }
  return profile;
}
