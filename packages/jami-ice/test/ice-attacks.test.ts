import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { once } from "node:events";
import { connect as tcpConnect, createServer, type Socket } from "node:net";
import { crc32 } from "node:zlib";
import {
  decodeIceMessage,
  decodeStun,
  IceTcpAgent,
  IceUdpAgent,
  StunAttr,
  StunClass,
  StunMessage,
  StunMethod,
  type Candidate,
  type IceDescription,
} from "jami-ice";
import { candidatesToContact, MAX_CANDIDATES, MAX_CHECKED_CANDIDATES } from "../src/candidate.js";
import { answerCheck, buildCheck } from "../src/checks.js";

const utf8 = new TextEncoder();

/** Appends attributes after a message's MESSAGE-INTEGRITY and recomputes its (keyless) FINGERPRINT, as an on-path party can. */
function appendAfterIntegrity(bytes: Uint8Array, attributes: Array<[number, Uint8Array]>): Uint8Array {
  const withoutFingerprint = Buffer.from(bytes.subarray(0, bytes.length - 8));
  const extra = Buffer.concat(attributes.map(([type, value]) => Buffer.concat([Buffer.from([type >> 8, type & 0xff, 0, value.length]), Buffer.from(value)])));
  const body = Buffer.concat([withoutFingerprint, extra]);
  body.writeUInt16BE(body.length - 20 + 8, 2);
  const fingerprint = Buffer.alloc(8);
  fingerprint.writeUInt32BE(0x80280004);
  fingerprint.writeUInt32BE((crc32(body) ^ 0x5354554e) >>> 0, 4);
  return new Uint8Array(Buffer.concat([body, fingerprint]));
}

const u64 = (n: bigint): Uint8Array => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};

describe("STUN: what follows MESSAGE-INTEGRITY", () => {
  const ours: IceDescription = { ufrag: "ours", pwd: "o".repeat(22), candidates: [] };
  const theirs: IceDescription = { ufrag: "them", pwd: "t".repeat(22), candidates: [] };
  const from = { family: 4 as const, address: "127.0.0.1", port: 9 };

  it("USE-CANDIDATE appended after the integrity does not nominate; a genuine one does", () => {
    const { bytes } = buildCheck(theirs, ours, { controlling: true, tieBreaker: 1n }, 1, false);
    const tampered = appendAfterIntegrity(bytes, [[StunAttr.UseCandidate, new Uint8Array()]]);
    const m = decodeStun(tampered);
    expect(m.checkFingerprint()).toBe(true);
    expect(m.has(StunAttr.UseCandidate)).toBe(false);
    expect(answerCheck(m, ours, { controlling: false, tieBreaker: 5n }, from)).toMatchObject({ accepted: true, useCandidate: false });
    const genuine = buildCheck(theirs, ours, { controlling: true, tieBreaker: 1n }, 1, true).bytes;
    expect(answerCheck(decodeStun(genuine), ours, { controlling: false, tieBreaker: 5n }, from)).toMatchObject({ accepted: true, useCandidate: true });
  });

  it("ICE-CONTROLLING(2^64−1) appended after the integrity does not flip our role", () => {
    const { bytes } = buildCheck(theirs, ours, { controlling: false, tieBreaker: 1n }, 1, false);
    const tampered = appendAfterIntegrity(bytes, [[StunAttr.IceControlling, u64(2n ** 64n - 1n)]]);
    expect(answerCheck(decodeStun(tampered), ours, { controlling: true, tieBreaker: 5n }, from)).toMatchObject({ accepted: true, controlling: true });
    // The same attribute inside the integrity (a real controlling peer with a larger tie-breaker) does flip it.
    const real = buildCheck(theirs, ours, { controlling: true, tieBreaker: 2n ** 64n - 1n }, 1, false).bytes;
    expect(answerCheck(decodeStun(real), ours, { controlling: true, tieBreaker: 5n }, from)).toMatchObject({ accepted: true, controlling: false });
  });

  it("our 487 Role Conflict carries our integrity (the peer may act on it); a 401 cannot", () => {
    const conflicting = buildCheck(theirs, ours, { controlling: true, tieBreaker: 1n }, 1, false).bytes;
    const verdict = answerCheck(decodeStun(conflicting), ours, { controlling: true, tieBreaker: 5n }, from);
    const reply = decodeStun(verdict.reply);
    expect(reply.errorCode()?.code).toBe(487);
    expect(reply.checkIntegrity(utf8.encode(ours.pwd))).toBe(true);
  });
});

/** A raw UDP peer that our agent checks; `answer` decides each reply. */
async function rawUdpPeer(
  answer: (request: StunMessage, reply: (bytes: Uint8Array) => void) => void,
): Promise<{ socket: UdpSocket; description: IceDescription }> {
  const socket = createSocket("udp4");
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
  const description: IceDescription = {
    ufrag: "peer",
    pwd: "p".repeat(22),
    candidates: [{ foundation: "1", component: 1, transport: "UDP", priority: 1, address: "127.0.0.1", port: socket.address().port, type: "host" }],
  };
  socket.on("message", (m, rinfo) => {
    const request = decodeStun(new Uint8Array(m));
    if (request.cls === StunClass.Request) answer(request, (bytes) => socket.send(bytes, rinfo.port, rinfo.address));
  });
  return { socket, description };
}

