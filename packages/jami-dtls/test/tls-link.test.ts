import { secureLink, type SecureLink } from "jami-dtls";
import { RevocationList, verifyDeviceChain, type Certificate, type DeviceIdentity } from "jami-identity";
import { icePair, newDevice } from "./helpers.js";

type Check = (p: SecureLink["peer"], chain: Certificate[]) => void;

async function link(server: DeviceIdentity, client: DeviceIdentity, checks: { server?: Check; client?: Check } = {}) {
  const [controlled, controlling] = await icePair();
  return Promise.allSettled([
    secureLink({ transport: controlled, role: "server", identity: server, verifyPeer: (p, chain) => checks.server?.(p, chain) }),
    secureLink({ transport: controlling, role: "client", identity: client, verifyPeer: (p, chain) => checks.client?.(p, chain) }),
  ]);
}

describe("TLS between two devices over ICE-TCP", () => {
  let alice: Awaited<ReturnType<typeof newDevice>>;
  let bob: Awaited<ReturnType<typeof newDevice>>;
  beforeAll(async () => {
    [alice, bob] = await Promise.all([newDevice(), newDevice()]);
  });

  it("TLS 1.3, AES-256-GCM, each side sees the other's verified device chain", async () => {
    const [s, c] = await link(alice.device, bob.device);
    if (s.status !== "fulfilled" || c.status !== "fulfilled") throw new Error("link failed");
    expect(s.value.protocol).toBe("TLSv1.3");
    expect(s.value.cipher).toBe("TLS_AES_256_GCM_SHA384");
    expect(s.value.peer.deviceId.toString()).toBe(bob.device.certificate.deviceId.toString());
    expect(c.value.peer.jamiId.toString()).toBe(alice.account.accountCertificate.jamiId.toString());
    expect(s.value.peerChain.map((x) => x.toPem()).join("")).toBe([bob.device.certificate, ...bob.device.issuers].map((x) => x.toPem()).join(""));
    const got = new Promise<string>((r) => c.value.socket.once("data", (d: Buffer) => r(d.toString())));
    s.value.socket.write("over TLS");
    expect(await got).toBe("over TLS");
    s.value.socket.destroy();
  });

  it("a chain for another Jami ID than expected is refused with PEER_REFUSED", async () => {
    const expected = alice.account.accountCertificate.jamiId;
    const [s] = await link(alice.device, bob.device, {
      server: (p) => {
        if (!p.jamiId.equals(expected)) throw new Error(`expected ${expected}, got ${p.jamiId}`);
      },
    });
    expect(s).toMatchObject({ status: "rejected", reason: { code: "PEER_REFUSED" } });
  });

  it("an expired device certificate is refused", async () => {
    const old = await newDevice(bob.account, new Date(Date.now() - 11 * 365 * 86400_000));
    const [s] = await link(alice.device, old.device);
    expect(s).toMatchObject({ status: "rejected", reason: { code: "PEER_REFUSED" } });
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
    const [refused] = await link(alice.device, laptop.device, { server: check });
    expect(refused).toMatchObject({ status: "rejected", reason: { code: "PEER_REFUSED", cause: { code: "CHAIN_REVOKED" } } });
    // The same check lets a device of the same account that the CRL does not name through.
    const [accepted] = await link(alice.device, phone.device, { server: check });
    expect(accepted.status).toBe("fulfilled");
    if (accepted.status === "fulfilled") accepted.value.socket.destroy();
  });

  it("a peer that is not TLS at all fails the handshake with TLS_FAILED", async () => {
    const [controlled, controlling] = await icePair();
    const pending = secureLink({ transport: controlled, role: "server", identity: alice.device, verifyPeer: () => undefined, timeoutMs: 5000 });
    controlling.write("GET / HTTP/1.0\r\n\r\n");
    await expect(pending).rejects.toMatchObject({ code: "TLS_FAILED" });
    controlling.destroy();
  });
});
