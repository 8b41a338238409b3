/**
 * An Account of ours inside a jamid harness namespace (`jamih exec -- node --import tsx
 * test-support/jami-account-probe.ts HOST:PORT [ARCHIVE]`; with ARCHIVE, a new device of that account), driven by JSON-line commands on stdin:
 *   {"cmd":"addContact","jamiId":…}  {"cmd":"accept","from":…}  {"cmd":"block","jamiId":…}  {"cmd":"contacts"}
 *   {"cmd":"connect","target":…,"name":…,"send":"text"}   (opens a channel, writes `send`, reports what comes back)
 *   {"cmd":"ping","deviceId":…}                          (jamid's beacon on the link with that device)
 *   {"cmd":"clone","conversationId":…,"from":<Jami ID>}  {"cmd":"join","conversationId":…}  (join also announces)
 *   {"cmd":"send","conversationId":…,"text":…}       (commits and announces to the members' devices)
 *   {"cmd":"post","conversationId":…,"text":…}       (account.conversations.send: what an application calls)
 *   {"cmd":"sendFile","conversationId":…,"path":…}  {"cmd":"download","conversationId":…,"messageId":…,"path":…}
 *   {"cmd":"postMany","conversationId":…,"count":N}  {"cmd":"memory"}  (the process id and its memory usage)
 *   {"cmd":"heapSnapshot","path":…}  {"cmd":"cpuProfile","action":"start"|"stop","path":…}
 *   {"cmd":"createGroup"}  {"cmd":"invite","conversationId":…,"jamiId":…}  {"cmd":"acceptConversation","conversationId":…}
 *   {"cmd":"status","conversationId":…,"messageId":…}  {"cmd":"displayed","conversationId":…,"messageId":…}
 *   {"cmd":"composing","conversationId":…}  {"cmd":"conversations"}  {"cmd":"exportArchive","path":…}
 *   {"cmd":"forge","conversationId":…}   (our device turns hostile: a commit signed by it that adds a file to a text
 *                                         message, made with the git CLI behind our writer's back, set as main, announced)
 *   {"cmd":"disconnect","deviceId":…}                   (closes the link with that device, every channel on it)
 *   {"cmd":"setProfile","displayName":…,"avatar":<base64>}  {"cmd":"profileOf","jamiId":…}
 *   {"cmd":"conversationProfile","conversationId":…}  {"cmd":"updateConversationProfile","conversationId":…,"title":…}
 * and reporting JSON lines: ready, trustRequest, contact, presence, devices, sync, channel, channelData, reply,
 * error, message, conversationRequest, conversationReady, member, composing, read, delivered, conversationError,
 * profileReceived, profileUpdated, conversationProfile, progress (every 5 % of a transfer).
 * Every channel another device asks for is accepted. Ends on stdin EOF.
 */
import { mkdtempSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { spawnSync } from "node:child_process";
import { writeHeapSnapshot } from "node:v8";
import { Account, conversations, type Conversations } from "jami-sdk";
import { SwarmRepository, type RepositoryOptions } from "jami-swarm";

const [bootstrap = "127.0.0.1:4222", archive] = process.argv.slice(2);
const say = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + "\n");

