/**
 * Our side of the Account benchmark, run inside the jamid harness's namespace (`jamih exec -- node --import tsx
 * bench/account-probe.ts HOST:PORT`). JSON-line commands on stdin, replies and timestamped events on stdout:
 *   {"id","cmd":"watch","jamiId"}            → events {event:"announced", jamiId, device, t} for each new device value
 *   {"id","cmd":"startOnline"}               → reply {ms}: the sender account's start() until the watcher sees it
 *   {"id","cmd":"importOnline","archive"}    → reply {ms}: Account.import + start() until the watcher sees the device
 *   {"id","cmd":"send","to"}                 → reply {t0}: the sender account's addContact(to) began at t0
 *   {"id","cmd":"decline","from"}            → the receiver declines, so the next request counts as new
 *   {"id","cmd":"link","jamiId"}             → reply {ms}: a fresh link to that account's device until a `sip` channel is accepted
 * The receiver account reports {event:"trustRequest", from, t}. Times are Unix ms (this machine's clock).
 */
import { mkdtempSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { DhtNode } from "jami-dht";
import { JamiId } from "jami-identity";
import { Account } from "jami-sdk";
import { JamiDhtKeys, readDeviceAnnouncement } from "jami-sdk/internal";

const [bootstrap = "127.0.0.1:4222"] = process.argv.slice(2);
const say = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + "\n");
const network = { bootstrap: [bootstrap], host: "127.0.0.1" };
const work = mkdtempSync(join(tmpdir(), "bench-account-"));

async function main(): Promise<void> {
  const watcher = await DhtNode.create({ host: "127.0.0.1", port: 0, bootstrap: [bootstrap] });
  await watcher.bootstrap([]);
  const seen = new Set<string>();
  const arrivals: Array<(jamiId: string, device: string) => void> = [];
  const watch = (jamiId: string): void => {
    const id = JamiId.fromHex(jamiId);
    watcher.listen(JamiDhtKeys.account(id)).on("value", (v) => {
      const device = readDeviceAnnouncement(v, id);
      if (!device || seen.has(`${v.id}`)) return;
      seen.add(`${v.id}`);
      say({ event: "announced", jamiId, device: device.shortId.toString(), t: Date.now() });
      for (const f of arrivals.splice(0)) f(jamiId, device.shortId.toString());
    });
  };
  /** Resolves with the `performance.now()` at which the watcher saw that device announced. */
  const nextAnnouncement = (jamiId: string, device: string): Promise<number> =>
    new Promise((resolve) => {
      const check = (j: string, d: string): void => {
        if (j === jamiId && d === device) resolve(performance.now());
        else arrivals.push(check);
      };
      arrivals.push(check);
    });

  const [sender, receiver] = await Promise.all([
    Account.create({ dir: join(work, "sender"), ...network }),
    Account.create({ dir: join(work, "receiver"), ...network }),
  ]);
  receiver.contacts.on("request", (r) => say({ event: "trustRequest", from: r.from, confirm: r.confirm, t: Date.now() }));
  await receiver.start();
  watch(sender.jamiId);
  say({ event: "ready", sender: sender.jamiId, receiver: receiver.jamiId });

  for await (const line of createInterface({ input: process.stdin })) {
    let c: Record<string, string>;
    try {
      c = JSON.parse(line) as Record<string, string>;
    } catch {
      continue;
    }
    try {
      if (c.cmd === "watch") {
        watch(c.jamiId!);
        say({ id: c.id });
      } else if (c.cmd === "startOnline") {
        await sender.stop();
        const seenIt = nextAnnouncement(sender.jamiId, sender.identity.deviceShortId.toString());
        const t0 = performance.now();
        await sender.start();
        const started = performance.now() - t0;
        say({ id: c.id, ms: (await seenIt) - t0, startResolvedMs: started });
      } else if (c.cmd === "importOnline") {
        const archive = new Uint8Array(await readFile(c.archive!));
        const t0 = performance.now();
        const device = await Account.import({ archive, dir: mkdtempSync(join(work, "import-")), ...network });
        const imported = performance.now() - t0;
        const seenIt = nextAnnouncement(device.jamiId, device.identity.deviceShortId.toString());
        await device.start();
        const started = performance.now() - t0;
        say({ id: c.id, ms: (await seenIt) - t0, importMs: imported, startResolvedMs: started });
        await device.stop();
      } else if (c.cmd === "send") {
        // Each request a new conversation: a receiver ignores a request it already declined.
        await sender.contacts.remove(c.to!);
        const t0 = Date.now();
        await sender.contacts.add(c.to!);
        say({ id: c.id, t0 });
      } else if (c.cmd === "link") {
        const [device] = await sender.devices.of(c.jamiId!);
        if (!device) throw new Error(`no device of ${c.jamiId}`);
        sender.links.disconnect(device.deviceId.toString());
        await new Promise((r) => setTimeout(r, 500));
        const t0 = performance.now();
        const channel = await sender.links.connect(device, "sip");
        say({ id: c.id, ms: performance.now() - t0 });
        channel.end();
        sender.links.disconnect(device.deviceId.toString());
      } else if (c.cmd === "decline") {
        await receiver.contacts.decline(c.from!);
        say({ id: c.id });
      } else say({ id: c.id, error: `unknown command ${c.cmd}` });
    } catch (e) {
      say({ id: c.id, error: (e as Error).message });
    }
  }
  await Promise.all([sender.stop(), receiver.stop(), watcher.close()]);
}

main().catch((e) => {
  say({ event: "error", message: (e as Error).message });
  process.exitCode = 1;
});
