import { parseArgs } from "node:util";
import { isJamiError } from "jami-core";
import { accountCommand } from "./account.js";
import { demoCommand } from "./demo.js";
import { contactCommand, onlineCommand } from "./contact.js";
import { conversationCommand, messageCommand } from "./conversation.js";
import { fileCommand } from "./file.js";
import { profileCommand } from "./profile.js";
import { dhtCommand } from "./dht.js";
import { swarmCommand } from "./swarm.js";
import { processIo, UsageError, type CliIo } from "./output.js";

const HELP = `jami — the Jami SDK command line (every command prints one JSON document)

  jami account create  --dir D [--password P] [--name N]
  jami account inspect --archive F [--password P]
  jami account export  --dir D --out F [--password P]
  jami account import  --archive F --dir D [--password P]
  jami demo            (a readable walk-through, not JSON)

  jami online  --dir D [--password P] [--bootstrap HOST:PORT]... [--proxy URL] [--port N] [--bind ADDR] [--accept-all]
               [--ice-address ADDR]...   (addresses device links offer; a loopback --bind implies it)
               [--gc-interval MINUTES]   (a full GC every 5 minutes by default, 0 = never: an idle process otherwise
                                          keeps its garbage for hours; see the README's "Memory over time")
      (JSON lines: online, presence, trustRequest, contact, message, conversationRequest, conversationReady, member,
       composing, read, delivered; until Ctrl-C. --accept-all accepts trust requests and invitations)
  jami contact add|accept|remove|block JAMI_ID --dir D [--password P] --bootstrap HOST:PORT
  jami contact decline JAMI_ID --dir D [--password P]
  jami contact list --dir D [--password P]

  jami conversation list     --dir D                       conversations (id, mode, head, members) and invitations
  jami conversation create   --dir D [--title T] [--mode 1|2|3]
  jami conversation invite   CONVERSATION_ID JAMI_ID --dir D --bootstrap HOST:PORT
  jami conversation accept   CONVERSATION_ID --dir D --bootstrap HOST:PORT   (clones from the inviter, joins)
  jami conversation decline  CONVERSATION_ID --dir D
  jami conversation leave    CONVERSATION_ID --dir D --bootstrap HOST:PORT
  jami conversation messages CONVERSATION_ID --dir D [--n N]   (JSON lines, newest first)
  jami message send CONVERSATION_ID TEXT --dir D --bootstrap HOST:PORT [--reply-to COMMIT] [--wait S]
      {id, status}: stays online until a member's device fetched the message ("delivered"), at most S s (30)
  jami file send CONVERSATION_ID PATH --dir D --bootstrap HOST:PORT [--name N] [--reply-to COMMIT] [--wait S]
      {id, fileId, sha3sum, totalSize…}; members download it from any device of ours that is online (S s here)
  jami file get CONVERSATION_ID MESSAGE_ID --out PATH|DIR --dir D --bootstrap HOST:PORT
      downloads (resumes what PATH holds), checks SHA3-512; progress as JSON lines, then {path, verified}

  jami profile show --dir D                      our display name and avatar, and the members' profiles kept
  jami profile set  --dir D [--name N] [--avatar FILE | --no-avatar]
      members' devices get it at their next sync with this account
  jami conversation profile     CONVERSATION_ID --dir D      {title, description, avatar, mode}
  jami conversation set-profile CONVERSATION_ID --dir D --bootstrap HOST:PORT [--title T] [--description D] [--avatar FILE]
      (admins only, as jamid)

  jami dht node   [--port 4222] [--bind ADDR] [--bootstrap HOST:PORT]... [--proxy-port P] [--status-interval S]
                  [--no-rate-limit]   (like dhtnode -U: no 8192/s global, 1024/s per-IP request limits)
                  [--gc-interval MINUTES]   (a full GC every 5 minutes by default, 0 = never)
  jami dht get    KEY --bootstrap HOST:PORT
  jami dht put    KEY VALUE --bootstrap HOST:PORT [--type N] [--user-type T]
  jami dht listen KEY --bootstrap HOST:PORT [--duration S]
      (dht commands print JSON lines; node and listen run until Ctrl-C)

  jami swarm verify DIR [--lenient]   checks a conversation repository (jamid's or ours) commit by commit:
                                      {conversationId, mode, head, commits, members}, or exit 1 with
                                      {error: {code, message, commit, rule}} for the first refused commit
  jami swarm log DIR                  its messages in display order, newest first (JSON lines)

The password may also come from the JAMI_PASSWORD environment variable.
On failure: {"error": {"code", "message"}} and a non-zero exit status.
`;

