import {
  SipHeaders,
  SipStreamParser,
  formatSipAddress,
  parseMultipart,
  parseSipAddress,
  parseSipMessage,
  parseSipUri,
  serializeSipMessage,
  multipartBoundary,
} from "../src/index.js";

const ALICE = "33096fc5f7bd08bea12ad2b19d77c18d3c650cac";
const BOB = "71e552330d6d929b149ea6894d9dd4884ab7c52f";
const enc = (s: string) => new TextEncoder().encode(s);

/** A MESSAGE laid out as jamid 13.7's `sendSIPMessage` builds it (spec §5.2). */
const body =
  '{\n\t"commit" : "d4b7deda3245a2884e0095d687a27db335558b84",\n\t"deviceId" : "80cda52e8d537bde629b907df80e5a63d02af0f474324bc15233f9d4a85ca02f",\n\t"id" : "18c68b406ff66cbd892378aa4a932e230b4ebbc9"\n}';
const jamidMessage =
  `MESSAGE sips:${BOB}@10.0.0.2:4242;transport=tls SIP/2.0\r\n` +
  `Via: SIP/2.0/TLS 10.0.0.1:4242;rport;branch=z9hG4bKPj8a1\r\n` +
  `Max-Forwards: 70\r\n` +
  `From: "alice" <sip:${ALICE}@ring.dht>;tag=Pj7f2\r\n` +
  `To: <sips:${BOB}@10.0.0.2:4242;transport=tls>\r\n` +
  `Call-ID: Pj1c9e\r\n` +
  `CSeq: 4711 MESSAGE\r\n` +
  `Date: Mon Dec  7 01:50:00 2026\r\n` +
  `Message-ID: 1e6f0a4b2c3d4e5f\r\n` +
  `User-Agent: Jami Daemon 13.7.0 (linux)\r\n` +
  `Content-Type: application/im-gitmessage-id\r\n` +
  `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
  body;

describe("SIP messages on a stream", () => {
  it("reads jamid's MESSAGE and writes it back byte for byte", () => {
    const message = parseSipMessage(enc(jamidMessage));
    expect(message).toMatchObject({ kind: "request", method: "MESSAGE", uri: `sips:${BOB}@10.0.0.2:4242;transport=tls` });
    expect(message.headers.get("call-id")).toBe("Pj1c9e");
    expect(message.headers.get("CSEQ")).toBe("4711 MESSAGE");
    expect(new TextDecoder().decode(message.body)).toBe(body);
    expect(Buffer.from(serializeSipMessage(message)).toString()).toBe(jamidMessage);
  });

  it("frames by Content-Length in bytes (UTF-8), across any chunking, skipping keep-alive CRLFs", () => {
    const utf8 = "héllo 👋";
    const one = serializeSipMessage({
      kind: "request",
      method: "MESSAGE",
      uri: "sip:x@y",
      headers: new SipHeaders([["Content-Type", "text/plain"]]),
      body: enc(utf8),
    });
    expect(Buffer.from(one).toString()).toContain(`Content-Length: ${Buffer.byteLength(utf8)}\r\n`);
    const stream = Buffer.concat([Buffer.from("\r\n\r\n"), one, enc(jamidMessage), Buffer.from("\r\n"), one]);
    for (const size of [1, 2, 7, 64, stream.length]) {
      const parser = new SipStreamParser();
      const out = [];
      for (let at = 0; at < stream.length; at += size) out.push(...parser.push(stream.subarray(at, at + size)));
      expect(out.map((m) => new TextDecoder().decode(m.body))).toEqual([utf8, body, utf8]);
      expect(parser.pending).toBe(0);
    }
  });

  it("unfolds continuation lines and expands compact header names", () => {
    const text =
      "SIP/2.0 200 OK\r\nv: SIP/2.0/TLS a;branch=z9hG4bK1\r\nf: <sip:a@b>;tag=1\r\nt: <sip:c@d>\r\ni: abc\r\nSubject: one\r\n two\r\n\tthree\r\nl: 0\r\n\r\n";
    const message = parseSipMessage(enc(text));
    expect(message).toMatchObject({ kind: "response", status: 200, reason: "OK" });
    expect(message.headers.get("Via")).toBe("SIP/2.0/TLS a;branch=z9hG4bK1");
    expect(message.headers.get("Call-ID")).toBe("abc");
    expect(message.headers.get("Subject")).toBe("one two three");
  });

  it("addresses and URIs: display names, IPv6 hosts, parameters", () => {
    const from = parseSipAddress(`"Alice \\"A\\"" <sip:${ALICE}@ring.dht>;tag=Pj7f2`);
    expect(from).toEqual({ displayName: 'Alice "A"', uri: { scheme: "sip", user: ALICE, host: "ring.dht", params: {} }, params: { tag: "Pj7f2" } });
    expect(formatSipAddress(from)).toBe(`"Alice \\"A\\"" <sip:${ALICE}@ring.dht>;tag=Pj7f2`);
    expect(parseSipUri(`sips:${BOB}@[fe80::1]:5061;transport=tls`)).toEqual({
      scheme: "sips",
      user: BOB,
      host: "[fe80::1]",
      port: 5061,
      params: { transport: "tls" },
    });
    expect(parseSipAddress("sip:a@b;tag=x")).toMatchObject({ uri: { user: "a", host: "b" }, params: { tag: "x" } });
    expect(() => parseSipUri("http://x")).toThrow(expect.objectContaining({ code: "MALFORMED" }));
  });

  it("multipart bodies on receive", () => {
    const type = 'multipart/mixed; boundary="b1"';
    const bytes = enc(
      "--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b1\r\nContent-Type: application/invite\r\n\r\n18c68b406ff66cbd892378aa4a932e230b4ebbc9\r\n--b1--\r\n",
    );
    const parts = parseMultipart(bytes, multipartBoundary(type)!);
    expect(parts.map((p) => [p.contentType, new TextDecoder().decode(p.body)])).toEqual([
      ["text/plain", "hello"],
      ["application/invite", "18c68b406ff66cbd892378aa4a932e230b4ebbc9"],
    ]);
  });

  it("a peer trickling one byte at a time costs linear work (each byte is looked at a bounded number of times)", () => {
    const big = "x".repeat(256 * 1024);
    const bytes = serializeSipMessage({
      kind: "request",
      method: "MESSAGE",
      uri: "sip:x@y",
      headers: new SipHeaders([["X-Pad", "p".repeat(60_000)]]),
      body: enc(big),
    });
    const parser = new SipStreamParser();
    const out = [];
    // quadratic rescanning or copying would make this ~10^11 byte operations: hours, not a second
    for (let i = 0; i < bytes.length; i++) out.push(...parser.push(bytes.subarray(i, i + 1)));
    expect(out).toHaveLength(1);
    expect(out[0]!.body.byteLength).toBe(big.length);
  });

  describe("bad input", () => {
    const expectCode = (text: string | Uint8Array, code: string, limits = {}) =>
      expect(() => new SipStreamParser(limits).push(typeof text === "string" ? enc(text) : text)).toThrow(expect.objectContaining({ code }));
    it("a Content-Length beyond the limit is refused before any body is read", () =>
      expectCode("MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 99999999\r\n\r\n", "TOO_LARGE"));
    it("a header bomb: too many headers, or a header section without end", () => {
      expectCode("MESSAGE sip:a@b SIP/2.0\r\n" + "X-A: 1\r\n".repeat(300) + "\r\n", "TOO_LARGE");
      expectCode("MESSAGE sip:a@b SIP/2.0\r\nX: " + "a".repeat(70_000), "TOO_LARGE");
    });
    it("bad start lines, header names, Content-Length values", () => {
      expectCode("HELLO\r\n\r\n", "MALFORMED");
      expectCode("MESSAGE sip:a@b SIP/3.0\r\n\r\n", "MALFORMED");
      expectCode("MESSAGE sip:a@b SIP/2.0\r\nbad header\r\n\r\n", "MALFORMED");
      expectCode("MESSAGE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n", "MALFORMED");
      expectCode("MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab", "MALFORMED");
      expectCode(Uint8Array.from([...enc("MESSAGE sip:a@b SIP/2.0\r\nX: "), 0xff, 0xfe, ...enc("\r\n\r\n")]), "MALFORMED");
    });
    it("a truncated message is not a message", () => {
      const parser = new SipStreamParser();
      expect(parser.push(enc(jamidMessage.slice(0, -5)))).toEqual([]);
      expect(() => parseSipMessage(enc(jamidMessage.slice(0, -5)))).toThrow(expect.objectContaining({ code: "MALFORMED" }));
    });
  });
});
