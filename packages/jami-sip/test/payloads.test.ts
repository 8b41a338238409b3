import { decodePayload, encodePayload, MIME, type JamiPayload } from "../src/index.js";

const CONV = "18c68b406ff66cbd892378aa4a932e230b4ebbc9";
const COMMIT = "d4b7deda3245a2884e0095d687a27db335558b84";
const DEVICE = "80cda52e8d537bde629b907df80e5a63d02af0f474324bc15233f9d4a85ca02f";

describe("jamid's MESSAGE payloads", () => {
  it("the git notice as jsoncpp's default writer prints it (tab indent, ' : ', sorted keys)", () => {
    const { mimeType, body } = encodePayload({ type: "git-notice", notice: { conversationId: CONV, commit: COMMIT, deviceId: DEVICE } });
    expect(mimeType).toBe("application/im-gitmessage-id");
    expect(body).toBe(`{\n\t"commit" : "${COMMIT}",\n\t"deviceId" : "${DEVICE}",\n\t"id" : "${CONV}"\n}`);
    expect(decodePayload(mimeType, JSON.stringify({ id: CONV, commit: COMMIT, deviceId: DEVICE }))).toEqual({
      type: "git-notice",
      notice: { conversationId: CONV, commit: COMMIT, deviceId: DEVICE },
    });
  });

  it("composing and displayed: jamid's XML templates (RFC 3994, RFC 5438) with <conversation>", () => {
    expect(encodePayload({ type: "composing", conversationId: CONV, active: true }).body).toBe(
      `<?xml version="1.0" encoding="utf-8" ?>\n<isComposing><state>active</state><conversation>${CONV}</conversation></isComposing>`,
    );
    expect(encodePayload({ type: "displayed", conversationId: CONV, messageId: COMMIT }).body).toBe(
      `<?xml version="1.0" encoding="utf-8" ?>\n<imdn><message-id>${COMMIT}</message-id>\n<conversation>${CONV}</conversation><display-notification><status><displayed/></status></display-notification>\n</imdn>`,
    );
  });

  const cases: JamiPayload[] = [
    { type: "invitation", invitation: { conversationId: CONV, metadatas: { mode: "2", title: "Spec group" } } },
    { type: "invitation-request", conversationId: CONV },
    { type: "composing", conversationId: CONV, active: false },
    { type: "composing", active: true },
    { type: "displayed", conversationId: CONV, messageId: COMMIT },
    { type: "text", text: "héllo" },
    { type: "other", mimeType: "application/x-future", body: "{}" },
  ];
  it.each(cases)("%j round-trips", (payload) => {
    const { mimeType, body } = encodePayload(payload);
    expect(decodePayload(mimeType, body)).toEqual(payload);
  });

  it("bad payloads of known types are MALFORMED", () => {
    const bad: Array<[string, string]> = [
      [MIME.gitNotice, "not json"],
      [MIME.gitNotice, JSON.stringify({ id: CONV, commit: "short", deviceId: DEVICE })],
      [MIME.gitNotice, JSON.stringify({ id: CONV, commit: COMMIT, deviceId: "../../etc" })],
      [MIME.inviteJson, JSON.stringify({ metadatas: {} })],
      [MIME.invite, "../x"],
      [MIME.composing, "<isComposing/>"],
      [MIME.imdn, "<imdn><message-id>x</message-id><delivered/></imdn>"],
    ];
    for (const [type, body] of bad) expect(() => decodePayload(type, body)).toThrow(expect.objectContaining({ code: "MALFORMED" }));
  });
});
