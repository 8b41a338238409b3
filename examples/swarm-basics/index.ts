// A group conversation between two accounts, each with its own copy on disk, exactly as jamid keeps it. On the
// real network the stream below is a `git://<device>/<conversation>` channel of a device link; here it is an
// in-memory pipe. Everything else is what a Jami device does: signed commits, validation, fetch, merge.
import * as fs from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex, PassThrough } from "node:stream";
import { createAccountKeys, createDevice, type DeviceIdentity } from "jami-identity";
import { SwarmRepository, fetchPack, serveUploadPack, verifyConversation, type GitFs } from "jami-swarm";

const nodeFs = fs as unknown as GitFs;

function pipe(): [Duplex, Duplex] {
  const [ab, ba] = [new PassThrough(), new PassThrough()];
  return [Duplex.from({ readable: ba, writable: ab }), Duplex.from({ readable: ab, writable: ba })];
}

/** `client` fetches `server`'s main over a stream: our upload-pack server on one end, our client on the other. */
async function fetchFrom(server: SwarmRepository, client?: SwarmRepository) {
  const [serverEnd, clientEnd] = pipe();
  const serving = serveUploadPack(serverEnd, async (id) => (id === server.conversationId ? server : undefined));
  const fetched = await fetchPack(clientEnd, {
    conversationId: server.conversationId,
    host: "device-of-the-server",
    haves: client ? await client.haves() : [],
    hasCommit: client ? (oid) => client.store.has(oid) : undefined,
  });
  await serving;
  return fetched;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "swarm-basics-"));
  try {
    const device = async (): Promise<DeviceIdentity> => createDevice(await createAccountKeys({ bits: 2048 }), { bits: 2048 });
    const [alice, bob] = [await device(), await device()];
    const bobUri = bob.certificate.issuer.uid!;
    const deviceId = (d: DeviceIdentity) => d.certificate.deviceId.toString();

    // Alice creates a group (mode 2, jamid's default) and invites Bob: a `member add` commit.
    const aliceCopy = await SwarmRepository.create(join(root, "alice"), { mode: 2 }, { fs: nodeFs, author: { device: alice, displayName: "Alice" } });
    await aliceCopy.addMember(bobUri);
    console.log(`conversation ${aliceCopy.conversationId} created, ${bobUri.slice(0, 8)}… invited`);

    // Bob clones it (the whole history is validated before anything is written) and joins.
    const first = await fetchFrom(aliceCopy);
    const bobCopy = await SwarmRepository.clone(
      join(root, "bob"),
      { conversationId: aliceCopy.conversationId, remoteDevice: deviceId(alice), head: first.head, pack: first.pack! },
      { fs: nodeFs, author: { device: bob, displayName: "Bob" } },
    );
    await bobCopy.join();

    // Both post at the same time; each fetches from the other: a merge commit, then the copies converge.
    await aliceCopy.sendText("hello Bob 👋");
    await bobCopy.sendText("hi Alice");
    const toAlice = await fetchFrom(bobCopy, aliceCopy);
    const merged = await aliceCopy.applyFetch(deviceId(bob), toAlice.head, toAlice.pack);
    console.log(`alice: ${merged.result}, new: ${merged.newCommits.map((m) => m.body.type).join(", ")}`);
    const toBob = await fetchFrom(aliceCopy, bobCopy);
    console.log(`bob: ${(await bobCopy.applyFetch(deviceId(alice), toBob.head, toBob.pack)).result}`);
    console.log(`same head on both copies: ${(await aliceCopy.head()) === (await bobCopy.head())}`);

    for (const message of await bobCopy.load({ skipMerge: true })) {
      const text = message.body.type === "text/plain" ? message.body.body : message.body.type;
      console.log(`  ${message.author.slice(0, 8)}…  ${text}`);
    }

    // An audit of Bob's copy with every rule (what `jami swarm verify` prints).
    const audit = await verifyConversation(bobCopy.dir, { fs: nodeFs });
    console.log(`verified: ${audit.commits} commits, admins ${audit.members.admins.length}, members ${audit.members.members.length}`);

    // A member may not change the conversation's profile: our writer refuses, and so would any peer's validator.
    await bobCopy.updateProfile({ title: "mine" }).catch((e: Error) => console.log(`bob's profile update: ${(e as { code?: string }).code}`));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
