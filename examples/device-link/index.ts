// Two accounts on an embedded local DHT: bob lets alice's devices open "chat" channels, alice opens one to bob's
// Jami ID and they talk. On the real network the accounts would be on different machines; the link is the same
// (a DHT connection request, ICE-TCP, TLS with both device chains checked, jamid's multiplexed channels).
import { createLocalNetwork } from "jami-sdk";

async function main(): Promise<void> {
  const net = await createLocalNetwork({ accounts: 2, names: ["alice", "bob"] });
  const [alice, bob] = net.accounts;
  try {
    bob!.links.handle("chat", ({ peer }) => peer.jamiId === alice!.jamiId);
    bob!.links.on("channel", ({ channel, peer }) => {
      console.log(`bob: ${peer.jamiId.slice(0, 8)}… opened "${channel.name}"`);
      channel.on("data", (d: Buffer) => channel.write(`bob heard: ${d.toString()}`));
    });

    const channel = await alice!.links.connect(bob!.jamiId, "chat");
    const reply = new Promise<string>((resolve) => channel.once("data", (d: Buffer) => resolve(d.toString())));
    channel.write("hi bob");
    console.log(`alice: ${await reply}`);
    console.log(`alice is linked with ${alice!.links.connected().length} device(s)`);
    channel.end();
  } finally {
    await net.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
