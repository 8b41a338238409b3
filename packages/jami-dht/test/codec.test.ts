import { PrivateKey } from "jami-identity";
import { DhtError, InfoHash, parseMessage, Value, type ParsedMessage } from "jami-dht";
import {
  buildError,
  buildFind,
  buildGet,
  buildListen,
  buildPing,
  buildPut,
  buildRefresh,
  buildReply,
  buildUpdateIds,
  buildUpdateValues,
  buildValueData,
  type Envelope,
} from "../src/messages.js";
import { RawMsg } from "jami-core";
import { identityPem, packetVectors, valueVector } from "./vectors.js";

function valuesField(m: ParsedMessage): unknown[] | undefined {
  if (m.valueSizes) return m.valueSizes;
  return m.values.length ? m.values.map((v) => new RawMsg(v.encode())) : undefined;
}

/** Re-encodes a parsed message with our builders: must give the real node's bytes back. */
function rebuild(m: ParsedMessage): Uint8Array {
  const env: Envelope = { tid: m.tid, network: m.network, userAgent: m.userAgent };
  const id = m.id!;
  switch (m.kind) {
    case "error":
      return buildError(env, id, m.error!.code, m.error!.message);
    case "reply":
      return buildReply(env, id, {
        vid: m.vid,
        requesterIp: m.requesterIp,
        nodes4: m.nodes4,
        nodes6: m.nodes6,
        token: m.token,
        values: valuesField(m),
        fields: m.fields,
      });
    case "valueData": {
      const [index, part] = [...m.parts!.entries()][0]!;
      return buildValueData(env, index, part.offset, part.data);
    }
    case "query":
      switch (m.query) {
        case "ping":
          return buildPing(env, id);
        case "find":
          return buildFind(env, id, m.target!, m.want);
        case "get":
          return buildGet(env, id, m.hash!, m.filter, m.want);
        case "put":
          return buildPut(env, id, m.hash!, valuesField(m)!, m.token!, m.created);
        case "listen":
          return buildListen(env, id, m.hash!, m.token!, m.sid!, m.filter);
        case "refresh":
          return buildRefresh(env, id, m.hash!, m.vid!, m.token!);
        case "update":
          if (m.refreshed.length) return buildUpdateIds(env, id, m.sid!, m.token!, m.refreshed, "re");
          if (m.expired.length) return buildUpdateIds(env, id, m.sid!, m.token!, m.expired, "exp");
          return buildUpdateValues(env, id, m.hash!, m.sid!, valuesField(m)!, m.token!, m.created);
      }
  }
  throw new Error(`cannot rebuild ${m.kind}`);
}

describe("OpenDHT 2.4.12 packets", () => {
  const vectors = packetVectors();

  it("has the captured vectors", () => {
    expect(vectors.length).toBeGreaterThanOrEqual(33);
  });

  for (const v of packetVectors()) {
    it(`${v.file}: parses and re-encodes byte-identically`, () => {
      const m = parseMessage(v.bytes);
      expect(m.badValues).toBe(0);
      expect(Buffer.from(rebuild(m)).toString("hex")).toBe(v.hex);
      for (const f of v.fragments ?? []) {
        const part = parseMessage(Buffer.from(f.hex, "hex"));
        expect(part.kind).toBe("valueData");
        expect(part.tid).toBe(m.tid);
        expect(Buffer.from(rebuild(part)).toString("hex")).toBe(f.hex);
      }
      if (v.key_preimage && m.hash) expect(m.hash.equals(InfoHash.parse(v.key_preimage))).toBe(true);
    });
  }

  it("reads message classes and fields as the spec names them", () => {
    const byFile = new Map(vectors.map((v) => [v.file, parseMessage(v.bytes)]));
    expect(byFile.get("ping.json")).toMatchObject({ kind: "query", query: "ping", userAgent: "RNG1", network: 0 });
    expect(byFile.get("pong_ipv6.json")!.requesterIp).toBe("::1");
    expect(byFile.get("find_reply_v4_v6.json")!.nodes6.length).toBeGreaterThan(0);
    expect(byFile.get("find_reply.json")!.token).toHaveLength(32);
    expect(byFile.get("error_401_put_wrong_token.json")!.error!.code).toBe(401);
    expect(byFile.get("listen.json")).toMatchObject({ query: "listen", version: 1 });
    expect(byFile.get("get_query_select.json")!.filter!.select).toEqual([1, 4]);
    expect(byFile.get("get_query_select_reply.json")!.fields).toEqual({ fields: [1], rows: [[1]] });
    expect(byFile.get("update_expired.json")!.expired.length).toBe(1);
    expect(byFile.get("put_signed.json")!.valueSizes!.length).toBe(1);
  });
});