const success = (request: StunMessage): StunMessage =>
  new StunMessage(StunMethod.Binding, StunClass.Success, request.transactionId).addXorAddress(StunAttr.XorMappedAddress, {
    family: 4,
    address: "127.0.0.1",
    port: 1,
  });

describe("ICE-UDP checks against forged answers", () => {
  it("an answer without the peer's integrity validates nothing: the nomination waits for a genuine answer", async () => {
    const agent = await IceUdpAgent.create({ addresses: ["127.0.0.1"], controlling: true });
    let forged = 0;
    let genuineSent = false;
    let nominatedEarly = false;
    const peer = await rawUdpPeer((request, reply) => {
      if (request.has(StunAttr.UseCandidate) && !genuineSent) nominatedEarly = true;
      // The first two transmissions get an answer without integrity (an on-path forger racing the peer).
      if (forged < 2) {
        forged++;
        return reply(success(request).encode({ fingerprint: true }));
      }
      genuineSent = true;
      reply(success(request).encode({ integrityKey: utf8.encode("p".repeat(22)), fingerprint: true }));
    });
    try {
      const connection = await agent.connect(peer.description);
      expect(forged).toBe(2);
      expect(genuineSent).toBe(true);
      expect(nominatedEarly).toBe(false);
      connection.close();
    } finally {
      agent.close();
      peer.socket.close();
    }
  });

  it("a 487 without integrity does not flip our role; the genuine answer that follows is used", async () => {
    const agent = await IceUdpAgent.create({ addresses: ["127.0.0.1"], controlling: true });
    let conflicts = 0;
    const peer = await rawUdpPeer((request, reply) => {
      if (conflicts === 0) {
        conflicts++;
        return reply(
          new StunMessage(StunMethod.Binding, StunClass.Error, request.transactionId).addErrorCode(487, "Role Conflict").encode({ fingerprint: true }),
        );
      }
      reply(success(request).encode({ integrityKey: utf8.encode("p".repeat(22)), fingerprint: true }));
    });
    try {
      const connection = await agent.connect(peer.description);
      expect(conflicts).toBe(1);
      expect(agent.isControlling).toBe(true);
      connection.close();
    } finally {
      agent.close();
      peer.socket.close();
    }
  });
});

describe("candidates a connection request may make us contact", () => {
  const candidate = (address: string, port: number, priority = 1): Candidate => ({
    foundation: `${port}`,
    component: 1,
    transport: "TCP",
    priority,
    address,
    port,
    type: "host",
    tcpType: "passive",
  });

  it(`an ice_msg is read up to ${MAX_CANDIDATES} candidates`, () => {
    const lines = Array.from({ length: 1000 }, (_, i) => `H${i} 1 TCP 1 127.0.0.1 ${1000 + i} typ host tcptype passive`);
    expect(decodeIceMessage(["ufrag", "pwd", ...lines].join("\n")).candidates).toHaveLength(MAX_CANDIDATES);
  });

  it("loopback and link-local addresses only when we offer such addresses too; never unspecified or multicast", () => {
    const remote = ["127.0.0.1", "::1", "169.254.1.1", "fe80::1", "0.0.0.0", "::", "224.0.0.1", "ff02::1", "255.255.255.255", "192.0.2.7", "2001:db8::7"].map(
      (a, i) => candidate(a, 1000 + i),
    );
    const contacted = (own: string[]): string[] => candidatesToContact(remote, own).map((c) => c.address);
    expect(contacted(["192.0.2.1"]).sort()).toEqual(["192.0.2.7", "2001:db8::7"].sort());
    expect(contacted(["127.0.0.1"]).sort()).toEqual(["127.0.0.1", "192.0.2.7", "2001:db8::7", "::1"].sort());
    expect(contacted(["169.254.9.9"]).sort()).toEqual(["169.254.1.1", "192.0.2.7", "2001:db8::7", "fe80::1"].sort());
  });

  it(`an ICE-TCP agent given 1000 candidates dials at most ${MAX_CHECKED_CANDIDATES}, the highest priorities`, async () => {
    const server = createServer();
    const accepted: Socket[] = [];
    server.on("connection", (s) => accepted.push(s));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as { port: number };
    const agent = await IceTcpAgent.create({ addresses: ["127.0.0.1"], controlling: false });
    try {
      const remote: IceDescription = {
        ufrag: "peer",
        pwd: "p".repeat(22),
        candidates: Array.from({ length: 1000 }, (_, i) => candidate("127.0.0.1", port, i + 1)),
      };
      const connecting = agent.connect(remote);
      connecting.catch(() => undefined);
      while (accepted.length < MAX_CHECKED_CANDIDATES) await new Promise((r) => setTimeout(r, 10));
      agent.close();
      // A connection of our own after the agent's: once the server has it, every earlier connection was accepted.
      const marker = tcpConnect(port, "127.0.0.1");
      const markerPort = await once(marker, "connect").then(() => marker.localPort);
      while (!accepted.some((s) => s.remotePort === markerPort)) await new Promise((r) => setTimeout(r, 10));
      expect(accepted.length - 1).toBe(MAX_CHECKED_CANDIDATES);
      marker.destroy();
    } finally {
      agent.close();
      for (const s of accepted) s.destroy();
      server.close();
    }
  });
});
