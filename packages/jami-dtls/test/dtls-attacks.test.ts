import { createPrivateKey, generateKeyPairSync, randomBytes } from "node:crypto";
import { dtlsLink, type DtlsLink } from "jami-dtls";
import { deviceChain } from "jami-identity";
import { SIGNATURE_SCHEMES, signWith, verifyWith, CIPHER_SUITES, GROUPS } from "../src/dtls/crypto.js";
import { encodeHandshake, HandshakeType, MAX_PARTIAL_BYTES, Reassembler } from "../src/dtls/handshake-codec.js";
import {
  decodeHelloVerifyRequest,
  EMPTY_RENEGOTIATION_INFO,
  encodeClientHello,
  encodeServerHello,
  encodeU16List,
  ExtensionType,
  UNCOMPRESSED_POINTS,
  type Extensions,
} from "../src/dtls/messages.js";
import { ContentType, decodeRecords, DTLS_1_2, encodeRecord } from "../src/dtls/record.js";
import { DtlsSession } from "../src/dtls/session.js";
import { serverHandshake } from "../src/dtls/server.js";
import { closeTransports, newDevice, udpPair, type UdpTransport } from "./helpers.js";

afterEach(closeTransports);

const nextMessage = (l: DtlsLink): Promise<string> => new Promise((r) => l.once("message", (m) => r(Buffer.from(m).toString())));
const closed = (l: DtlsLink): Promise<string> => new Promise((r) => l.once("close", (e) => r(`closed: ${e?.message ?? "close_notify"}`)));
const handshakeRecord = (type: number, seq: number, body: Uint8Array, sequence = 0): Uint8Array =>
  encodeRecord({ type: ContentType.handshake, version: DTLS_1_2, epoch: 0, sequence, fragment: encodeHandshake({ type, seq, body }) });

describe("DTLS against spoofed and hostile datagrams", () => {
  let alice: Awaited<ReturnType<typeof newDevice>>;
  let bob: Awaited<ReturnType<typeof newDevice>>;
  beforeAll(async () => {
    [alice, bob] = await Promise.all([newDevice(), newDevice()]);
  });

  async function established(): Promise<{ s: DtlsLink; c: DtlsLink; a: UdpTransport; b: UdpTransport }> {
    const [a, b] = await udpPair();
    const [s, c] = await Promise.all([
      dtlsLink({ transport: a, role: "server", identity: alice.device, verifyPeer: () => undefined }),
      dtlsLink({ transport: b, role: "client", identity: bob.device, verifyPeer: () => undefined }),
    ]);
    return { s, c, a, b };
  }

  it("a plaintext epoch-0 fatal alert after the handshake does not close the server's link", async () => {
    const { s, c, b } = await established();
    try {
      const outcome = Promise.race([nextMessage(s), closed(s)]);
      // 15 fefd 0000 000000001000 0002 02 28: alert, epoch 0, fatal handshake_failure (from the issue).
      b.send(Buffer.from("15fefd00000000000010000002" + "0228", "hex"));
      c.send(Buffer.from("after the spoofed alert"));
      expect(await outcome).toBe("after the spoofed alert");
    } finally {
      s.close();
      c.close();
    }
  });

  it("a plaintext close_notify after the handshake does not close the client's link", async () => {
    const { s, c, a } = await established();
    try {
      const outcome = Promise.race([nextMessage(c), closed(c)]);
      a.send(Buffer.from("15fefd00000000000010000002" + "0100", "hex"));
      s.send(Buffer.from("after the spoofed close_notify"));
      expect(await outcome).toBe("after the spoofed close_notify");
    } finally {
      s.close();
      c.close();
    }
  });

  it("a genuine close_notify (under the session keys) still closes the link", async () => {
    const { s, c } = await established();
    const gone = closed(s);
    c.close();
    expect(await gone).toBe("closed: close_notify");
  });

  it("before the cookie exchange a server keeps no reassembly state: one 221-byte datagram of 16 huge fragments costs nothing", async () => {
    const sent: Uint8Array[] = [];
    const session = new DtlsSession({ send: (d) => sent.push(d), fail: () => undefined, message: () => undefined, closed: () => undefined }, 1200);
    const credentials = {
      privateKey: alice.device.key.keyObject,
      chain: deviceChain(alice.device).map((x) => x.der),
      checkPeer: async () => bob.device.key.keyObject,
    };
    const running = serverHandshake(session, credentials);
    running.catch(() => undefined);
    // 16 fragments of 1 byte each, announcing 64 KiB messages (ClientHello and Certificate types).
    const fragments = Array.from({ length: 16 }, (_, seq) => {
      const header = Buffer.alloc(12);
      header.writeUInt8(seq % 2 ? HandshakeType.certificate : HandshakeType.client_hello, 0);
      header.writeUIntBE(65535, 1, 3);
      header.writeUInt16BE(seq, 4);
      header.writeUIntBE(0, 6, 3);
      header.writeUIntBE(1, 9, 3);
      return Buffer.concat([header, Buffer.of(0)]);
    });
    const datagram = encodeRecord({ type: ContentType.handshake, version: DTLS_1_2, epoch: 0, sequence: 0, fragment: Buffer.concat(fragments) });
    expect(datagram.length).toBe(221);
    session.receive(datagram);
    expect(session.pendingHandshakeBytes).toBe(0);
    // A small genuine ClientHello fragment is still taken in (positive control).
    const hello = encodeHandshake({ type: HandshakeType.client_hello, seq: 0, body: new Uint8Array(300) });
    const half = Buffer.from(hello.subarray(0, 12 + 100));
    half.writeUIntBE(100, 9, 3);
    session.receive(encodeRecord({ type: ContentType.handshake, version: DTLS_1_2, epoch: 0, sequence: 1, fragment: half }));
    expect(session.pendingHandshakeBytes).toBe(300);
    session.stop(new Error("done"));
  });

  it(`after the cookie, partial messages are bounded to ${MAX_PARTIAL_BYTES} bytes in all`, () => {
    const r = new Reassembler();
    for (let seq = 0; seq < 16; seq++) {
      const header = Buffer.alloc(12);
      header.writeUInt8(HandshakeType.certificate, 0);
      header.writeUIntBE(60_000, 1, 3);
      header.writeUInt16BE(seq, 4);
      header.writeUIntBE(1, 9, 3);
      r.push(Buffer.concat([header, Buffer.of(0)]), () => true);
    }
    expect(r.pendingBytes).toBeLessThanOrEqual(MAX_PARTIAL_BYTES);
    expect(r.pendingBytes).toBe(120_000);
  });

  it("signatures by RSA keys under 2048 bits are refused; 2048 verifies", () => {
    const scheme = SIGNATURE_SCHEMES[0]!;
    const data = randomBytes(64);
    const weak = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const strong = createPrivateKey(alice.device.key.toPem());
    expect(verifyWith(scheme, weak.publicKey, data, signWith(scheme, weak.privateKey, data))).toBe(false);
    expect(verifyWith(scheme, alice.device.key.publicKey.keyObject, data, signWith(scheme, strong, data))).toBe(true);
  });
});

