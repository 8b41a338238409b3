import { decodeStun, isStun, StunAttr, StunClass, StunMessage, StunMethod } from "jami-ice";

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));
const PASSWORD = new TextEncoder().encode("VOkJxbRl1RmTxUk/WvJxBt");

// RFC 5769 §2.1 and §2.2.
const SAMPLE_REQUEST = hex(`
  000100582112a442b7e7a701bc34d686fa87dfae
  802200105354554e207465737420636c69656e74
  002400046e0001ff
  80290008932ff9b151263b36
  000600096576746a3a68367659202020
  000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2
  80280004e57a3bcf`);
const SAMPLE_RESPONSE = hex(`
  0101003c2112a442b7e7a701bc34d686fa87dfae
  8022000b7465737420766563746f7220
  002000080001a147e112a643
  000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7
  80280004c07d4c96`);

describe("STUN (RFC 5769 test vectors)", () => {
  it("reads the sample request: username, priority, ICE-CONTROLLED, integrity and fingerprint", () => {
    const m = decodeStun(SAMPLE_REQUEST);
    expect([m.method, m.cls]).toEqual([StunMethod.Binding, StunClass.Request]);
    expect(m.string(StunAttr.Username)).toBe("evtj:h6vY");
    expect(m.u32(StunAttr.Priority)).toBe(0x6e0001ff);
    expect(m.u64(StunAttr.IceControlled)).toBe(0x932ff9b151263b36n);
    expect(m.checkIntegrity(PASSWORD)).toBe(true);
    expect(m.checkFingerprint()).toBe(true);
    expect(m.checkIntegrity(new TextEncoder().encode("wrong"))).toBe(false);
  });

  it("reads the sample response's XOR-MAPPED-ADDRESS", () => {
    const m = decodeStun(SAMPLE_RESPONSE);
    expect(m.cls).toBe(StunClass.Success);
    expect(m.xorAddress(StunAttr.XorMappedAddress)).toEqual({ family: 4, address: "192.0.2.1", port: 32853 });
    expect(m.checkIntegrity(PASSWORD)).toBe(true);
    expect(m.checkFingerprint()).toBe(true);
  });

  it("rebuilds the sample response byte for byte (zero padding aside, the vector pads with spaces)", () => {
    const ours = new StunMessage(StunMethod.Binding, StunClass.Success, SAMPLE_RESPONSE.slice(8, 20))
      .addString(StunAttr.Software, "test vector")
      .addXorAddress(StunAttr.XorMappedAddress, { family: 4, address: "192.0.2.1", port: 32853 })
      .encode({ integrityKey: PASSWORD, fingerprint: true });
    const vector = Uint8Array.from(SAMPLE_RESPONSE);
    vector[20 + 4 + 11] = 0; // the padding byte after "test vector"
    const back = decodeStun(ours);
    expect(back.checkIntegrity(PASSWORD) && back.checkFingerprint()).toBe(true);
    expect(ours.subarray(0, 48)).toEqual(vector.subarray(0, 48));
  });

  it("round-trips IPv6 addresses and error codes", () => {
    const m = new StunMessage(StunMethod.Binding, StunClass.Error, new Uint8Array(12).fill(7))
      .addXorAddress(StunAttr.XorMappedAddress, { family: 6, address: "2001:db8:1234:5678:11:2233:4455:6677", port: 32853 })
      .addErrorCode(487, "Role Conflict");
    const back = decodeStun(m.encode({ fingerprint: true }));
    expect(back.xorAddress(StunAttr.XorMappedAddress)).toEqual({ family: 6, address: "2001:db8:1234:5678:11:2233:4455:6677", port: 32853 });
    expect(back.errorCode()).toEqual({ code: 487, reason: "Role Conflict" });
  });

  it("refuses what is not STUN, and truncated or overlong messages, with a typed error", () => {
    expect(isStun(new Uint8Array([0x16, 3, 3, 0, 5]))).toBe(false); // a TLS record
    expect(() => decodeStun(new Uint8Array(10))).toThrow(expect.objectContaining({ code: "STUN_MALFORMED" }));
    const truncated = SAMPLE_REQUEST.slice(0, SAMPLE_REQUEST.length - 4);
    expect(() => decodeStun(truncated)).toThrow(expect.objectContaining({ code: "STUN_MALFORMED" }));
    const lying = Uint8Array.from(SAMPLE_REQUEST);
    lying[3] = 0x5c; // says 92 bytes of attributes, has 88
    expect(() => decodeStun(lying)).toThrow(expect.objectContaining({ code: "STUN_MALFORMED" }));
  });
});
