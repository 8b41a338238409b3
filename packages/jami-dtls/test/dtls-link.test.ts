import { dtlsLink, type DtlsLink, type DatagramTransport } from "jami-dtls";
import { IceUdpAgent } from "jami-ice";
import { RevocationList, verifyDeviceChain, type Certificate, type DeviceIdentity, type VerifiedDevice } from "jami-identity";
import { waitFor } from "../../../test-support/events.js";
import { closeTransports, lossy, newDevice, udpPair, type UdpTransport } from "./helpers.js";

afterEach(closeTransports);

type Check = (p: VerifiedDevice, chain: Certificate[]) => void;

async function link(
  server: DeviceIdentity,
  client: DeviceIdentity,
  transports?: [DatagramTransport, DatagramTransport],
  checks: { server?: Check; client?: Check } = {},
) {
  const [a, b] = transports ?? (await udpPair());
  return Promise.allSettled([
    dtlsLink({ transport: a, role: "server", identity: server, verifyPeer: (p, chain) => checks.server?.(p, chain), timeoutMs: 20_000 }),
    dtlsLink({ transport: b, role: "client", identity: client, verifyPeer: (p, chain) => checks.client?.(p, chain), timeoutMs: 20_000 }),
  ]);
}

function both(results: PromiseSettledResult<DtlsLink>[]): [DtlsLink, DtlsLink] {
  const [s, c] = results;
  if (s?.status !== "fulfilled" || c?.status !== "fulfilled")
    throw new Error(`link failed: ${JSON.stringify(results.map((r) => (r.status === "rejected" ? String(r.reason) : "ok")))}`);
  return [s.value, c.value];
}

const nextMessage = (l: DtlsLink): Promise<string> => new Promise((r) => l.once("message", (m) => r(Buffer.from(m).toString())));

