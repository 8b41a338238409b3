import { InfoHash } from "jami-dht";

describe("InfoHash", () => {
  it("hashes strings as OpenDHT's InfoHash::get (SHA-1 of UTF-8)", () => {
    expect(InfoHash.get("plainkey").toString()).toBe("6953d059a86782aba62772910082553b2016eb5f");
    expect(InfoHash.parse("6953d059a86782aba62772910082553b2016eb5f").equals(InfoHash.get("plainkey"))).toBe(true);
    expect(InfoHash.parse("plainkey").equals(InfoHash.get("plainkey"))).toBe(true);
    expect(() => InfoHash.fromHex("zz")).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });

  it("orders by XOR distance, most significant byte first", () => {
    const target = InfoHash.fromHex("00".repeat(20));
    const near = InfoHash.fromHex("00".repeat(19) + "ff");
    const far = InfoHash.fromHex("01" + "00".repeat(19));
    expect(target.xorCompare(near, far)).toBeLessThan(0);
    expect(target.commonBits(far)).toBe(7);
  });

  it("randomAtDepth shares exactly `depth` leading bits", () => {
    const id = InfoHash.random();
    for (const depth of [0, 1, 7, 8, 9, 63, 159]) {
      for (let i = 0; i < 20; i++) expect(id.commonBits(id.randomAtDepth(depth))).toBe(depth);
    }
  });
});
