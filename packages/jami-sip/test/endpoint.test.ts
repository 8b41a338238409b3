import { Duplex, PassThrough } from "node:stream";
import { SipEndpoint, SipHeaders, parseSipMessage, serializeSipMessage, type IncomingSipMessage } from "../src/index.js";

const ALICE = "33096fc5f7bd08bea12ad2b19d77c18d3c650cac";
const BOB = "71e552330d6d929b149ea6894d9dd4884ab7c52f";
const CONV = "18c68b406ff66cbd892378aa4a932e230b4ebbc9";
const COMMIT = "d4b7deda3245a2884e0095d687a27db335558b84";
const DEVICE = "80cda52e8d537bde629b907df80e5a63d02af0f474324bc15233f9d4a85ca02f";

function pair(): [Duplex, Duplex] {
  const [ab, ba] = [new PassThrough(), new PassThrough()];
  return [Duplex.from({ readable: ba, writable: ab }), Duplex.from({ readable: ab, writable: ba })];
}
const nextMessage = (e: SipEndpoint) => new Promise<IncomingSipMessage>((r) => e.once("message", r));

describe("SipEndpoint: MESSAGE transactions on one sip channel", () => {
  let a: SipEndpoint, b: SipEndpoint, rawA: Duplex, rawB: Duplex;
  beforeEach(() => {
    [rawA, rawB] = pair();
    a = new SipEndpoint(rawA, { localUser: ALICE, remoteUser: BOB, displayName: "alice", userAgent: "jami-ts" });
    b = new SipEndpoint(rawB, { localUser: BOB, remoteUser: ALICE });
  });
  afterEach(() => {
    a.close();
    b.close();
  });

  it("a notice goes one way, 200 OK comes back; the receiver reads the sender from the From user part", async () => {
    const received = nextMessage(b);
    const { messageId } = await a.sendMessage({ type: "git-notice", notice: { conversationId: CONV, commit: COMMIT, deviceId: DEVICE } });
    const message = await received;
    expect(message.sender).toBe(ALICE);
    expect(message.from.displayName).toBe("alice");
    expect(message.messageId).toBe(messageId);
    expect(message.payloads).toEqual([{ type: "git-notice", notice: { conversationId: CONV, commit: COMMIT, deviceId: DEVICE } }]);
    expect(message.request.headers.get("User-Agent")).toBe("jami-ts");
    expect(message.request.headers.get("Date")).toMatch(/^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}$/);
  });

  it("addressed as pjsip addresses jamid's MESSAGE when the link's ends are known, and answered as pjsip answers it", async () => {
    const [rawC, rawD] = pair();
    const c = new SipEndpoint(rawC, {
      localUser: ALICE,
      remoteUser: BOB,
      displayName: "alice",
      userAgent: "jami-ts 0.1.0 (linux)",
      localHost: "198.18.0.2:40000",
      remoteHost: "198.18.0.1:34087",
    });
    const d = new SipEndpoint(rawD, { localUser: BOB, remoteUser: ALICE, remoteHost: "198.18.0.2:40000", localHost: "198.18.0.1:34087" });
    const wire: string[] = [];
    rawC.on("data", (chunk: Buffer) => wire.push(chunk.toString()));
    const received = nextMessage(d);
    await c.sendMessage({ type: "git-notice", notice: { conversationId: CONV, commit: COMMIT, deviceId: DEVICE } });
    const { request } = await received;
    // jamid 13.7's own (read with sip-dump): these forms and this order
    expect(request.uri).toBe(`sips:${BOB}@198.18.0.1:34087;transport=tls`);
    expect(request.headers.get("Via")).toMatch(/^SIP\/2\.0\/TLS 198\.18\.0\.2:40000;rport;branch=z9hG4bK[0-9a-f]+;alias$/);
    expect(request.headers.get("To")).toBe(`<sips:${BOB}@198.18.0.1>`);
    expect([...request.headers].map(([n]) => n)).toEqual([
      "Via",
      "Max-Forwards",
      "From",
      "To",
      "Call-ID",
      "CSeq",
      "Date",
      "Message-ID",
      "User-Agent",
      "Content-Type",
      "Content-Length",
    ]);
    const answer = parseSipMessage(new TextEncoder().encode(wire.join("")));
    const branch = /branch=([^;]+)/.exec(request.headers.get("Via")!)![1];
    expect([...answer.headers].map(([n]) => n)).toEqual(["Via", "Call-ID", "From", "To", "CSeq", "Content-Length"]);
    expect(answer.headers.get("Via")).toBe(`SIP/2.0/TLS 198.18.0.2:40000;rport=40000;received=198.18.0.2;branch=${branch};alias`);
    expect(answer.headers.get("To")).toBe(`<sips:${BOB}@198.18.0.1>;tag=${branch}`);
    c.close();
    d.close();
  });

  it("a retransmitted MESSAGE (same Message-ID) is answered again but delivered once", async () => {
    const seen: IncomingSipMessage[] = [];
    b.on("message", (m) => seen.push(m));
    const request = serializeSipMessage({
      kind: "request",
      method: "MESSAGE",
      uri: `sips:${BOB}@ring.dht`,
      headers: new SipHeaders([
        ["Via", "SIP/2.0/TLS x;branch=z9hG4bKretx"],
        ["From", `<sip:${ALICE}@ring.dht>;tag=1`],
        ["To", `<sips:${BOB}@ring.dht>`],
        ["Call-ID", "c1"],
        ["CSeq", "1 MESSAGE"],
        ["Message-ID", "abc123"],
        ["Content-Type", "text/plain"],
      ]),
      body: new TextEncoder().encode("once"),
    });
    const responses: string[] = [];
    rawA.removeAllListeners("data");
    rawA.on("data", (d: Buffer) => responses.push(d.toString()));
    rawA.write(request);
    rawA.write(request);
    await new Promise<void>((r) => {
      const check = () => (responses.join("").split("SIP/2.0 200 OK").length - 1 >= 2 ? r() : setImmediate(check));
      check();
    });
    expect(seen.map((m) => m.payloads)).toEqual([[{ type: "text", text: "once" }]]);
    const response = parseSipMessage(new TextEncoder().encode(responses.join("").split(/(?=SIP\/2\.0 200)/)[0]!));
    expect(response.headers.get("Via")).toBe("SIP/2.0/TLS x;branch=z9hG4bKretx");
    expect(response.headers.get("To")).toMatch(/;tag=/);
    expect(response.headers.get("CSeq")).toBe("1 MESSAGE");
  });

  it("a non-2xx final response rejects with REJECTED; other methods are 501 unless someone handles them", async () => {
    const handler = (request: { method: string }, respond: (status: number, reason: string) => void) =>
      respond(request.method === "INVITE" ? 486 : 200, request.method === "INVITE" ? "Busy Here" : "OK");
    b.on("request", handler);
    await expect(a.request("INVITE", new SipHeaders(), new Uint8Array(0))).rejects.toMatchObject({ code: "REJECTED", message: expect.stringContaining("486") });
    await expect(a.request("OPTIONS", new SipHeaders(), new Uint8Array(0))).resolves.toMatchObject({ status: 200 });
    b.off("request", handler);
    await expect(a.request("OPTIONS", new SipHeaders(), new Uint8Array(0))).rejects.toMatchObject({
      code: "REJECTED",
      message: expect.stringContaining("501"),
    });
  });

  it("no answer: TIMEOUT; an abort: ABORTED; a closed channel: CLOSED", async () => {
    const [silent] = pair();
    const lonely = new SipEndpoint(silent, { localUser: ALICE, remoteUser: BOB, timeoutMs: 50 });
    await expect(lonely.sendMessage({ type: "text", text: "anyone?" })).rejects.toMatchObject({ code: "TIMEOUT" });
    const controller = new AbortController();
    const pending = lonely.sendMessage({ type: "text", text: "x" }, { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: "ABORTED" });
    lonely.close();
    await expect(lonely.sendMessage({ type: "text", text: "x" })).rejects.toMatchObject({ code: "CLOSED" });
  });

  it("garbage on the channel: an error event, the channel closed, nothing delivered", async () => {
    const errors: Error[] = [];
    b.on("error", (e) => errors.push(e));
    const closed = new Promise((r) => b.once("close", () => r(undefined)));
    rawA.write("NOT SIP AT ALL\r\n\r\n");
    await closed;
    expect(errors[0]).toMatchObject({ code: "MALFORMED" });
  });

  it("a payload of a known type that does not parse is reported, answered 200 like jamid, and not delivered", async () => {
    const errors: Error[] = [];
    b.on("error", (e) => errors.push(e));
    const delivered: IncomingSipMessage[] = [];
    b.on("message", (m) => delivered.push(m));
    await a.sendMessage({ type: "other", mimeType: "application/im-gitmessage-id", body: '{"id":"nope"}' });
    await a.sendMessage({ type: "text", text: "still up" });
    await new Promise((r) => setImmediate(r));
    expect(errors[0]).toMatchObject({ code: "MALFORMED" });
    expect(delivered.map((m) => m.payloads[0])).toEqual([{ type: "text", text: "still up" }]);
  });
});
