/**
 * Profiles with jamid 13.7 (spec jami-swarm.md §7): members' vCards pushed after a sync both ways, and a
 * conversation's title set by an admin on either side.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { JsonLinesProcess } from "../../../test-support/opendht.js";
import type { JamidHarness, JamidAccount } from "../../../test-support/jamid-harness.js";
import { askProbe, jamidAndProbe } from "../../../test-support/jamid-with-probe.js";

jest.setTimeout(400_000);
const NETNS = "jamits-profiles";
const DHT_PORT = 4479;
// a 1×1 PNG
const AVATAR = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

describe("profiles with jamid 13.7", () => {
  let harness: JamidHarness;
  let jamid: JamidAccount;
  let us: JsonLinesProcess;
  let me: Record<string, unknown>;

  beforeAll(async () => {
    ({ harness, jamid, us, me } = await jamidAndProbe(NETNS, DHT_PORT));
    // what a Jami client writes when its user sets a name and a photo: the account's profile.vcf
    writeFileSync(
      join(harness.root, "inst", "j", "data", "jami", jamid.accountId, "profile.vcf"),
      `BEGIN:VCARD\nVERSION:2.1\nFN:Jamid Person\nPHOTO;ENCODING=BASE64;TYPE=PNG:${AVATAR}\nEND:VCARD\n`,
    );
    await askProbe(us, { cmd: "setProfile", displayName: "Probe Person", avatar: AVATAR });
  });

  afterAll(async () => {
    await us?.endInput();
    await harness?.stop();
  });

  it("members' vCards: ours reaches jamid (profileReceived), jamid's reaches us, after the syncs of a group", async () => {
    const conversationId = (await askProbe(us, { cmd: "createGroup" })).conversationId as string;
    const since = String(Date.now() / 1000);
    const jamidsVcard = us.waitFor((e) => e.event === "profileReceived" && e.jamiId === jamid.jamiId, 180_000);
    await askProbe(us, { cmd: "invite", conversationId, jamiId: jamid.jamiId });
    await harness.run("wait-event", "j", "conversationRequestReceived", "--arg", `1=${conversationId}`, "--since", since, "--timeout", "90");
    await harness.run("accept-conversation", "j", jamid.accountId, conversationId);
    await us.waitFor((e) => e.event === "member" && e.conversationId === conversationId && e.jamiId === jamid.jamiId && e.action === "join", 90_000);
    // we fetched jamid's join: our vCard went to its device (jamid keeps it under <cache>/<account>/vcard/)
    const received = await harness.run<{ args: [string, string, string] }>(
      "wait-event",
      "j",
      "profileReceived",
      "--arg",
      `1=${me.jamiId as string}`,
      "--since",
      since,
      "--timeout",
      "120",
    );
    const vcard = readFileSync(received.args[2], "utf8");
    expect(vcard).toContain("FN:Probe Person");
    expect(vcard).toContain(`PHOTO;ENCODING=BASE64;TYPE=PNG:${AVATAR}`);
    // jamid syncs with us when we post: it sends its vCard
    await askProbe(us, { cmd: "post", conversationId, text: "hello" });
    const got = await jamidsVcard.catch((e: Error) => {
      // what came on data-transfer channels, to tell a push that never came from one refused
      const seen = us.events.filter((x) => JSON.stringify(x).includes("profile")).map((x) => JSON.stringify(x).slice(0, 300));
      throw new Error(`${e.message}\n${seen.join("\n")}`);
    });
    expect(got).toMatchObject({ displayName: "Jamid Person", avatar: AVATAR });
    expect(await askProbe(us, { cmd: "profileOf", jamiId: jamid.jamiId })).toMatchObject({ displayName: "Jamid Person", avatar: AVATAR });
  });

  it("a conversation's title: jamid's (its group) shows here, ours (our group) shows on jamid", async () => {
    // jamid's group, we are a member
    const since = String(Date.now() / 1000);
    const { conversationId: theirs } = await harness.run<{ conversationId: string }>("start-conversation", "j", jamid.accountId);
    const invited = us.waitFor((e) => e.event === "conversationRequest" && e.conversationId === theirs, 120_000);
    await harness.run("add-member", "j", jamid.accountId, theirs, me.jamiId as string);
    await invited;
    await askProbe(us, { cmd: "acceptConversation", conversationId: theirs }, 180_000);
    await harness.run("wait-event", "j", "conversationMemberEvent", "--arg", `1=${theirs}`, "--arg", "3=1", "--since", since, "--timeout", "120");
    const titled = us.waitFor((e) => e.event === "conversationProfile" && e.conversationId === theirs, 120_000);
    await harness.run("call", "j", "updateConversationInfos", jamid.accountId, theirs, JSON.stringify({ title: "Named by jamid", description: "d" }));
    expect(await titled).toMatchObject({ profile: { title: "Named by jamid", description: "d", mode: 2 } });

    // our group, jamid a member
    const ours = (await askProbe(us, { cmd: "createGroup" })).conversationId as string;
    const asked = String(Date.now() / 1000);
    await askProbe(us, { cmd: "invite", conversationId: ours, jamiId: jamid.jamiId });
    await harness.run("wait-event", "j", "conversationRequestReceived", "--arg", `1=${ours}`, "--since", asked, "--timeout", "90");
    await harness.run("accept-conversation", "j", jamid.accountId, ours);
    await us.waitFor((e) => e.event === "member" && e.conversationId === ours && e.jamiId === jamid.jamiId && e.action === "join", 90_000);
    const renamed = String(Date.now() / 1000);
    await askProbe(us, { cmd: "updateConversationProfile", conversationId: ours, title: "Named by us" });
    const updated = await harness.run<{ args: [string, string, Record<string, string>] }>(
      "wait-event",
      "j",
      "conversationProfileUpdated",
      "--arg",
      `1=${ours}`,
      "--since",
      renamed,
      "--timeout",
      "120",
    );
    expect(updated.args[2]).toMatchObject({ title: "Named by us" });
    const infos = await harness.run<{ result: Record<string, string> }>("call", "j", "conversationInfos", jamid.accountId, ours);
    expect(infos.result).toMatchObject({ title: "Named by us", mode: "2" });
  });

  it("the vCard in a jamid account's trust request is kept as its profile here (what jamid's clients send)", async () => {
    const asker = await harness.createAccount("j", { alias: "Asker" });
    const vcard = `BEGIN:VCARD\nVERSION:2.1\nFN:Asking Person\nPHOTO;ENCODING=BASE64;TYPE=PNG:${AVATAR}\nEND:VCARD\n`;
    const request = us.waitFor((e) => e.event === "trustRequest" && e.from === asker.jamiId, 120_000);
    const kept = us.waitFor((e) => e.event === "profileReceived" && e.jamiId === asker.jamiId, 120_000);
    await harness.run("add-contact", "j", asker.accountId, me.jamiId as string, "--payload", vcard);
    await request;
    expect(await kept).toMatchObject({ displayName: "Asking Person", avatar: AVATAR });
    expect(await askProbe(us, { cmd: "profileOf", jamiId: asker.jamiId })).toMatchObject({ displayName: "Asking Person" });
  });
});
