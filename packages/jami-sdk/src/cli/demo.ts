import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAccount, exportAccount, importAccount, isIdentityError, loadAccount, revokeDevice, verifyDeviceChain, type Certificate } from "jami-identity";
import type { CliIo } from "./output.js";
import { createLocalNetwork, type LocalNetworkAccount } from "../local-network.js";

const DEMO_PASSWORD = "demo-password";

/** A readable walk-through: create, reload, export, second device, revoke; then two accounts meeting on a local DHT. */
export async function demoCommand(io: CliIo): Promise<void> {
  const say = (line = "") => io.stdout(line + "\n");
  const root = await mkdtemp(join(tmpdir(), "jami-demo-"));
  const timed = async <T>(work: () => Promise<T>): Promise<[T, string]> => {
    const start = performance.now();
    const result = await work();
    return [result, `${((performance.now() - start) / 1000).toFixed(2)} s`];
  };

  say("jami-ts demo: a Jami account, byte-compatible with the reference daemon");
  say(`working directory: ${root}`);
  say();
  say('1. Creating account "Alice" (three RSA-4096 keys: CA, account, device)...');
  const [alice, took] = await timed(() => createAccount({ dir: join(root, "alice"), password: DEMO_PASSWORD, displayName: "Alice" }));
  say(`   done in ${took}`);
  say(`   Jami ID         ${alice.jamiId}`);
  say(`   device ID       ${alice.deviceId}`);
  say(`   device short id ${alice.deviceShortId}`);
  say(`   device name     ${alice.deviceName}`);
  for (const cert of [alice.device.certificate, ...alice.device.issuers]) say(`   ${describe(cert)}`);
  say();

  say("2. Loading the account directory back...");
  const loaded = await loadAccount({ dir: alice.dir });
  say(`   same Jami ID: ${loaded.jamiId.equals(alice.jamiId)}, same device: ${loaded.deviceId.equals(alice.deviceId)}`);
  say();

  say(`3. Exporting the archive (password "${DEMO_PASSWORD}": Argon2i + AES-256-GCM, as jamid)...`);
  const archive = await exportAccount({ dir: alice.dir, password: DEMO_PASSWORD });
  say(`   ${archive.byteLength} bytes`);
  say("   Importing it as a second device...");
  const second = await importAccount({ archive, dir: join(root, "alice-laptop"), password: DEMO_PASSWORD });
  say(`   Jami ID         ${second.jamiId} (same: ${second.jamiId.equals(alice.jamiId)})`);
  say(`   new device ID   ${second.deviceId}`);
  verifyDeviceChain([second.device.certificate, ...second.device.issuers], { expectedJamiId: alice.jamiId });
  say("   its chain verifies up to Alice's Jami ID");
  say();

  say("4. Revoking the second device (a CRL signed by the account key)...");
  const crl = await revokeDevice({ dir: alice.dir, password: DEMO_PASSWORD, device: second.device.certificate });
  try {
    verifyDeviceChain([second.device.certificate, ...second.device.issuers], { revocationLists: [crl] });
    say("   unexpected: the revoked device still verifies");
  } catch (error) {
    if (!isIdentityError(error, "CHAIN_REVOKED")) throw error;
    say(`   the revoked device is now refused: ${error.code}`);
  }
  verifyDeviceChain([alice.device.certificate, ...alice.device.issuers], { revocationLists: [crl] });
  say("   the first device still verifies");
  say();
  say("5. Two accounts on an embedded local DHT (127.0.0.1), as jamid would be on the real network...");
  const [net, started] = await timed(() => createLocalNetwork({ accounts: 2, names: ["alice", "bob"], dir: join(root, "network") }));
  const [a, b] = net.accounts as [LocalNetworkAccount, LocalNetworkAccount];
  say(`   DHT bootstrap node ${net.bootstrap[0]}; both accounts created, started and announced in ${started}`);
  say(`   alice ${a.jamiId}  device ${a.deviceId.slice(0, 16)}…`);
  say(`   bob   ${b.jamiId}  device ${b.deviceId.slice(0, 16)}…`);
  try {
    const bobDevices = await a.devices.of(b.jamiId);
    say(`   alice finds bob's device on the DHT, chain verified: ${bobDevices.map((d) => d.deviceId.toString().slice(0, 16) + "…").join(", ")}`);
    const online = new Promise<void>((resolve) => a.presence.on("change", (p) => p.online && resolve()));
    const received = new Promise<string>((resolve) => b.contacts.once("request", (r) => resolve(r.from)));
    const [, sent] = await timed(() => a.contacts.add(b.jamiId));
    say(`   alice sends a trust request (encrypted to bob's device, at its inbox key) in ${sent}`);
    const from = await received;
    say(`   bob receives it from ${from === a.jamiId ? "alice" : from}`);
    await online;
    say("   alice sees bob online (his device announcement is live)");
    const confirmed = new Promise<void>((resolve) => a.contacts.on("change", (c) => c.confirmed && resolve()));
    const bobReady = new Promise<string>((resolve) => b.conversations.once("ready", ({ conversationId }) => resolve(conversationId)));
    const bobJoined = new Promise<void>((resolve) => a.conversations.on("member", (m) => m.action === "join" && m.jamiId === b.jamiId && resolve()));
    await b.contacts.accept(a.jamiId);
    await confirmed;
    say(
      `   bob accepts; alice's contact list: ${a.contacts
        .list()
        .map((c) => `${c.jamiId.slice(0, 8)}… confirmed=${c.confirmed}`)
        .join(", ")}`,
    );
    say();
    say("6. A direct link between their devices (ICE-TCP, TLS with both device chains checked) and a channel on it...");
    b.links.handle("echo", ({ peer }) => peer.jamiId === a.jamiId);
    b.links.on("channel", ({ channel }) => channel.name === "echo" && channel.on("data", (d: Buffer) => channel.write(d.toString().toUpperCase())));
    const [channel, linked] = await timed(() => a.links.connect(b.jamiId, "echo"));
    say(`   alice opens channel "${channel.name}" to bob's device in ${linked}`);
    const echoed = new Promise<string>((resolve) => channel.once("data", (d: Buffer) => resolve(d.toString())));
    channel.write("hello over the link");
    say(`   bob's device answers: ${await echoed}`);
    channel.end();
    say();
    say("7. Their one-to-one conversation (a git repository on each side, signed commits, as jamid's swarms)...");
    const conversationId = await bobReady;
    await bobJoined;
    say(`   alice's trust request named conversation ${conversationId.slice(0, 12)}…; bob cloned it when he accepted, and joined`);
    const chat = (who: LocalNetworkAccount, name: string): void =>
      void who.conversations.on("message", ({ message }) => {
        if (message.body.type === "text/plain") say(`   ${name} receives: "${message.body.body}" (commit ${message.id.slice(0, 12)}…)`);
      });
    chat(b, "bob");
    chat(a, "alice");
    const bobGot = new Promise<void>((resolve) => b.conversations.once("message", () => resolve()));
    const [hello, posted] = await timed(async () => {
      const id = await a.conversations.send(conversationId, "Hi Bob! This is a swarm message.");
      await bobGot;
      return id;
    });
    say(`   alice → bob delivered in ${posted}; its status on alice's side: ${await a.conversations.status(conversationId, hello)}`);
    const aliceGot = new Promise<void>((resolve) => a.conversations.once("message", () => resolve()));
    await b.conversations.send(conversationId, "Hello Alice, got it.", { replyTo: hello });
    await aliceGot;
    const history = await a.conversations.loadMessages(conversationId);
    say(`   alice's history, newest first: ${history.map((m) => m.body.type).join(", ")}`);
  } finally {
    await net.close();
  }
  say();
  say(`Accounts are in ${root}; try: npx jami account inspect --archive ${join(alice.dir, "archive.gz")} --password ${DEMO_PASSWORD}`);
}

function describe(cert: Certificate): string {
  const role = cert.isCA ? (cert.isSelfIssued ? "CA     " : "account") : "device ";
  return (
    `${role} CN=${cert.subject.cn}, UID=${cert.subject.uid}  issuer CN=${cert.issuer.cn}  ` +
    `serial ${cert.serialNumber}  valid ${cert.notBefore.toISOString().slice(0, 10)} → ${cert.notAfter.toISOString().slice(0, 10)}`
  );
}
