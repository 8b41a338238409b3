import { decodeMsgpack, type MsgValue } from "jami-core";
import { decodeDeviceSync, encodeDeviceSync, type DeviceSyncData } from "../src/dht/device-sync.js";
import { mergeContact, toArchiveContact, type Contact } from "../src/features/contact.js";

const sync: DeviceSyncData = {
  date: 1_764_000_000_123_456_789n,
  deviceName: "phone",
  devices: [{ deviceId: "ab".repeat(32), shortId: "cd".repeat(20), name: "laptop" }],
  peers: { ["01".repeat(20)]: { added: 1_700_000_000, removed: 0, confirmed: true, banned: false, conversationId: "ef".repeat(20) } },
  trustRequests: { ["02".repeat(20)]: { device: new Uint8Array([0x30, 1, 2]), conversationId: "", received: 1_700_000_001, payload: new Uint8Array() } },
};

describe("DeviceSync (jamid 13.7's map)", () => {
  it("has jamid's keys, with binary ids as map keys", () => {
    const map = decodeMsgpack(encodeDeviceSync(sync)) as Record<string, MsgValue>;
    expect(Object.keys(map)).toEqual(["date", "device_name", "devices_known", "devices", "peers", "trust_requests"]);
    expect(map.date).toBe(sync.date);
    const devices = map.devices as Map<Uint8Array, Record<string, MsgValue>>;
    const [longId, entry] = [...devices.entries()][0]!;
    expect(Buffer.from(longId!).toString("hex")).toBe("ab".repeat(32));
    expect(Buffer.from(entry!.sha1 as Uint8Array).toString("hex")).toBe("cd".repeat(20));
    const known = map.devices_known as Map<Uint8Array, string>;
    expect([...known.values()]).toEqual(["laptop"]);
  });

  it("round-trips", () => {
    expect(decodeDeviceSync(encodeDeviceSync(sync))).toEqual(sync);
  });

  it("refuses what is not a DeviceSync", () => {
    expect(decodeDeviceSync(new Uint8Array([0xc1]))).toBeUndefined();
    expect(decodeDeviceSync(new TextEncoder().encode("garbage"))).toBeUndefined();
    expect(decodeDeviceSync(new Uint8Array([0x80]))).toBeUndefined();
  });
});

describe("contact merge (jamid's Contact::update)", () => {
  const base: Contact = { jamiId: "01".repeat(20), added: 1000, confirmed: false, banned: false, conversationId: "a" };

  it("a later addition brings its conversation; a confirmation is never lost", () => {
    const { contact, changed } = mergeContact({ ...base, confirmed: true }, { ...base, added: 2000, conversationId: "b" });
    expect(contact).toMatchObject({ added: 2000, conversationId: "b", confirmed: true });
    expect(changed).toBe(false);
  });

  it("a later removal with a ban bans; an older one is ignored", () => {
    expect(mergeContact(base, { ...base, removed: 3000, banned: true })).toMatchObject({ contact: { banned: true, removed: 3000 }, changed: true });
    expect(mergeContact({ ...base, removed: 3000, banned: true, added: 4000 }, { ...base, removed: 2000, banned: false }).changed).toBe(false);
  });

  it("archive form is jamid's: seconds, flags only when set", () => {
    expect(toArchiveContact({ ...base, added: 1_700_000_000_999 })).toEqual({ added: 1_700_000_000, conversationId: "a" });
  });
});
