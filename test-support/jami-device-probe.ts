/**
 * Runs inside a jamid harness namespace (`jamih exec -- node --import tsx test-support/jami-device-probe.ts`):
 * joins the harness's dhtnode, lists the devices jamid announced for a Jami ID, publishes a device of a fresh
 * account of ours, and reports every trust request that reaches our inbox. JSON lines on stdout; ends on stdin EOF.
 */
import { DhtNode, SecureDht } from "jami-dht";
import { certifyDevice, createAccountKeys, JamiId, PrivateKey } from "jami-identity";
import { decodeTrustRequest, findDeviceChain, findDevices, JamiDhtKeys, publishDevice, TRUST_REQUEST_TYPE } from "jami-sdk/internal";

const [bootstrap = "127.0.0.1:4222", theirJamiId = ""] = process.argv.slice(2);
const say = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + "\n");

async function main(): Promise<void> {
  const node = await DhtNode.create({ host: "127.0.0.1", port: 0, bootstrap: [bootstrap] });
  await node.bootstrap();
  // jamid may not have published yet: look again (bounded) until its device and chain are on the DHT.
  const theirs = JamiId.fromHex(theirJamiId);
  const deadline = Date.now() + 60_000;
  let devices = await findDevices(node, theirs);
  while (devices.length === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    devices = await findDevices(node, theirs);
  }
  say({ event: "devices", jamiId: theirJamiId, deviceIds: devices.map((d) => d.deviceId.toString()) });

  const keys = await createAccountKeys();
  const device = certifyDevice(keys, await PrivateKey.generate());
  await publishDevice(node, keys.accountKey, device, { acknowledgedBy: 1 });
  const secure = new SecureDht(node, { key: device.key });
  const sub = secure.listen(JamiDhtKeys.inbox(device.certificate.deviceShortId));
  sub.on("value", async (v) => {
    if (v.type !== TRUST_REQUEST_TYPE) return say({ event: "other", type: v.type });
    const request = decodeTrustRequest(v.data);
    if (!request || !v.owner) return say({ event: "ignored" });
    // The sender is a device: its chain, found on the DHT, names its account.
    const from = await findDeviceChain(node, v.ownerId!).then(
      (d) => d.jamiId.toString(),
      (e: Error) => `unverified: ${e.message}`,
    );
    say({ event: "trustRequest", from, conversationId: request.conversationId, confirm: request.confirm, payloadBytes: request.payload.length });
  });
  say({ event: "published", jamiId: keys.accountCertificate.jamiId.toString(), deviceId: device.certificate.deviceId.toString() });
  process.stdin.resume();
  await new Promise((r) => process.stdin.on("end", r));
  sub.cancel();
  await node.close();
}

main().catch((e) => {
  say({ event: "error", message: (e as Error).message });
  process.exitCode = 1;
});
