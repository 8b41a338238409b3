import { DhtNode, InfoHash, Value } from "jami-dht";
import { certifyDevice, createAccountKeys, PrivateKey, type AccountKeys, type DeviceIdentity } from "jami-identity";
import { createDeviceAnnouncement, readDeviceAnnouncement } from "../src/dht/device-announcement.js";
import { findDevices, publishDevice } from "../src/dht/devices.js";
import { JamiDhtKeys } from "../src/dht/keys.js";
import { decodeTrustRequest, encodeTrustRequest } from "../src/dht/trust-request.js";

const BITS = 2048; // these tests are about formats and checks, not key strength

async function account(devices: number): Promise<{ keys: AccountKeys; devices: DeviceIdentity[] }> {
  const keys = await createAccountKeys({ bits: BITS });
  const list = await Promise.all(Array.from({ length: devices }, async () => certifyDevice(keys, await PrivateKey.generate(BITS))));
  return { keys, devices: list };
}

describe("Jami values on the DHT", () => {
  let nodes: DhtNode[] = [];
  let alice: Awaited<ReturnType<typeof account>>;
  let mallory: Awaited<ReturnType<typeof account>>;
  beforeAll(async () => {
    const seed = await DhtNode.create({ host: "127.0.0.1", port: 0 });
    const others = await Promise.all([1, 2, 3].map(() => DhtNode.create({ host: "127.0.0.1", port: 0, bootstrap: [`127.0.0.1:${seed.addresses[0]!.port}`] })));
    await Promise.all(others.map((n) => n.bootstrap()));
    nodes = [seed, ...others];
    [alice, mallory] = await Promise.all([account(2), account(1)]);
  });
  afterAll(() => Promise.all(nodes.map((n) => n.close())));

  it("a device announcement is signed by the account key and names the device", () => {
    const device = alice.devices[0]!;
    const v = Value.decode(createDeviceAnnouncement(alice.keys.accountKey, device.key.publicKey).encode());
    expect(v).toMatchObject({ type: 0, seq: 0, userType: "" });
    const read = readDeviceAnnouncement(v, alice.keys.accountCertificate.jamiId);
    expect(read?.shortId.toString()).toBe(device.certificate.deviceShortId.toString());
    expect(read?.publicKey?.equals(device.key.publicKey)).toBe(true);
    // The same announcement read for another account, or signed by a device key, is refused.
    expect(readDeviceAnnouncement(v, mallory.keys.accountCertificate.jamiId)).toBeUndefined();
    const byDevice = createDeviceAnnouncement(device.key, device.key.publicKey);
    expect(readDeviceAnnouncement(byDevice, alice.keys.accountCertificate.jamiId)).toBeUndefined();
  });

  it("both devices of an account are found, with verified chains; forged announcements are ignored", async () => {
    const jamiId = alice.keys.accountCertificate.jamiId;
    await publishDevice(nodes[1]!, alice.keys.accountKey, alice.devices[0]!);
    await publishDevice(nodes[2]!, alice.keys.accountKey, alice.devices[1]!);
    // Mallory announces her own device at Alice's Jami ID: signed by the wrong account.
    await publishDevice(nodes[3]!, mallory.keys.accountKey, mallory.devices[0]!);
    await nodes[3]!.put(JamiDhtKeys.account(jamiId), createDeviceAnnouncement(mallory.keys.accountKey, mallory.devices[0]!.key.publicKey));
    await nodes[3]!.put(JamiDhtKeys.account(jamiId), new Value({ data: "garbage" }));
    const found = await findDevices(nodes[0]!, jamiId);
    expect(found.map((d) => d.deviceId.toString()).sort()).toEqual(alice.devices.map((d) => d.certificate.deviceId.toString()).sort());
    expect(found.every((d) => d.jamiId.equals(jamiId))).toBe(true);
  });

  it("certificates are published under the 13.7 key and today's long-id key", async () => {
    const keys = JamiDhtKeys.certificates(alice.devices[0]!.key.publicKey);
    for (const key of [keys.legacy, keys.current]) {
      const values = await nodes[0]!.getAll(key);
      expect(values.some((v) => v.type === 8 && v.id === 1n)).toBe(true);
    }
    expect(keys.legacy.toString()).toBe(alice.devices[0]!.certificate.deviceShortId.toString());
  });

  it("DHT keys follow jamid's naming", () => {
    const d = alice.devices[0]!.certificate;
    expect(JamiDhtKeys.inbox(d.deviceShortId).equals(InfoHash.get(`inbox:${d.deviceShortId}`))).toBe(true);
    expect(JamiDhtKeys.peer(d.deviceId).equals(InfoHash.get(`peer:${d.deviceId}`))).toBe(true);
    expect(JamiDhtKeys.account(alice.keys.accountCertificate.jamiId).toString()).toBe(alice.keys.accountCertificate.jamiId.toString());
  });

  it("trust requests encode in jamid's key order and decode leniently", () => {
    const data = encodeTrustRequest({ conversationId: "c0ffee", payload: new Uint8Array([1, 2]), confirm: false });
    expect(Buffer.from(data).toString("hex")).toBe(
      "84a7736572766963" +
        "65a7" +
        Buffer.from("cx.ring").toString("hex") +
        "ae" +
        Buffer.from("conversationId").toString("hex") +
        "a6" +
        Buffer.from("c0ffee").toString("hex") +
        "a77061796c6f6164c4020102a7636f6e6669726dc2",
    );
    expect(decodeTrustRequest(data)).toEqual({ conversationId: "c0ffee", payload: new Uint8Array([1, 2]), confirm: false, invitedMs: undefined });
    expect(decodeTrustRequest(encodeTrustRequest({ conversationId: "x", payload: new Uint8Array(), confirm: true, invitedMs: 1700000000000 }))?.invitedMs).toBe(
      1700000000000,
    );
    expect(decodeTrustRequest(new Uint8Array([0xc1]))).toBeUndefined();
    expect(decodeTrustRequest(Buffer.from("81a7736572766963" + "65a3" + Buffer.from("foo").toString("hex"), "hex"))).toBeUndefined();
  });
});
