import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { DhtNode, DhtProxyClient, DhtProxyServer, InfoHash, Value } from "jami-dht";
import { waitFor } from "../../../test-support/events.js";
import { loopbackNetwork } from "./helpers.js";
import { OPENDHT_VECTORS, valueVector } from "./vectors.js";

/** A recorded RESTinio response: status, headers and body lines. */
function recorded(name: string): { status: number; headers: Record<string, string>; lines: string[] } {
  const text = readFileSync(join(OPENDHT_VECTORS, "http", name), "latin1");
  const [head = "", body = ""] = text.split("\r\n\r\n");
  const [statusLine = "", ...headerLines] = head.split("\r\n");
  const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
  return { status: Number(statusLine.split(" ")[1]), headers, lines: body.split("\n").filter((l) => l.startsWith("{")) };
}

function keysOf(json: unknown): unknown {
  if (typeof json !== "object" || json === null) return typeof json;
  return Object.fromEntries(Object.entries(json).map(([k, v]) => [k, keysOf(v)]));
}

describe("DHT proxy server against OpenDHT's recorded responses", () => {
  let nodes: DhtNode[] = [];
  let proxy: DhtProxyServer;
  beforeAll(async () => {
    nodes = await loopbackNetwork(4);
    proxy = await DhtProxyServer.start({ node: nodes[0]!, port: 0 });
    // The values the recorded GETs returned, stored as the real nodes had them.
    for (const name of ["plain", "signed", "encrypted"]) {
      const vec = valueVector(name);
      await nodes[2]!.put(InfoHash.fromHex(vec.key as string), Value.decode(Buffer.from(vec.hex, "hex")));
    }
  });
  afterAll(async () => {
    await proxy.close();
    await Promise.all(nodes.map((n) => n.close()));
  });

  it("POST /key/:hash answers the stored value exactly as OpenDHT", async () => {
    const want = recorded("post-proxykey.txt");
    const res = await fetch(`${proxy.url}/key/proxykey`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: '{"id":"1234567","type":0,"data":"aGVsbG8tcHJveHk=","utype":"text/plain"}',
    });
    expect(res.status).toBe(want.status);
    expect(res.headers.get("content-type")).toBe(want.headers["content-type"]);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(await res.text()).toBe(`${want.lines[0]}\n`);
    const get = await fetch(`${proxy.url}/key/proxykey`);
    expect((await get.text()).trim()).toBe(recorded("get-proxykey.txt").lines[0]);
  });

  it.each([
    ["get-plainkey.txt", "plainkey"],
    ["get-signedkey.txt", "signedkey"],
    ["get-enckey.txt", "enckey"],
  ])("%s: the same JSON lines for the same stored value", async (file, key) => {
    const want = recorded(file);
    const res = await fetch(`${proxy.url}/key/${key}`);
    expect(res.headers.get("transfer-encoding")).toBe("chunked");
    const lines = (await res.text()).split("\n").filter(Boolean);
    expect(lines[0]).toBe(want.lines[0]);
  });

  it("node info and stats have OpenDHT's fields", async () => {
    const info = (await (await fetch(`${proxy.url}/node/info`)).json()) as Record<string, unknown>;
    expect(keysOf(info)).toEqual(keysOf(JSON.parse(recorded("node-info.txt").lines[0]!)));
    expect(info.node_id).toBe(nodes[0]!.id.toString());
    const stats = (await (await fetch(`${proxy.url}/node/stats`)).json()) as Record<string, unknown>;
    expect(keysOf(stats)).toEqual(keysOf(JSON.parse(recorded("node-stats.txt").lines[0]!)));
    expect(await (await fetch(`${proxy.url}/`)).json()).toMatchObject({ node_id: info.node_id });
  });

  it("sign without an identity: 501 as OpenDHT", async () => {
    const res = await fetch(`${proxy.url}/key/proxykey/sign`, { method: "POST", body: '{"data":"c2lnbmVkLXZpYS1wcm94eQ==","type":0}' });
    expect(res.status).toBe(recorded("post-sign.txt").status);
  });

  it("bad requests get OpenDHT's errors", async () => {
    expect((await fetch(`${proxy.url}/key/x`, { method: "POST", body: "{not json" })).status).toBe(400);
    expect((await fetch(`${proxy.url}/key/x`, { method: "POST", body: "" })).status).toBe(400);
    expect((await fetch(`${proxy.url}/key/x`, { method: "POST", body: '{"id":"1","data":"%%%"}' })).status).toBe(400);
    const res = await fetch(`${proxy.url}/key/x`, { method: "SUBSCRIBE", body: '{"client_id":"c"}' });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('{"err":"No token"}');
  });

  it("a listen stream sends current values, then new ones", async () => {
    const controller = new AbortController();
    const res = await fetch(`${proxy.url}/key/listenkey/listen`, { signal: controller.signal });
    const reader = res.body!.getReader();
    await nodes[3]!.put(InfoHash.get("listenkey"), new Value({ id: 42n, data: "live" }));
    let text = "";
    while (!text.includes("\n")) text += new TextDecoder().decode((await reader.read()).value);
    expect(JSON.parse(text.split("\n")[0]!)).toEqual({ data: Buffer.from("live").toString("base64"), id: "42", type: 0 });
    controller.abort();
  });
});

