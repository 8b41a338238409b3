import { decodeBody, encodeBody, jsoncppStringify, messageFields, readProfileVcf, writeProfileVcf, type CommitBody } from "../src/index.js";

describe("commit bodies as jamid writes and reads them", () => {
  it("jsoncpp's compact writer: sorted keys, \\uXXXX for non-ASCII and control characters, escapes", () => {
    expect(jsoncppStringify({ type: "text/plain", body: 'é\u0001"\\\n\t/👍' })).toBe(
      '{"body":"\\u00e9\\u0001\\"\\\\\\n\\t/\\ud83d\\udc4d","type":"text/plain"}',
    );
    expect(jsoncppStringify({ b: 1, a: [true, null, "x"], "a-b": {} })).toBe('{"a":[true,null,"x"],"a-b":{},"b":1}');
  });

  const cases: Array<[CommitBody, string]> = [
    [{ type: "initial", mode: 0, invited: "a".repeat(40) }, `{"invited":"${"a".repeat(40)}","mode":0,"type":"initial"}`],
    [{ type: "initial", mode: 3 }, '{"mode":3,"type":"initial"}'],
    [{ type: "text/plain", body: "hi", replyTo: "b".repeat(40) }, `{"body":"hi","reply-to":"${"b".repeat(40)}","type":"text/plain"}`],
    [{ type: "member", action: "join", uri: "c".repeat(40) }, `{"action":"join","type":"member","uri":"${"c".repeat(40)}"}`],
    [{ type: "vote", uri: "c".repeat(40) }, `{"type":"vote","uri":"${"c".repeat(40)}"}`],
    [
      { type: "application/call-history+json", confId: "42", device: "d".repeat(64), uri: "c".repeat(40), duration: 60000 },
      `{"confId":"42","device":"${"d".repeat(64)}","duration":"60000","type":"application/call-history+json","uri":"${"c".repeat(40)}"}`,
    ],
    [
      { type: "application/call-history+json", to: "c".repeat(40), duration: 5, reason: "declined" },
      `{"duration":"5","reason":"declined","to":"${"c".repeat(40)}","type":"application/call-history+json"}`,
    ],
    [
      { type: "unknown", jsonType: "application/collab-doc+json", fields: { uri: "x", mimeType: "text/markdown" } },
      '{"mimeType":"text/markdown","type":"application/collab-doc+json","uri":"x"}',
    ],
  ];
  it.each(cases)("%j round-trips to the exact bytes", (body, json) => {
    expect(encodeBody(body)).toBe(json);
    expect(decodeBody(json)).toEqual(body);
  });

  it("the message map turns numbers into strings and hides what is not a typed JSON object", () => {
    expect(messageFields('{"mode":2,"type":"initial"}')).toEqual({ mode: "2", type: "initial" });
    expect(messageFields("Merge commit 'abc'")).toBeUndefined();
    expect(messageFields('{"body":"no type"}')).toBeUndefined();
    expect(messageFields("[1,2]")).toBeUndefined();
    expect(() => decodeBody("not json")).toThrow(expect.objectContaining({ code: "OBJECT_INVALID" }));
  });

  it("profile.vcf: 13.7's exact bytes, and any vCard read back (CRLF, folding, parameters)", () => {
    expect(writeProfileVcf({ title: "Spec group", description: "desc" })).toBe(
      "BEGIN:VCARD\nVERSION:2.1\nFN:Spec group\nDESCRIPTION:desc\nPHOTO;ENCODING=BASE64\n\n\nEND:VCARD",
    );
    const full = { title: "T", description: "D", avatar: "QUJD", rdvAccount: "e".repeat(40), rdvDevice: "f".repeat(64) };
    expect(readProfileVcf(writeProfileVcf(full))).toEqual(full);
    expect(readProfileVcf("BEGIN:VCARD\r\nVERSION:3.0\r\nFN;CHARSET=UTF-8:Long\r\n  title\r\nPHOTO;ENCODING=BASE64;TYPE=PNG:iVBO\r\nEND:VCARD\r\n")).toEqual({
      title: "Long title",
      avatar: "iVBO",
    });
  });
});
