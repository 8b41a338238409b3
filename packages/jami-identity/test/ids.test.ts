import { DeviceId, DeviceShortId, JamiId, PrivateKey, Certificate, isIdentityError } from "jami-identity";
import { vectorText, WHO } from "./vectors.js";

describe("ids from jamid's keys", () => {
  it.each([...WHO])("$who: Jami ID, device short id and device ID match what jamid reported", (v) => {
    const [device, account, ca] = Certificate.chainFromPem(vectorText(`${v.who}.device-chain.pem`));
    expect(account!.jamiId.toString()).toBe(v.jamiId);
    expect(ca!.jamiId.toString()).toBe(v.caId);
    expect(device!.deviceShortId.toString()).toBe(v.deviceShortId);
    expect(device!.deviceId.toString()).toBe(v.deviceId);
    // the private key yields the same ids as the certificate
    const key = PrivateKey.fromPem(vectorText(`${v.who}.device.key.pem`));
    expect(key.publicKey.deviceId.toString()).toBe(v.deviceId);
    expect(key.publicKey.deviceShortId.equals(device!.deviceShortId)).toBe(true);
  });
});

describe("id types", () => {
  it("parse hex in either case, print lowercase, compare by value and kind", () => {
    const id = JamiId.fromHex("33096FC5F7BD08BEA12AD2B19D77C18D3C650CAC");
    expect(id.toString()).toBe("33096fc5f7bd08bea12ad2b19d77c18d3c650cac");
    expect(JSON.stringify({ id })).toBe('{"id":"33096fc5f7bd08bea12ad2b19d77c18d3c650cac"}');
    expect(id.equals(JamiId.fromHex(id.toString()))).toBe(true);
    expect(id.equals(id.toString().toUpperCase())).toBe(true);
    // same bytes, different meaning: not equal
    expect(id.equals(DeviceShortId.fromHex(id.toString()))).toBe(false);
  });

  it.each([
    ["too short", () => JamiId.fromHex("abcd")],
    ["not hex", () => JamiId.fromHex("z".repeat(40))],
    ["device id of 40 hex", () => DeviceId.fromHex("a".repeat(40))],
    ["wrong byte length", () => new DeviceShortId(new Uint8Array(32))],
  ])("refuse %s with INVALID_ID", (_, make) => {
    expect(make).toThrow(expect.objectContaining({ code: "INVALID_ID" }));
    try {
      make();
    } catch (e) {
      expect(isIdentityError(e, "INVALID_ID")).toBe(true);
    }
  });
});
