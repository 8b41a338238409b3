import { readFile } from "node:fs/promises";
import { openAccount, type AccountCliOptions } from "./open.js";
import { printLine as line, UsageError, type CliIo } from "./output.js";
import type { PersonalProfile } from "../features/vcard.js";

export interface ProfileCliOptions extends AccountCliOptions {
  name?: string;
  avatar?: string;
  "no-avatar"?: boolean;
}

/** What the CLI prints of a profile: the avatar as its size and base64 (it is small: a client scales it down). */
function describe(profile: PersonalProfile): Record<string, unknown> {
  return {
    displayName: profile.displayName ?? null,
    avatar: profile.avatar ? { bytes: profile.avatar.length, base64: Buffer.from(profile.avatar).toString("base64") } : null,
  };
}

/**
 * `jami profile show --dir D`: the account's display name and avatar, and the members' profiles kept.
 * `jami profile set --dir D [--name N] [--avatar FILE | --no-avatar]`: changes ours (members' devices get it at their
 * next sync with this account, as jamid's do); what is not given is kept.
 */
export async function profileCommand(sub: string | undefined, options: ProfileCliOptions, io: CliIo): Promise<void> {
  switch (sub) {
    case "show": {
      const account = await openAccount(options);
      return line(io, {
        jamiId: account.jamiId,
        ...describe(account.profile.get()),
        members: account.profile.members().map((m) => ({ jamiId: m.jamiId, ...describe(m) })),
      });
    }
    case "set": {
      if (options.name === undefined && options.avatar === undefined && !options["no-avatar"])
        throw new UsageError("usage: jami profile set --dir D [--name N] [--avatar FILE | --no-avatar]");
      if (options.avatar !== undefined && options["no-avatar"]) throw new UsageError("--avatar and --no-avatar together");
      const avatar = options.avatar !== undefined ? new Uint8Array(await readFile(options.avatar)) : options["no-avatar"] ? null : undefined;
      const account = await openAccount(options);
      const profile = await account.profile.set({
        ...(options.name !== undefined ? { displayName: options.name || null } : {}),
        ...(avatar !== undefined ? { avatar } : {}),
      });
      return line(io, { jamiId: account.jamiId, ...describe(profile) });
    }
    default:
      throw new UsageError(`unknown profile command "${sub ?? ""}"; try jami --help`);
  }
}