describe("the extended master secret is required both ways", () => {
  const extensions = (withEms: boolean): Extensions =>
    new Map<number, Uint8Array>([
      [ExtensionType.supported_groups, encodeU16List(GROUPS.map((g) => g.id))],
      [ExtensionType.ec_point_formats, UNCOMPRESSED_POINTS],
      [ExtensionType.signature_algorithms, encodeU16List(SIGNATURE_SCHEMES.map((x) => x.id))],
      [ExtensionType.renegotiation_info, EMPTY_RENEGOTIATION_INFO],
      ...(withEms ? ([[ExtensionType.extended_master_secret, new Uint8Array(0)]] as const) : []),
    ]);

  it("our server refuses a ClientHello without it (handshake_failure)", async () => {
    const device = await newDevice();
    const [a, b] = await udpPair();
    const pending = dtlsLink({ transport: a, role: "server", identity: device.device, verifyPeer: () => undefined, timeoutMs: 10_000 });
    const random = randomBytes(32);
    const hello = (cookie: Uint8Array, seq: number): Uint8Array =>
      handshakeRecord(
        HandshakeType.client_hello,
        seq,
        encodeClientHello({
          version: DTLS_1_2,
          random,
          sessionId: new Uint8Array(0),
          cookie,
          cipherSuites: CIPHER_SUITES.map((x) => x.id),
          compressionMethods: Uint8Array.of(0),
          extensions: extensions(false),
        }),
        seq,
      );
    const replies: Uint8Array[] = [];
    b.on("message", (m) => replies.push(m));
    b.send(hello(new Uint8Array(0), 0));
    while (replies.length === 0) await new Promise((r) => setTimeout(r, 5));
    const verify = decodeRecords(replies[0]!)[0]!;
    const { cookie } = decodeHelloVerifyRequest(verify.fragment.subarray(12));
    b.send(hello(cookie, 1));
    await expect(pending).rejects.toMatchObject({ code: "TLS_FAILED", message: expect.stringContaining("extended master secret") });
    const alertOf = (): Uint8Array | undefined => replies.map((d) => decodeRecords(d)[0]!).find((r) => r.type === ContentType.alert)?.fragment;
    while (!alertOf()) await new Promise((r) => setTimeout(r, 5));
    expect([...alertOf()!]).toEqual([2, 40]); // fatal handshake_failure
    b.close();
  });

  it("our client refuses a ServerHello without it", async () => {
    const device = await newDevice();
    const [a, b] = await udpPair();
    const pending = dtlsLink({ transport: a, role: "client", identity: device.device, verifyPeer: () => undefined, timeoutMs: 10_000 });
    const serverHello = encodeServerHello({
      version: DTLS_1_2,
      random: randomBytes(32),
      sessionId: new Uint8Array(0),
      cipherSuite: CIPHER_SUITES[0]!.id,
      compressionMethod: 0,
      extensions: new Map([[ExtensionType.renegotiation_info, EMPTY_RENEGOTIATION_INFO]]),
    });
    b.once("message", () => b.send(handshakeRecord(HandshakeType.server_hello, 0, serverHello)));
    await expect(pending).rejects.toMatchObject({ code: "TLS_FAILED", message: expect.stringContaining("extended master secret") });
    b.close();
  });
});