async function main(): Promise<void> {
  const dir = join(mkdtempSync(join(tmpdir(), "probe-")), "account");
  const network = { bootstrap: [bootstrap], host: "127.0.0.1" };
  const account = archive
    ? await Account.import({ archive: new Uint8Array(await readFile(archive)), dir, ...network, features: { conversations: conversations() } })
    : await Account.create({ dir, ...network, features: { conversations: conversations() } });
  account.conversations.on("message", ({ conversationId, message }) =>
    // `t`: when the event fired here (a bench times delivery by it, not by when its reader saw the line)
    say({ event: "message", conversationId, id: message.id, author: message.author, body: message.body, t: Date.now() }),
  );
  account.conversations.on("error", ({ conversationId, from, error }) =>
    say({ event: "conversationError", conversationId, from, error: (error as Error & { rule?: string }).rule ?? error.message }),
  );
  account.conversations.on("request", (r) => say({ event: "conversationRequest", ...r }));
  account.conversations.on("ready", (r) => say({ event: "conversationReady", ...r }));
  account.conversations.on("member", (m) => say({ event: "member", ...m }));
  account.conversations.on("composing", (m) => say({ event: "composing", ...m }));
  account.conversations.on("read", (m) => say({ event: "read", ...m }));
  account.conversations.on("delivered", (m) => say({ event: "delivered", ...m }));
  account.conversations.on("profile", (p) => say({ event: "conversationProfile", ...p }));
  const reported = new Map<string, number>();
  account.conversations.on("progress", (p) => {
    const key = `${p.direction}/${p.fileId}`;
    if (p.bytes < p.total && p.bytes - (reported.get(key) ?? -Infinity) < p.total / 20) return;
    reported.set(key, p.bytes);
    say({ event: "progress", direction: p.direction, fileId: p.fileId, bytes: p.bytes, total: p.total, peer: p.peer });
  });
  account.profile.on("received", ({ profile, deviceId }) =>
    say({
      event: "profileReceived",
      deviceId,
      jamiId: profile.jamiId,
      displayName: profile.displayName,
      avatar: profile.avatar && Buffer.from(profile.avatar).toString("base64"),
    }),
  );
  account.profile.on("updated", ({ profile, from }) => say({ event: "profileUpdated", from, displayName: profile.displayName }));
  account.contacts.on("request", (r) => say({ event: "trustRequest", ...r }));
  account.contacts.on("change", (c) => say({ event: "contact", ...c }));
  account.presence.on("change", (p) => say({ event: "presence", ...p }));
  account.devices.on("change", (d) => say({ event: "devices", deviceIds: d.map((x) => x.deviceId) }));
  account.devices.on("sync", (x) => say({ event: "sync", ...x }));
  account.links.handle(/.*/);
  account.links.on("channel", ({ channel, peer }) => {
    say({ event: "channel", name: channel.name, ...peer });
    channel.on("data", (d: Buffer) => say({ event: "channelData", name: channel.name, bytes: d.length }));
    channel.on("error", (e: Error) => say({ event: "channelError", name: channel.name, message: e.message }));
  });
  await account.start();
  say({ event: "ready", jamiId: account.jamiId, deviceId: account.deviceId, contacts: account.contacts.list().map((c) => c.jamiId) });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    let c: Record<string, string>;
    try {
      c = JSON.parse(line) as Record<string, string>;
    } catch {
      continue;
    }
    try {
      if (c.cmd === "addContact") say({ event: "reply", id: c.id, contact: await account.contacts.add(c.jamiId!) });
      else if (c.cmd === "accept") say({ event: "reply", id: c.id, contact: await account.contacts.accept(c.from!) });
      else if (c.cmd === "block") say({ event: "reply", id: c.id, contact: await account.contacts.block(c.jamiId!) });
      else if (c.cmd === "connect") {
        const started = Date.now();
        const channel = await account.links.connect(c.target!, c.name!, { signal: AbortSignal.timeout(60_000) });
        channel.on("data", (d: Buffer) => say({ event: "channelData", name: channel.name, bytes: d.length }));
        channel.on("error", (e: Error) => say({ event: "channelError", name: channel.name, message: e.message }));
        if (c.send) channel.write(c.send);
        say({ event: "reply", id: c.id, name: channel.name, ms: Date.now() - started, devices: account.links.connected() });
      } else if (c.cmd === "ping") say({ event: "reply", id: c.id, ms: await account.links.ping(c.deviceId!) });
      else if (c.cmd === "contacts") say({ event: "reply", id: c.id, contacts: account.contacts.list() });
      else if (c.cmd === "clone") {
        const repo = await account.conversations.clone(c.conversationId!, c.from!, { signal: AbortSignal.timeout(90_000) });
        say({ event: "reply", id: c.id, head: await repo.head(), members: await repo.members() });
      } else if (c.cmd === "join" || c.cmd === "send") {
        const repo = account.conversations.get(c.conversationId!)!;
        const commit = c.cmd === "join" ? await repo.join() : await repo.sendText(c.text!);
        const devices = await account.conversations.announce(c.conversationId!, commit, { signal: AbortSignal.timeout(90_000) });
        say({ event: "reply", id: c.id, commit, devices });
      } else if (c.cmd === "post") {
        say({ event: "reply", id: c.id, commit: await account.conversations.send(c.conversationId!, c.text!) });
      } else if (c.cmd === "postMany") {
        // a long history written at once (nobody to announce it to yet): what a clone benchmark starts from
        const repo = account.conversations.get(c.conversationId!)!;
        for (let i = 0; i < Number(c.count); i++) await repo.sendText(`message ${i}`);
        say({ event: "reply", id: c.id, head: await repo.head() });
      } else if (c.cmd === "sendFile") {
        say({ event: "reply", id: c.id, ...(await account.conversations.sendFile(c.conversationId!, c.path!)) });
      } else if (c.cmd === "download") {
        // in the background: other commands (a disconnect in the middle) go on meanwhile
        const id = c.id;
        account.conversations.download(c.conversationId!, c.messageId!, c.path!, { signal: AbortSignal.timeout(Number(c.timeoutMs ?? 180_000)) }).then(
          (path) => say({ event: "reply", id, path }),
          (e: Error & { code?: string }) => say({ event: "error", id, message: e.message, code: e.code }),
        );
      } else if (c.cmd === "memory") {
        // after a full GC when the process was started with --expose-gc: what is live, not what awaits collection
        // (twice: the first may leave what only weak references held)
        (globalThis as { gc?: () => void }).gc?.();
        (globalThis as { gc?: () => void }).gc?.();
        say({ event: "reply", id: c.id, pid: process.pid, ...process.memoryUsage() });
      } else if (c.cmd === "heapSnapshot") {
        // {"cmd":"heapSnapshot","path":…}: V8's heap snapshot (after a full GC), to see what the memory figure holds
        (globalThis as { gc?: () => void }).gc?.();
        say({ event: "reply", id: c.id, path: writeHeapSnapshot(c.path!) });
      } else if (c.cmd === "cpuProfile") {
        // {"cmd":"cpuProfile","action":"start"} … {"cmd":"cpuProfile","action":"stop","path":…}: V8's profile of this process
        say({ event: "reply", id: c.id, ...(await cpuProfile(c.action === "stop" ? c.path : undefined)) });
      } else if (c.cmd === "createGroup") {
        say({ event: "reply", id: c.id, conversationId: (await account.conversations.create()).conversationId });
      } else if (c.cmd === "invite") {
        say({ event: "reply", id: c.id, ...(await account.conversations.invite(c.conversationId!, c.jamiId!, { signal: AbortSignal.timeout(90_000) })) });
      } else if (c.cmd === "acceptConversation") {
        const repo = await account.conversations.accept(c.conversationId!, { signal: AbortSignal.timeout(90_000) });
        say({ event: "reply", id: c.id, head: await repo.head(), members: await repo.members() });
      } else if (c.cmd === "status") {
        say({ event: "reply", id: c.id, status: await account.conversations.status(c.conversationId!, c.messageId!) });
      } else if (c.cmd === "displayed") {
        await account.conversations.markDisplayed(c.conversationId!, c.messageId!, { signal: AbortSignal.timeout(60_000) });
        say({ event: "reply", id: c.id });
      } else if (c.cmd === "composing") {
        await account.conversations.setComposing(c.conversationId!, true, { signal: AbortSignal.timeout(60_000) });
        say({ event: "reply", id: c.id });
      } else if (c.cmd === "conversations") {
        const list = await Promise.all(
          account.conversations
            .list()
            .map(async (id) => ({ id, head: await account.conversations.get(id)!.head(), members: await account.conversations.get(id)!.members() })),
        );
        say({ event: "reply", id: c.id, conversations: list });
      } else if (c.cmd === "exportArchive") {
        await writeFile(c.path!, await account.devices.exportArchive());
        say({ event: "reply", id: c.id, path: c.path });
      } else if (c.cmd === "forge") {
        say({ event: "reply", id: c.id, commit: await forge(account, c.conversationId!) });
      } else if (c.cmd === "disconnect") {
        account.links.disconnect(c.deviceId!);
        say({ event: "reply", id: c.id });
      } else if (c.cmd === "setProfile") {
        const profile = await account.profile.set({
          displayName: c.displayName ?? null,
          avatar: c.avatar ? new Uint8Array(Buffer.from(c.avatar, "base64")) : null,
        });
        say({ event: "reply", id: c.id, displayName: profile.displayName, vcard: Buffer.from(account.profile.vcard()!).toString("base64") });
      } else if (c.cmd === "profileOf") {
        const p = account.profile.of(c.jamiId!);
        say({ event: "reply", id: c.id, displayName: p?.displayName, avatar: p?.avatar && Buffer.from(p.avatar).toString("base64") });
      } else if (c.cmd === "conversationProfile") {
        say({ event: "reply", id: c.id, profile: await account.conversations.profile(c.conversationId!) });
      } else if (c.cmd === "updateConversationProfile") {
        say({ event: "reply", id: c.id, commit: await account.conversations.updateProfile(c.conversationId!, { title: c.title! }) });
      } else if (c.cmd === "waitDevices") {
        // Until the account's devices are on the DHT (set-up waits on this, not on a fixed delay).
        const deadline = Date.now() + 60_000;
        let devices = await account.devices.of(c.jamiId!);
        while (devices.length === 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 250));
          devices = await account.devices.of(c.jamiId!);
        }
        say({ event: "reply", id: c.id, deviceIds: devices.map((d) => d.deviceId.toString()) });
      } else say({ event: "error", id: c.id, message: `unknown command ${c.cmd}` });
    } catch (e) {
      say({ event: "error", id: c.id, message: (e as Error).message });
    }
  }
  await account.stop();
  // a stopped account lets the process end; what still holds it after a while is named on stderr (the probe's log)
  setTimeout(() => console.error(`still running 5 s after stop: ${process.getActiveResourcesInfo().join(", ")}`), 5000).unref();
}

