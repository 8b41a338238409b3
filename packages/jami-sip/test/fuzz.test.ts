import { Duplex, PassThrough } from "node:stream";
import {
  SipEndpoint,
  SipHeaders,
  SipStreamParser,
  decodePayload,
  isSipError,
  parseMultipart,
  parseSipAddress,
  serializeSipMessage,
  MIME,
} from "../src/index.js";

/**
 * 100,000 deterministic random inputs (SIP_FUZZ_INPUTS) for everything that reads a peer's bytes on the `sip`
 * channel: the stream parser (mutated jamid-style messages cut at random points), addresses, payload bodies,
 * multipart bodies, and whole endpoints. Each ends in a result or a SipError — no other exception, no hang.
 */
const INPUTS = Number(process.env.SIP_FUZZ_INPUTS ?? 100_000);

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(input: Uint8Array, random: () => number): Uint8Array {
  let out: Uint8Array = Uint8Array.from(input);
  for (let e = 1 + Math.floor(random() * 4); e > 0; e--) {
    const at = Math.floor(random() * Math.max(out.length, 1));
    const r = Math.floor(random() * 6);
    if (r === 0) out[at] = Math.floor(random() * 256);
    else if (r === 1) out = out.subarray(0, at);
    else if (r === 2)
      out = Buffer.concat([
        out.subarray(0, at),
        Buffer.from(["\r\n", ":", ";", "<", ">", "0000000000", "\r\n\r\n", "Content-Length: 9\r\n"][Math.floor(random() * 8)]!),
        out.subarray(at),
      ]);
    else if (r === 3) out = Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + Math.floor(random() * 16)))]);
    else if (r === 4) out = Buffer.concat([out, out.subarray(0, Math.floor(random() * out.length))]);
    else out[at] = out[at]! ^ (1 << Math.floor(random() * 8));
  }
  return out;
}

const expectOurs = (error: unknown): void => {
  if (!isSipError(error)) throw new Error(`not a SipError: ${(error as Error)?.stack ?? String(error)}`);
};

describe("fuzz: the sip channel's inputs", () => {
  it(`${INPUTS} inputs end in a result or a SipError`, async () => {
    const random = rng(0x51b);
    const seed = serializeSipMessage({
      kind: "request",
      method: "MESSAGE",
      uri: "sips:71e552330d6d929b149ea6894d9dd4884ab7c52f@10.0.0.2:4242;transport=tls",
      headers: new SipHeaders([
        ["Via", "SIP/2.0/TLS 10.0.0.1:4242;rport;branch=z9hG4bKPj8a1"],
        ["From", '"alice" <sip:33096fc5f7bd08bea12ad2b19d77c18d3c650cac@ring.dht>;tag=Pj7f2'],
        ["To", "<sips:71e552330d6d929b149ea6894d9dd4884ab7c52f@10.0.0.2:4242;transport=tls>"],
        ["Call-ID", "Pj1c9e"],
        ["CSeq", "4711 MESSAGE"],
        ["Message-ID", "1e6f0a4b2c3d4e5f"],
        ["Content-Type", 'multipart/mixed; boundary="b1"'],
      ]),
      body: new TextEncoder().encode("--b1\r\nContent-Type: application/invite\r\n\r\n18c68b406ff66cbd892378aa4a932e230b4ebbc9\r\n--b1--\r\n"),
    });
    const limits = { maxHeaderBytes: 4096, maxHeaders: 64, maxBodyBytes: 8192 };
    let parsed = 0;
    const parserInputs = Math.floor(INPUTS * 0.8);
    for (let i = 0; i < parserInputs; i++) {
      const input = mutate(seed, random);
      const parser = new SipStreamParser(limits);
      try {
        for (let at = 0; at < input.length;) {
          const size = 1 + Math.floor(random() * 300);
          parsed += parser.push(input.subarray(at, at + size)).length;
          at += size;
        }
      } catch (error) {
        expectOurs(error);
      }
    }
    const texts = [
      '"a" <sip:x@y>;tag=1',
      '{"id":"18c68b406ff66cbd892378aa4a932e230b4ebbc9","commit":"d4b7deda3245a2884e0095d687a27db335558b84","deviceId":"80cda52e8d537bde629b907df80e5a63d02af0f474324bc15233f9d4a85ca02f"}',
      "<isComposing><state>active</state><conversation>x</conversation></isComposing>",
      "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--",
    ];
    const otherInputs = INPUTS - parserInputs - 500;
    for (let i = 0; i < otherInputs; i++) {
      const text = Buffer.from(mutate(new TextEncoder().encode(texts[i % texts.length]!), random)).toString("latin1");
      try {
        if (i % 4 === 0) parseSipAddress(text);
        else if (i % 4 === 1) decodePayload(MIME.gitNotice, text);
        else if (i % 4 === 2) decodePayload(MIME.composing, text);
        else parseMultipart(Buffer.from(text, "latin1"), "b");
      } catch (error) {
        expectOurs(error);
      }
    }
    for (let i = 0; i < 500; i++) {
      const [ab, ba] = [new PassThrough(), new PassThrough()];
      const endpoint = new SipEndpoint(Duplex.from({ readable: ab, writable: ba }), { localUser: "a", remoteUser: "b", limits });
      const errors: unknown[] = [];
      endpoint.on("error", (e) => errors.push(e));
      ba.resume();
      ab.write(mutate(seed, random));
      await new Promise((r) => setImmediate(r));
      endpoint.close();
      errors.forEach(expectOurs);
    }
    expect(parsed).toBeGreaterThan(0);
  }, 900_000);
});