/** Runs one CLI command; resolves to the process exit status. */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        dir: { type: "string" },
        archive: { type: "string" },
        out: { type: "string" },
        password: { type: "string" },
        name: { type: "string" },
        help: { type: "boolean", short: "h" },
        port: { type: "string" },
        bind: { type: "string" },
        bootstrap: { type: "string", multiple: true },
        network: { type: "string" },
        type: { type: "string" },
        "user-type": { type: "string" },
        duration: { type: "string" },
        "status-interval": { type: "string" },
        "proxy-port": { type: "string" },
        "no-rate-limit": { type: "boolean" },
        proxy: { type: "string" },
        "accept-all": { type: "boolean" },
        "ice-address": { type: "string", multiple: true },
        lenient: { type: "boolean" },
        title: { type: "string" },
        mode: { type: "string" },
        n: { type: "string" },
        "reply-to": { type: "string" },
        wait: { type: "string" },
        avatar: { type: "string" },
        "no-avatar": { type: "boolean" },
        "gc-interval": { type: "string" },
        description: { type: "string" },
      },
    });
    const [command, sub] = positionals;
    if (values.help || command === "help") {
      io.stdout(HELP);
      return 0;
    }
    const password = values.password ?? (process.env.JAMI_PASSWORD || undefined);
    switch (command) {
      case "account":
        await accountCommand(sub, { ...values, password }, io);
        return 0;
      case "online":
        await onlineCommand({ ...values, password }, io, io.signal);
        return 0;
      case "contact":
        await contactCommand(sub, positionals.slice(2), { ...values, password }, io);
        return 0;
      case "conversation":
        await conversationCommand(sub, positionals.slice(2), { ...values, password }, io);
        return 0;
      case "message":
        await messageCommand(sub, positionals.slice(2), { ...values, password }, io);
        return 0;
      case "file":
        await fileCommand(sub, positionals.slice(2), { ...values, password }, io);
        return 0;
      case "profile":
        await profileCommand(sub, { ...values, password }, io);
        return 0;
      case "dht":
        await dhtCommand(sub, positionals.slice(2), values, io, io.signal);
        return 0;
      case "swarm":
        return await swarmCommand(sub, positionals.slice(2), values, io);
      case "demo":
        await demoCommand(io);
        return 0;
      default:
        throw new UsageError(`unknown command "${command ?? ""}"; try jami --help`);
    }
  } catch (error) {
    const { code, message } = describeError(error);
    io.stdout(JSON.stringify({ error: { code, message } }) + "\n");
    return code === "USAGE" ? 2 : 1;
  }
}

function describeError(error: unknown): { code: string; message: string } {
  // Every package's errors (IdentityError, DhtError, IceError, LinkError, AccountError, UsageError) share one base.
  if (isJamiError(error)) return { code: error.code, message: error.message };
  const e = error as NodeJS.ErrnoException;
  if (e?.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" || e?.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    return { code: "USAGE", message: e.message };
  }
  if (typeof e?.code === "string" && e.code.startsWith("E")) return { code: `FS_${e.code}`, message: e.message };
  return { code: "INTERNAL", message: e instanceof Error ? e.message : String(error) };
}