/**
 * What a hostile member could send: a commit signed by our device (as jamid signs) whose body is a text message but
 * which adds `evil.txt` (jamid's rule: a text message changes no file). Written with the git CLI, not our writer
 * (which would refuse), made `main` of a freshly opened copy that our git server then serves, and announced.
 */
async function forge(account: Account & { conversations: Conversations }, conversationId: string): Promise<string> {
  const repo = account.conversations.get(conversationId)!;
  const dir = repo.dir;
  const device = account.deviceId;
  const env = { ...process.env, GIT_AUTHOR_NAME: "x", GIT_AUTHOR_EMAIL: device, GIT_COMMITTER_NAME: "x", GIT_COMMITTER_EMAIL: device };
  const git = (input: string | undefined, ...args: string[]): string => {
    const r = spawnSync("git", ["-C", dir, ...args], { env, encoding: "utf8", input });
    if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  await writeFile(join(dir, "evil.txt"), "x");
  git(undefined, "add", "evil.txt");
  git(undefined, "commit", "-q", "-m", '{"body":"looks like a message","type":"text/plain"}');
  const body = git(undefined, "cat-file", "commit", "HEAD");
  const signature = Buffer.from(account.identity.signingDevice.key.sign(new TextEncoder().encode(body), "sha512")).toString("base64");
  const evil = git(body.replace(/^(committer [^\n]*\n)/m, `$1signature ${signature}\n`), "hash-object", "-t", "commit", "-w", "--stdin").trim();
  git(undefined, "update-ref", "refs/heads/main", evil);
  // the feature's copy reads refs at open: a new one serves the forged head (test-only reach into its shelf)
  const shelf = (account.conversations as unknown as { shelf: { repos: Map<string, SwarmRepository>; repoOptions: () => RepositoryOptions } }).shelf;
  shelf.repos.set(conversationId, await SwarmRepository.open(dir, shelf.repoOptions()));
  await account.conversations.announce(conversationId, evil);
  return evil;
}

let profiling: import("node:inspector").Session | undefined;
/** Starts V8's CPU profiler (no path) or stops it and writes the `.cpuprofile` to `path`. */
async function cpuProfile(path?: string): Promise<Record<string, unknown>> {
  const { Session } = await import("node:inspector");
  const post = (session: import("node:inspector").Session, method: string, params?: object) =>
    new Promise<Record<string, unknown>>((resolve, reject) =>
      session.post(method, params ?? {}, (e, r) => (e ? reject(e) : resolve(r as Record<string, unknown>))),
    );
  if (!path) {
    profiling = new Session();
    profiling.connect();
    await post(profiling, "Profiler.enable");
    await post(profiling, "Profiler.start");
    return { started: true };
  }
  if (!profiling) throw new Error("no profile started");
  const { profile } = await post(profiling, "Profiler.stop");
  profiling.disconnect();
  profiling = undefined;
  await writeFile(path, JSON.stringify(profile));
  return { path };
}

main().catch((e) => {
  say({ event: "error", message: (e as Error).message });
  process.exitCode = 1;
});