describe("DhtProxyClient through our proxy server", () => {
  let nodes: DhtNode[] = [];
  let proxy: DhtProxyServer;
  let client: DhtProxyClient;
  let gateway: Server;
  const pushes: unknown[] = [];
  beforeAll(async () => {
    nodes = await loopbackNetwork(4);
    gateway = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        pushes.push({ url: req.url, body: JSON.parse(body) as unknown });
        res.end("{}");
      });
    });
    await new Promise<void>((r) => gateway.listen(0, "127.0.0.1", r));
    const port = (gateway.address() as { port: number }).port;
    proxy = await DhtProxyServer.start({ node: nodes[0]!, port: 0, pushServer: `http://127.0.0.1:${port}` });
    client = new DhtProxyClient({ url: proxy.url });
  });
  afterAll(async () => {
    await client.close();
    await proxy.close();
    await new Promise((r) => gateway.close(r));
    await Promise.all(nodes.map((n) => n.close()));
  });

  it("puts and gets through the proxy", async () => {
    const key = InfoHash.get("via-proxy");
    await client.put(key, new Value({ data: "through http", userType: "text/plain" }));
    expect((await nodes[2]!.getAll(key)).map((v) => new TextDecoder().decode(v.data))).toEqual(["through http"]);
    await nodes[3]!.put(key, new Value({ data: "from udp" }));
    const got = (await client.getAll(key)).map((v) => new TextDecoder().decode(v.data)).sort();
    expect(got).toEqual(["from udp", "through http"]);
  });

  it("listens through the proxy", async () => {
    const key = InfoHash.get("listen-via-proxy");
    const sub = client.listen(key);
    const seen: string[] = [];
    sub.on("value", (v) => seen.push(new TextDecoder().decode(v.data)));
    // The same value (one id) is put until the listen delivers it: no guess at when the listen is in place,
    // and the subscription's de-duplication shows it once however many puts it took.
    const pushed = new Value({ id: 5n, data: "pushed" });
    await waitFor(async () => (await nodes[1]!.put(key, pushed), seen.length > 0), { what: "the pushed value" });
    expect(seen).toEqual(["pushed"]);
    sub.cancel();
  });

  it("SUBSCRIBE sends Gorush pushes for new values; UNSUBSCRIBE stops them", async () => {
    const key = InfoHash.get("push-key");
    const body = JSON.stringify({ key: "device-token", client_id: "client-1", session_id: "s-1", platform: "android", topic: "" });
    const res = await fetch(`${proxy.url}/key/${key}`, { method: "SUBSCRIBE", body });
    expect(await res.text()).toBe("{}\n");
    const wakeUp = new Value({ id: 77n, data: "wake up" });
    await waitFor(async () => (await nodes[2]!.put(key, wakeUp), pushes.length > 0), { what: "a push" });
    expect(pushes[0]).toMatchObject({
      url: "/api/push",
      body: {
        notifications: [
          {
            tokens: ["device-token"],
            platform: 2,
            android: { priority: "high", ttl: "86400s" },
            data: { key: key.toString(), to: "client-1", s: "s-1", ids: "77" },
          },
        ],
      },
    });
    await fetch(`${proxy.url}/key/${key}`, { method: "UNSUBSCRIBE", body: JSON.stringify({ key: "device-token", client_id: "client-1" }) });
    const before = pushes.length;
    await nodes[2]!.put(key, new Value({ id: 78n, data: "ignored" }));
    // Positive control: a second subscriber of the same key is pushed the next value (79); the proxy's listen got
    // 78 before it, so by then a push of 78 to the first subscriber would have been sent had it stayed subscribed.
    const control = JSON.stringify({ key: "control-token", client_id: "client-2", session_id: "s-2", platform: "android", topic: "" });
    await fetch(`${proxy.url}/key/${key}`, { method: "SUBSCRIBE", body: control });
    const controlled = (): boolean => pushes.some((p) => /control-token.*"ids":"79"/.test(JSON.stringify(p)));
    const next = new Value({ id: 79n, data: "for the control" });
    await waitFor(async () => (await nodes[2]!.put(key, next), controlled()), { what: "the control push" });
    expect(pushes.filter((p) => JSON.stringify(p).includes("device-token"))).toHaveLength(before);
  });

  it("reports an unreachable proxy with a typed error", async () => {
    const dead = new DhtProxyClient({ url: "http://127.0.0.1:1" });
    await expect(dead.getAll(InfoHash.get("x"))).rejects.toMatchObject({ code: "PROXY_HTTP" });
  });
});