describe("DTLS 1.2 between two devices", () => {
  let alice: Awaited<ReturnType<typeof newDevice>>;
  let bob: Awaited<ReturnType<typeof newDevice>>;
  beforeAll(async () => {
    [alice, bob] = await Promise.all([newDevice(), newDevice()]);
  });

  it("over an ICE-UDP pair: ECDHE P-384, AES-256-GCM, each side sees the other's verified chain, data both ways", async () => {
    const [controlled, controlling] = await Promise.all([
      IceUdpAgent.create({ addresses: ["127.0.0.1"], controlling: false }),
      IceUdpAgent.create({ addresses: ["127.0.0.1"], controlling: true }),
    ]);
    const pair = await Promise.all([controlled.connect(controlling.local), controlling.connect(controlled.local)]);
    const [s, c] = both(await link(alice.device, bob.device, pair));
    try {
      for (const l of [s, c]) {
        expect(l.protocol).toBe("DTLSv1.2");
        expect(l.cipher).toBe("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
        expect(l.group).toBe("secp384r1");
        expect(l.signatureScheme).toBe("RSA-PSS-RSAE-SHA384");
        expect(l.extendedMasterSecret).toBe(true);
      }
      expect(s.peer.deviceId.toString()).toBe(bob.device.certificate.deviceId.toString());
      expect(c.peer.jamiId.toString()).toBe(alice.account.accountCertificate.jamiId.toString());
      expect(s.peerChain.map((x) => x.toPem())).toEqual([bob.device.certificate, ...bob.device.issuers].map((x) => x.toPem()));
      const atClient = nextMessage(c);
      s.send(Buffer.from("to the client"));
      expect(await atClient).toBe("to the client");
      const atServer = nextMessage(s);
      c.send(Buffer.from("to the server"));
      expect(await atServer).toBe("to the server");
    } finally {
      s.close();
      c.close();
    }
  });

  it("closing one side tells the other (close_notify), and a closed link refuses to send", async () => {
    const [s, c] = both(await link(alice.device, bob.device));
    const closed = new Promise<unknown>((r) => s.once("close", r));
    c.close();
    expect(await closed).toBeUndefined();
    expect(s.closed).toBe(true);
    expect(() => c.send(Uint8Array.of(1))).toThrow(expect.objectContaining({ code: "LINK_CLOSED" }));
  });

  it("the handshake survives lost datagrams (flights retransmitted) and duplicated ones (replays dropped)", async () => {
    const [a, b] = await udpPair();
    // The client's first ClientHello is lost, then the first datagram of the server's certificate flight.
    const sent = { server: 0, client: 0 };
    const lossyA = lossy(a, (n) => (sent.server++, n === 1));
    const lossyB = lossy(b, (n) => (sent.client++, n === 0));
    const [s, c] = both(await link(alice.device, bob.device, [lossyA, lossyB]));
    expect(sent.client).toBeGreaterThan(3);
    try {
      const received: string[] = [];
      s.on("message", (m) => received.push(Buffer.from(m).toString()));
      const record: Uint8Array[] = [];
      const original = b.send.bind(b);
      b.send = (d: Uint8Array) => {
        record.push(d);
        original(d);
        original(d);
      };
      c.send(Buffer.from("once"));
      c.send(Buffer.from("twice"));
      // Positive control: a record sent once after the doubled ones arrives after them (loopback keeps order),
      // so once it is here every copy was read.
      b.send = original;
      c.send(Buffer.from("marker"));
      await waitFor(() => received.includes("marker"));
      expect(received).toEqual(["once", "twice", "marker"]);
      // A record sent again later is a replay too.
      original(record[0]!);
      c.send(Buffer.from("second marker"));
      await waitFor(() => received.includes("second marker"));
      expect(received).toEqual(["once", "twice", "marker", "second marker"]);
    } finally {
      s.close();
      c.close();
    }
  });

  it("large certificate chains are fragmented to the MTU and reassembled", async () => {
    const [a, b] = await udpPair();
    const sizes: number[] = [];
    const watch = (t: UdpTransport): DatagramTransport => lossy(t, (_, d) => (sizes.push(d.length), false));
    const results = await Promise.allSettled([
      dtlsLink({ transport: watch(a), role: "server", identity: alice.device, verifyPeer: () => undefined, mtu: 600 }),
      dtlsLink({ transport: watch(b), role: "client", identity: bob.device, verifyPeer: () => undefined, mtu: 600 }),
    ]);
    const [s, c] = both(results);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(600);
    s.close();
    c.close();
  });

  it("a chain for another Jami ID than expected is refused: PEER_REFUSED here, an alert there", async () => {
    const expected = alice.account.accountCertificate.jamiId;
    const [s, c] = await link(alice.device, bob.device, undefined, {
      server: (p) => {
        if (!p.jamiId.equals(expected)) throw new Error(`expected ${expected}, got ${p.jamiId}`);
      },
    });
    expect(s).toMatchObject({ status: "rejected", reason: { code: "PEER_REFUSED" } });
    expect(c).toMatchObject({ status: "rejected", reason: { code: "TLS_FAILED", message: expect.stringContaining("access_denied") } });
  });

  it("an expired device certificate is refused", async () => {
    const old = await newDevice(bob.account, new Date(Date.now() - 11 * 365 * 86400_000));
    const [s] = await link(alice.device, old.device);
    expect(s).toMatchObject({ status: "rejected", reason: { code: "PEER_REFUSED", message: expect.stringContaining("expired") } });
  });

  it("a device its account revoked is refused for its revocation alone (complete chain, CHAIN_REVOKED)", async () => {
    const [laptop, phone] = await Promise.all([newDevice(bob.account), newDevice(bob.account)]);
    const crl = RevocationList.sign({
      issuerKey: bob.account.accountKey,
      issuerCertificate: bob.account.accountCertificate,
      revoke: [laptop.device.certificate],
    });
    // The whole chain the peer presented (device, account, CA): only the CRL can refuse it.
    const check: Check = (_p, chain) => void verifyDeviceChain(chain, { revocationLists: [crl] });
    const [, refused] = await link(laptop.device, alice.device, undefined, { client: check });
    expect(refused).toMatchObject({ status: "rejected", reason: { code: "PEER_REFUSED", cause: { code: "CHAIN_REVOKED" } } });
    const [s, c] = both(await link(phone.device, alice.device, undefined, { client: check }));
    s.close();
    c.close();
  });

  it("garbage and forged records are dropped; the link carries on", async () => {
    const [a, b] = await udpPair();
    const [s, c] = both(await link(alice.device, bob.device, [a, b]));
    try {
      const received: string[] = [];
      s.on("message", (m) => received.push(Buffer.from(m).toString()));
      b.send(Buffer.from("not DTLS at all"));
      b.send(new Uint8Array(0));
      // An application-data record with a valid header and a fake ciphertext.
      b.send(Uint8Array.of(23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 99, 0, 30, ...new Uint8Array(30)));
      // A record of a later epoch, and a plaintext one at epoch 0.
      b.send(Uint8Array.of(23, 0xfe, 0xfd, 0, 2, 0, 0, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4));
      b.send(Uint8Array.of(23, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 50, 0, 4, 1, 2, 3, 4));
      // A real record with one ciphertext bit flipped.
      const original = b.send.bind(b);
      b.send = (d: Uint8Array) => {
        const copy = Uint8Array.from(d);
        copy[copy.length - 20]! ^= 1;
        original(copy);
      };
      c.send(Buffer.from("tampered"));
      b.send = original;
      c.send(Buffer.from("still up"));
      // Sent last, read last: once it is here the forged and tampered records before it were dropped.
      await waitFor(() => received.includes("still up"));
      expect(received).toEqual(["still up"]);
    } finally {
      s.close();
      c.close();
    }
  });

  it("garbage during the handshake fails it with TLS_FAILED", async () => {
    const [a, b] = await udpPair();
    const pending = dtlsLink({ transport: a, role: "server", identity: alice.device, verifyPeer: () => undefined, timeoutMs: 5000 });
    // A handshake record holding a ClientHello fragment whose length runs past the record.
    b.send(Uint8Array.of(22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 1, 0, 0, 50, 0, 0, 0, 0, 0, 0, 0, 60));
    await expect(pending).rejects.toMatchObject({ code: "TLS_FAILED" });
    b.close();
  });

  it("a peer that never answers times out; an abort stops the handshake", async () => {
    const [a, b] = await udpPair();
    await expect(dtlsLink({ transport: a, role: "client", identity: alice.device, verifyPeer: () => undefined, timeoutMs: 1500 })).rejects.toMatchObject({
      code: "TIMEOUT",
    });
    const controller = new AbortController();
    const pending = dtlsLink({ transport: b, role: "client", identity: alice.device, verifyPeer: () => undefined, signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: "ABORTED" });
    a.close();
    b.close();
  });

  it("a message over 16 KiB is refused with INVALID_ARGUMENT", async () => {
    const [s, c] = both(await link(alice.device, bob.device));
    expect(() => c.send(new Uint8Array(16385))).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    const got = nextMessage(s);
    c.send(new Uint8Array(16384).fill(0x61));
    expect((await got).length).toBe(16384);
    s.close();
    c.close();
  });
});
