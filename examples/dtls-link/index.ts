// Two Jami devices talk over DTLS 1.2 on an ICE-UDP pair (127.0.0.1 here). On the real network the two `ice_msg`
// texts travel in DHT connection requests and each side runs on its own machine; the rest is the same: ICE checks,
// then DTLS with both device chains presented and checked against the Jami ID each side expected.
import { dtlsLink } from "jami-dtls";
import { decodeIceMessage, encodeIceMessage, IceUdpAgent } from "jami-ice";
import { certifyDevice, createAccountKeys, PrivateKey, type VerifiedDevice } from "jami-identity";

async function newDevice() {
  const account = await createAccountKeys();
  return { jamiId: account.accountCertificate.jamiId.toString(), device: certifyDevice(account, await PrivateKey.generate()) };
}

const expect = (jamiId: string) => (peer: VerifiedDevice) => {
  if (peer.jamiId.toString() !== jamiId) throw new Error(`expected ${jamiId}, got ${peer.jamiId}`);
};

async function main(): Promise<void> {
  const [alice, bob] = await Promise.all([newDevice(), newDevice()]);
  // Alice asked for the link (ICE-controlled, DTLS server); Bob received the request (controlling, DTLS client).
  const [aliceIce, bobIce] = await Promise.all([
    IceUdpAgent.create({ controlling: false, addresses: ["127.0.0.1"] }),
    IceUdpAgent.create({ controlling: true, addresses: ["127.0.0.1"] }),
  ]);
  const [offer, answer] = [encodeIceMessage(aliceIce.local), encodeIceMessage(bobIce.local)];
  const [alicePair, bobPair] = await Promise.all([aliceIce.connect(decodeIceMessage(answer)), bobIce.connect(decodeIceMessage(offer))]);

  const [aliceLink, bobLink] = await Promise.all([
    dtlsLink({ transport: alicePair, role: "server", identity: alice.device, verifyPeer: expect(bob.jamiId) }),
    dtlsLink({ transport: bobPair, role: "client", identity: bob.device, verifyPeer: expect(alice.jamiId) }),
  ]);
  console.log(`DTLS up: ${bobLink.protocol}, ${bobLink.cipher}, ${bobLink.group}, ${bobLink.signatureScheme}`);
  console.log(`alice sees device ${aliceLink.peer.deviceId.toString().slice(0, 16)}… of ${aliceLink.peer.jamiId}`);

  aliceLink.on("message", (m) => aliceLink.send(new TextEncoder().encode(`alice heard: ${new TextDecoder().decode(m)}`)));
  const reply = new Promise<string>((resolve) => bobLink.once("message", (m) => resolve(new TextDecoder().decode(m))));
  bobLink.send(new TextEncoder().encode("hi alice"));
  console.log(`bob: ${await reply}`);

  const closed = new Promise((resolve) => aliceLink.once("close", resolve));
  bobLink.close();
  await closed;
  console.log("closed (alice got bob's close_notify)");
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
