/**
 * Our SIP MESSAGE next to jamid 13.7's own, read in clear from jamid's TLS records (`jamih start --tls-dump`,
 * `sip-dump`): the same request line, headers in the same order with the same forms, the same body bytes for
 * the same notice, and the same 200 OK.
 */
import type { JsonLinesProcess } from "../../../test-support/opendht.js";
import type { JamidHarness, JamidAccount } from "../../../test-support/jamid-harness.js";
import { askProbe, jamidAndProbe } from "../../../test-support/jamid-with-probe.js";

jest.setTimeout(400_000);
const NETNS = "jamits-sipwire";
const DHT_PORT = 4489;

interface Dumped {
  t: number;
  dir: string;
  session: string;
  channel: number;
  first: string;
  text: string;
}

describe("SIP on the wire, ours next to jamid 13.7's", () => {
  let harness: JamidHarness;
  let jamid: JamidAccount;
  let us: JsonLinesProcess;

  beforeAll(async () => {
    ({ harness, jamid, us } = await jamidAndProbe(NETNS, DHT_PORT, { jamidArgs: ["--tls-dump"] }));
  });
  afterAll(async () => {
    await us?.endInput();
    await harness?.stop();
  });

  /** A SIP message with its varying parts (ids, tags, branches, addresses, dates, numbers) replaced by their kind. */
  function template(text: string): string {
    return text
      .replace(/\b[0-9a-f]{64}\b/g, "<device>")
      .replace(/\b[0-9a-f]{40}\b/g, "<hash>")
      .replace(/branch=z9hG4bK[0-9A-Za-z-]+/g, "branch=<branch>")
      .replace(/tag=z9hG4bK[0-9A-Za-z-]+/g, "tag=<branch>")
      .replace(/tag=[0-9A-Za-z-]+/g, "tag=<tag>")
      .replace(/\[[0-9a-f:]+\]|\b\d{1,3}(?:\.\d{1,3}){3}\b/g, "<ip>")
      .replace(/<ip>:\d+/g, "<ip>:<port>")
      .replace(/rport=\d+/g, "rport=<port>")
      .replace(/^Call-ID: .*$/m, "Call-ID: <call-id>")
      .replace(/^CSeq: \d+/m, "CSeq: <n>")
      .replace(/^Date: .*$/m, "Date: <date>")
      .replace(/^Message-ID: .*$/m, "Message-ID: <id>")
      .replace(/^User-Agent: .*$/m, "User-Agent: <agent>")
      .replace(/^From: "[^"]*"/m, 'From: "<name>"')
      .replace(/^Content-Length: +/m, "Content-Length: ");
  }

  it("a git notice each way: our MESSAGE and our 200 OK have jamid's own form, header for header, and the same body", async () => {
    await askProbe(us, { cmd: "setProfile", displayName: "Probe" });
    const conversationId = (await askProbe(us, { cmd: "createGroup" })).conversationId as string;
    const since = String(Date.now() / 1000);
    await askProbe(us, { cmd: "invite", conversationId, jamiId: jamid.jamiId });
    await harness.run("wait-event", "j", "conversationRequestReceived", "--arg", `1=${conversationId}`, "--since", since, "--timeout", "90");
    await harness.run("accept-conversation", "j", jamid.accountId, conversationId);
    await us.waitFor((e) => e.event === "member" && e.conversationId === conversationId && e.jamiId === jamid.jamiId && e.action === "join", 90_000);
    const posted = String(Date.now() / 1000);
    await askProbe(us, { cmd: "post", conversationId, text: "from us" });
    await harness.run("wait-event", "j", "messageReceived", "--arg", `1=${conversationId}`, "--since", posted, "--timeout", "90");
    const fromJamid = us.waitFor((e) => e.event === "message" && (e.body as { body?: string })?.body === "from jamid", 90_000);
    await harness.run("send-message", "j", jamid.accountId, conversationId, "from jamid");
    await fromJamid;

    const { messages } = await harness.run<{ messages: Dumped[] }>("sip-dump", "j");
    const notice = (dir: string) => messages.find((m) => m.dir === dir && m.first.startsWith("MESSAGE ") && m.text.includes("application/im-gitmessage-id"));
    const [ours, theirs] = [notice("received"), notice("sent")];
    expect(ours).toBeDefined();
    expect(theirs).toBeDefined();
    // the 200 OK answering each (same Call-ID)
    const answer = (to: Dumped) =>
      messages.find((m) => m.first === "SIP/2.0 200 OK" && m.dir !== to.dir && m.text.includes(/Call-ID: (.*)\r\n/.exec(to.text)![1]!));
    const [ourOk, theirOk] = [answer(theirs!), answer(ours!)];
    expect(ourOk).toBeDefined();
    expect(theirOk).toBeDefined();
    // the request: line for line jamid's (the body's JSON too: jsoncpp's styled writer, byte for byte)
    expect(template(ours!.text)).toBe(template(theirs!.text));
    expect(template(ours!.text)).toContain("\r\nUser-Agent: <agent>\r\n");
    expect(ours!.text).toMatch(/^MESSAGE sips:[0-9a-f]{40}@\d+\.\d+\.\d+\.\d+:\d+;transport=tls SIP\/2\.0\r\n/);
    expect(ours!.text).toContain('From: "Probe" <sip:');
    // the answer: pjsip's stateless 200 OK (received/rport filled in, the branch as To tag)
    expect(template(ourOk!.text)).toBe(template(theirOk!.text));
  });
});