describe("values", () => {
  it("a plain value", () => {
    const vec = valueVector("plain");
    const v = Value.decode(Buffer.from(vec.hex, "hex"));
    expect(new TextDecoder().decode(v.data)).toBe("hello-plain");
    expect(v.userType).toBe("text/plain");
    expect(v.isSigned).toBe(false);
    expect(Buffer.from(v.encode()).toString("hex")).toBe(vec.hex);
  });

  it("a signed value verifies over the exact body bytes", () => {
    const vec = valueVector("signed");
    const v = Value.decode(Buffer.from(vec.hex, "hex"));
    expect(v.verifySignature()).toBe(true);
    expect(Buffer.from(v.bodyBytes()).toString("hex")).toBe(vec.to_sign_hex);
    expect(v.ownerId!.toString()).toBe(vec.owner_pkid_sha1_spki);
    expect(Buffer.from(v.encode()).toString("hex")).toBe(vec.hex);
  });

  it("a tampered signed value does not verify", () => {
    const bytes = Buffer.from(valueVector("signed").hex, "hex");
    const at = bytes.indexOf(Buffer.from("hello-signed"));
    bytes[at] = bytes[at]! ^ 1;
    expect(Value.decode(bytes).verifySignature()).toBe(false);
  });

  it("the encrypted value decrypts with B's key and carries A's signature", () => {
    const vec = valueVector("encrypted");
    const v = Value.decode(Buffer.from(vec.hex, "hex"));
    expect(v.isEncrypted).toBe(true);
    const inner = v.decrypt(PrivateKey.fromPem(identityPem("idB.pem")));
    expect(inner.ownerId!.toString()).toBe(vec.owner_pkid);
    expect(inner.recipient!.toString()).toBe("c07308db77dfa449696545c90da8f9b23dfb99cb");
    expect(new TextDecoder().decode(inner.data)).toBe("hello-encrypted");
  });

  it("decrypting with another key fails with DECRYPT_FAILED", () => {
    const v = Value.decode(Buffer.from(valueVector("encrypted").hex, "hex"));
    expect(() => v.decrypt(PrivateKey.fromPem(identityPem("idA.pem")))).toThrow(expect.objectContaining({ code: "DECRYPT_FAILED" }));
  });

  it("the certificate value: type 8, id 1, msgpack bin of the PEM chain", () => {
    const vec = valueVector("certificate");
    const v = Value.decode(Buffer.from(vec.hex, "hex"));
    expect(v).toMatchObject({ id: 1n, type: 8 });
    expect(Buffer.from(v.data.subarray(3)).toString()).toContain("-----BEGIN CERTIFICATE-----");
  });

  it("sign, encrypt and decrypt round trip between the two vector identities", () => {
    const a = PrivateKey.fromPem(identityPem("idA.pem"));
    const b = PrivateKey.fromPem(identityPem("idB.pem"));
    const v = new Value({ data: "to B", userType: "text/plain" });
    const enc = Value.decode(v.encrypt(a, b.publicKey).encode());
    const back = enc.decrypt(b);
    expect(new TextDecoder().decode(back.data)).toBe("to B");
    expect(back.id).toBe(v.id);
    const signed = Value.decode(new Value({ data: "x" }).sign(a, 3).encode());
    expect(signed.seq).toBe(3);
    expect(signed.verifySignature()).toBe(true);
  });

  it("refuses malformed values with VALUE_INVALID", () => {
    for (const hex of [
      "",
      "80",
      "81a26964cd0001",
      "82a26964a178a3646174c0",
      "82a26964ff a3646174c0",
      "82a26964cf3a4f5fb6975c1bbaa364617481a4626f647981a474797065ce00010000",
    ]) {
      expect(() => Value.decode(Buffer.from(hex.replace(/ /g, ""), "hex"))).toThrow(DhtError);
    }
  });
});

describe("malformed datagrams", () => {
  it("are refused with DECODE or MESSAGE_INVALID", () => {
    const bad = [
      "",
      "c0",
      "91a1",
      "82a17401a179a171", // query without name
      "84a17401a179a171a171a5626f677573a16181a26964c414" + "00".repeat(20), // unknown query
      "84a17401a179a171a171a470696e67a16181a26964c40401020304", // short id
    ];
    for (const hex of bad) {
      expect(() => parseMessage(Buffer.from(hex, "hex"))).toThrow(DhtError);
    }
  });
});
