import { createHash, X509Certificate } from "node:crypto";
import { PrivateKey } from "jami-identity";
import { InfoHash, MAX_VALUE_SIZE, Storage, Value, ValueType, decodeServiceAddress, encodeServiceAddress } from "jami-dht";
import { encodeMsgpack as encode } from "jami-core";
import { identityPem, valueVector } from "./vectors.js";

const A = PrivateKey.fromPem(identityPem("idA.pem"));
const B = PrivateKey.fromPem(identityPem("idB.pem"));
const key = InfoHash.get("storage-test");
const T0 = 1_800_000_000_000;

describe("Storage policies", () => {
  it("keeps a plain value for its type's lifetime, then expires it", () => {
    const s = new Storage();
    const v = new Value({ type: ValueType.IceCandidates, data: "x" });
    expect(s.store(key, v, T0).result).toBe("stored");
    expect(s.expire(T0 + 59_000).size).toBe(0);
    expect(s.expire(T0 + 60_000).get(key.toString())).toEqual([v.id]);
    expect(s.get(key)).toEqual([]);
  });

  it("counts expiration from the creation time, clamped to now", () => {
    const s = new Storage();
    const v = new Value({ data: "old" });
    s.store(key, v, T0, T0 - 9 * 60_000);
    expect(s.expire(T0 + 60_000).size).toBe(1);
    const future = new Value({ data: "future" });
    const out = s.store(key, future, T0, T0 + 3_600_000);
    expect(out.result === "stored" && out.stored.expiresAt).toBe(T0 + 10 * 60_000);
  });

  it("an identical put refreshes; an unsigned edit is refused", () => {
    const s = new Storage();
    const v = new Value({ data: "one" });
    s.store(key, v, T0);
    expect(s.store(key, Value.decode(v.encode()), T0 + 1000).result).toBe("refreshed");
    const edit = new Value({ id: v.id, data: "two" });
    expect(s.store(key, edit, T0 + 2000)).toMatchObject({ result: "rejected" });
    expect(new TextDecoder().decode(s.get(key)[0]!.value.data)).toBe("one");
  });

  it("signed edits need the same owner and a higher seq", () => {
    const s = new Storage();
    const v1 = new Value({ data: "v1" }).sign(A, 1);
    expect(s.store(key, v1, T0).result).toBe("stored");
    const replay = new Value({ id: v1.id, data: "v0" }).sign(A, 1);
    expect(s.store(key, replay, T0)).toMatchObject({ result: "rejected", reason: "seq not higher than stored" });
    const older = new Value({ id: v1.id, data: "older" }).sign(A, 0);
    expect(s.store(key, older, T0).result).toBe("rejected");
    const hijack = new Value({ id: v1.id, data: "mine" }).sign(B, 9);
    expect(s.store(key, hijack, T0)).toMatchObject({ result: "rejected", reason: "edit by another owner" });
    const v2 = new Value({ id: v1.id, data: "v2" }).sign(A, 2);
    expect(s.store(key, v2, T0).result).toBe("edited");
    expect(s.get(key)[0]!.value.seq).toBe(2);
  });

  it("refuses forged signatures, oversize values and id 0", () => {
    const s = new Storage();
    const bytes = Buffer.from(valueVector("signed").hex, "hex");
    bytes[bytes.indexOf(Buffer.from("hello-signed"))]! ^= 1;
    expect(s.store(key, Value.decode(bytes), T0)).toMatchObject({ result: "rejected", reason: "bad signature" });
    expect(s.store(key, new Value({ data: new Uint8Array(MAX_VALUE_SIZE + 1) }), T0).result).toBe("rejected");
    expect(s.store(key, new Value({ id: 0n, data: "x" }), T0).result).toBe("rejected");
    expect(s.valueCount).toBe(0);
    expect(s.totalBytes).toBe(0);
  });

  it("stores a certificate only at its key id", () => {
    const s = new Storage();
    const cert = Value.decode(Buffer.from(valueVector("certificate").hex, "hex"));
    expect(s.store(InfoHash.get("elsewhere"), cert, T0).result).toBe("rejected");
    expect(s.store(InfoHash.fromHex("c07308db77dfa449696545c90da8f9b23dfb99cb"), cert, T0).result).toBe("stored");
  });

  it("also stores a certificate at SHA-1 of its long id (OpenDHT ≥ 3.5), and lets the same key's certificate replace it", () => {
    const s = new Storage();
    const cert = Value.decode(Buffer.from(valueVector("certificate").hex, "hex"));
    const pem = Buffer.from(valueVector("certificate").pem as string);
    const spki = new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });
    const longKey = InfoHash.get(createHash("sha256").update(spki).digest());
    expect(s.store(longKey, cert, T0).result).toBe("stored");
    const firstOnly = pem.subarray(0, pem.indexOf("-----END CERTIFICATE-----") + 26);
    const renewed = new Value({ id: cert.id, type: ValueType.Certificate, data: encode(firstOnly) });
    expect(s.store(longKey, renewed, T0).result).toBe("edited");
    const other = Value.decode(Buffer.from(valueVector("certificate").hex, "hex"));
    other.data = encode(Buffer.from("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n"));
    expect(s.store(longKey, other, T0).result).toBe("rejected");
  });

  it("refuses DHT messages without a service", () => {
    const s = new Storage();
    expect(s.store(key, new Value({ type: ValueType.DhtMessage, data: encode(["", new Uint8Array(1)]) }), T0).result).toBe("rejected");
    expect(s.store(key, new Value({ type: ValueType.DhtMessage, data: encode(["svc", new Uint8Array(1)]) }), T0).result).toBe("stored");
  });

  it("over the limit, evicts the oldest values of the heaviest source", () => {
    const s = new Storage({ limitBytes: 3000 });
    const big = (n: number): Value => new Value({ data: new Uint8Array(1000).fill(n) });
    const first = big(1);
    s.store(key, first, T0, T0 - 5000, "10.0.0.1");
    s.store(key, big(2), T0, T0 - 4000, "10.0.0.1");
    const other = big(3);
    s.store(key, other, T0, T0 - 3000, "10.0.0.2");
    s.store(key, big(4), T0, T0 - 2000, "10.0.0.1");
    expect(s.totalBytes).toBeLessThanOrEqual(3000);
    expect(s.getById(key, first.id)).toBeUndefined();
    expect(s.getById(key, other.id)).toBeDefined();
  });

  it("limits values per key", () => {
    const s = new Storage({ maxValuesPerKey: 2 });
    s.store(key, new Value({ data: "1" }), T0);
    s.store(key, new Value({ data: "2" }), T0);
    expect(s.store(key, new Value({ data: "3" }), T0)).toMatchObject({ result: "rejected", reason: "too many values at this key" });
  });

  it("an IP service announcement keeps its port and takes the sender's address", () => {
    const s = new Storage();
    const announced = new Value({ type: ValueType.IpServiceAnnouncement, data: encodeServiceAddress("10.1.2.3", 5060) });
    expect(decodeServiceAddress(announced.data)).toEqual({ ip: "10.1.2.3", port: 5060 });
    const out = s.store(key, announced, T0, T0, "127.0.0.9");
    expect(out.result).toBe("stored");
    expect(decodeServiceAddress(s.get(key)[0]!.value.data)).toEqual({ ip: "127.0.0.9", port: 5060 });
    const v6 = s.store(InfoHash.get("v6"), new Value({ type: ValueType.IpServiceAnnouncement, data: encodeServiceAddress("::1", 4000) }), T0, T0, "::1");
    expect(v6.result).toBe("stored");
    expect(s.store(key, new Value({ type: ValueType.IpServiceAnnouncement, data: encodeServiceAddress("10.1.2.3", 0) }), T0, T0, "127.0.0.9").result).toBe(
      "rejected",
    );
    expect(s.store(key, new Value({ type: ValueType.IpServiceAnnouncement, data: "garbage" }), T0, T0, "127.0.0.9").result).toBe("rejected");
  });
});
