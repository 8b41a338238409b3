import { candidatePriority, decodeIceMessage, encodeIceMessage, formatCandidate, FrameReader, frame, parseCandidate } from "jami-ice";

// As jamid 13.7 writes them (spec §4.2, seen on this machine).
const JAMID_ICE_MSG =
  "a1B2\nc3D4e5F6g7H8i9J0k1L2m3\nHc0000202 1 TCP 2130706431 198.18.0.1 43697 typ host tcptype passive\nHc0000202 1 TCP 2130706431 198.18.0.1 9 typ host tcptype active\nSc0000202 1 TCP 1694498815 203.0.113.7 9 typ srflx tcptype active\n";

describe("Jami's ice_msg", () => {
  it("reads jamid's candidates", () => {
    const d = decodeIceMessage(JAMID_ICE_MSG);
    expect(d.ufrag).toBe("a1B2");
    expect(d.pwd).toBe("c3D4e5F6g7H8i9J0k1L2m3");
    expect(d.candidates).toHaveLength(3);
    expect(d.candidates[0]).toEqual({
      foundation: "Hc0000202",
      component: 1,
      transport: "TCP",
      priority: 2130706431,
      address: "198.18.0.1",
      port: 43697,
      type: "host",
      tcpType: "passive",
    });
    expect(encodeIceMessage(d)).toBe(JAMID_ICE_MSG);
  });

  it("skips unreadable candidate lines and ignores raddr/rport, but needs credentials", () => {
    const d = decodeIceMessage(
      "uf\npw\ngarbage\n1 1 UDP 2130706431 10.0.0.1 5000 typ host\n2 1 UDP 1694498815 203.0.113.1 6000 typ srflx raddr 10.0.0.1 rport 5000\n1 1 TCP 1 10.0.0.1 5 typ host tcptype sideways\n",
    );
    expect(d.candidates.map(formatCandidate)).toEqual(["1 1 UDP 2130706431 10.0.0.1 5000 typ host", "2 1 UDP 1694498815 203.0.113.1 6000 typ srflx"]);
    expect(() => decodeIceMessage("only-ufrag\n")).toThrow(expect.objectContaining({ code: "ICE_MSG_MALFORMED" }));
    expect(() => parseCandidate("1 1 SCTP 1 10.0.0.1 5 typ host")).toThrow(expect.objectContaining({ code: "ICE_MSG_MALFORMED" }));
  });

  it("priorities follow RFC 8445 and RFC 6544's direction preference", () => {
    expect(candidatePriority("host", "UDP")).toBe(2130706431);
    expect(candidatePriority("host", "TCP", "active")).toBeGreaterThan(candidatePriority("host", "TCP", "passive"));
    expect(candidatePriority("srflx", "TCP", "so")).toBeGreaterThan(candidatePriority("srflx", "TCP", "active"));
    expect(candidatePriority("host", "TCP", "passive")).toBeGreaterThan(candidatePriority("srflx", "TCP", "so"));
  });
});

describe("RFC 4571 framing", () => {
  it("cuts a stream into packets whatever the chunking", () => {
    const packets = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(70000 - 4465).fill(9)];
    const stream = Buffer.concat(packets.map((p) => frame(p)));
    const reader = new FrameReader();
    const out: Uint8Array[] = [];
    for (let i = 0; i < stream.length; i += 7) out.push(...reader.push(stream.subarray(i, i + 7)));
    expect(out.map((p) => p.length)).toEqual(packets.map((p) => p.length));
    expect(() => frame(new Uint8Array(65536))).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
  });
});
