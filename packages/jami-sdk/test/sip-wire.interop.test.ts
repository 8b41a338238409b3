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
  let me: Record<string, unknown>;

  beforeAll(async () => {
    ({ harness, jamid, us, me } = await jamidAndProbe(NETNS, DHT_PORT, { jamidArgs: ["--tls-dump"] }));
  });
  afterAll(async () => {
    await us?.endInput();
    await harness?.stop();
  });

  it("a git notice each way", async () => {
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
    console.log(JSON.stringify(messages, null, 1));
    expect(me.jamiId).toBeTruthy();
  });
});
