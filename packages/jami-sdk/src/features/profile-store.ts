import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { readPersonalVcard, type PersonalProfile } from "./vcard.js";

/** A member's profile as its devices last sent it. */
export interface MemberProfile extends PersonalProfile {
  jamiId: string;
}

const HEX40 = /^[0-9a-f]{40}$/;

/**
 * Where vCards live, in jamid's layout (so a jamid data directory and ours read the same): the account's own at
 * `<dir>/profile.vcf`, members' at `<dir>/profiles/<base64 of the Jami ID>.vcf`. Files, not the key/value store:
 * a vCard with an avatar is hundreds of KB, read whole and served as it is.
 */
export class ProfileFiles {
  /** What each member's vCard says (its bytes stay on disk: read again only to serve it to our own devices). */
  private readonly members = new Map<string, MemberProfile>();

  constructor(private readonly dir: string) {}

  get ownPath(): string {
    return join(this.dir, "profile.vcf");
  }

  private memberPath(jamiId: string): string {
    return join(this.dir, "profiles", `${Buffer.from(jamiId).toString("base64")}.vcf`);
  }

  /** Reads the members' vCards on disk (one that does not parse is left out). */
  async load(): Promise<void> {
    const names = await readdir(join(this.dir, "profiles")).catch(() => [] as string[]);
    for (const name of names) {
      const jamiId = Buffer.from(name.replace(/\.vcf$/, ""), "base64").toString("latin1");
      if (!name.endsWith(".vcf") || !HEX40.test(jamiId)) continue;
      try {
        const bytes = new Uint8Array(await readFile(join(this.dir, "profiles", name)));
        this.members.set(jamiId, { jamiId, ...readPersonalVcard(bytes) });
      } catch {
        // a broken file: as if it were not there (the member's next push replaces it)
      }
    }
  }

  async readOwn(): Promise<Uint8Array | undefined> {
    return readFile(this.ownPath).then(
      (b) => new Uint8Array(b),
      () => undefined,
    );
  }

  async writeOwn(bytes: Uint8Array): Promise<void> {
    await writeAtomic(this.ownPath, bytes);
  }

  member(jamiId: string): MemberProfile | undefined {
    return this.members.get(jamiId);
  }

  async memberBytes(jamiId: string): Promise<Uint8Array | undefined> {
    if (!this.members.has(jamiId)) return undefined;
    return readFile(this.memberPath(jamiId)).then(
      (b) => new Uint8Array(b),
      () => undefined,
    );
  }

  list(): MemberProfile[] {
    return [...this.members.values()];
  }

  /** Keeps a member's vCard (already parsed); false when it is the one we have. */
  async keepMember(jamiId: string, bytes: Uint8Array, profile: PersonalProfile): Promise<boolean> {
    const before = await this.memberBytes(jamiId);
    if (before && Buffer.from(before).equals(bytes)) return false;
    await writeAtomic(this.memberPath(jamiId), bytes);
    this.members.set(jamiId, { jamiId, ...profile });
    return true;
  }

  async forgetMember(jamiId: string): Promise<void> {
    this.members.delete(jamiId);
    await rm(this.memberPath(jamiId), { force: true });
  }
}

/** Write then rename: a crash leaves the old file or the new one, never half of one. */
async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(temporary, bytes, { mode: 0o600 });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
