import createDebug from "debug";
import { onAbort } from "jami-core";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { DhtNode } from "./dht-node.js";
import { DhtError } from "./errors.js";
import { InfoHash } from "./infohash.js";
import { PushListeners, type PushPlatform } from "./proxy-push.js";
import type { SecureDht } from "./secure-dht.js";
import { randomValueId, type Value } from "./value.js";
import { sortedJson, valueFromJson, valueToJson } from "./value-json.js";

const log = createDebug("jami:dht:proxy");

/** How long the proxy keeps a permanent put or a push subscription without a refresh (`proxy::OP_TIMEOUT`). */
export const PROXY_OP_TIMEOUT_MS = 24 * 3600_000;
const MAX_BODY = 256 * 1024;

const MSG = {
  jsonIncorrect: '{"err:":"Incorrect JSON"}',
  missingParams: '{"err":"Missing parameters"}',
  putFailed: '{"err":"Put failed"}',
  noToken: '{"err":"No token"}',
  internal: '{"err":"Internal server error"}',
};

export interface DhtProxyServerOptions {
  node: DhtNode;
  /** With an identity, `/sign` and `/encrypt` are served; without, they answer 501 as OpenDHT does. */
  secure?: SecureDht;
  port?: number;
  host?: string;
  /** Base URL of a Gorush-style push gateway (`POST <url>/api/push`); pushes are off without it. */
  pushServer?: string;
}

interface PermanentProxyPut {
  key: InfoHash;
  value: Value;
  timer: NodeJS.Timeout;
}

/**
 * OpenDHT's DHT proxy REST API over a node: GET/POST values, streamed listens, node info/stats, and push
 * subscriptions (SUBSCRIBE / UNSUBSCRIBE) that notify a push gateway.
 */
export class DhtProxyServer {
  private readonly permanentPuts = new Map<string, PermanentProxyPut>();
  private readonly push: PushListeners;
  private readonly streams = new Set<ServerResponse>();
  private requests = 0;
  private puts = 0;
  private listens = 0;
  private readonly started = Date.now();

  private constructor(
    private readonly server: Server,
    private readonly options: DhtProxyServerOptions,
  ) {
    this.push = new PushListeners(options.node, options.pushServer, PROXY_OP_TIMEOUT_MS);
  }

  static async start(options: DhtProxyServerOptions): Promise<DhtProxyServer> {
    const server = createServer();
    server.on("clientError", (err, socket) => {
      log("bad HTTP request: %s", err.message);
      socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    });
    const proxy = new DhtProxyServer(server, options);
    server.on("request", (req, res) => void proxy.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 8080, options.host ?? "127.0.0.1", () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const p of this.permanentPuts.values()) {
      clearTimeout(p.timer);
      this.options.node.cancelPut(p.key, p.value.id);
    }
    this.permanentPuts.clear();
    this.push.close();
    for (const s of this.streams) s.end();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { "Content-Type": "application/json", "Access-Control-Allow-Origin": "*", ...extra };
  }

  private send(res: ServerResponse, status: number, body: string): void {
    res.writeHead(status, this.headers({ "Content-Length": String(Buffer.byteLength(body)) }));
    res.end(body);
  }

  private async readBody(req: IncomingMessage): Promise<string> {
    let size = 0;
    const chunks: Buffer[] = [];
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) throw new DhtError("PROXY_HTTP", "request body too large");
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString("utf8");
  }

  private async readJson(req: IncomingMessage, res: ServerResponse): Promise<Record<string, unknown> | undefined> {
    let body: string;
    try {
      body = await this.readBody(req);
    } catch {
      this.send(res, 413, MSG.jsonIncorrect);
      return undefined;
    }
    if (!body) {
      this.send(res, 400, MSG.missingParams);
      return undefined;
    }
    try {
      const json = JSON.parse(body) as unknown;
      if (typeof json === "object" && json !== null && !Array.isArray(json)) return json as Record<string, unknown>;
    } catch {
      /* answered below */
    }
    this.send(res, 400, MSG.jsonIncorrect);
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    try {
      const path = new URL(req.url ?? "/", "http://proxy").pathname.split("/").filter(Boolean).map(decodeURIComponent);
      const method = req.method ?? "GET";
      log("%s %s", method, req.url);
      if (method === "OPTIONS") {
        const methods = `OPTIONS, GET, POST, LISTEN${this.options.secure?.identity ? ", SIGN, ENCRYPT" : ""}`;
        res.writeHead(
          200,
          this.headers({
            "Access-Control-Allow-Methods": methods,
            "Access-Control-Allow-Headers": "content-type",
            "Access-Control-Max-Age": "86400",
            "Content-Length": "0",
          }),
        );
        return void res.end();
      }
      if (method === "GET" && (path.length === 0 || (path[0] === "node" && path[1] === "info"))) return this.send(res, 200, sortedJson(this.nodeInfo(true)));
      if (method === "GET" && path[0] === "node" && path[1] === "stats") return this.send(res, 200, sortedJson(this.nodeStats()));
      // `/key/:hash[/action]`, or the legacy `/:hash`.
      const [hashText, action] = path[0] === "key" ? [path[1], path[2]] : [path[0], path[1]];
      if (!hashText || path.length > 3) return this.send(res, 404, "");
      const key = InfoHash.parse(hashText);
      if (method === "GET" && !action) return this.streamGet(key, req, res);
      if (method === "GET" && action === "listen") return this.streamListen(key, req, res);
      if (method === "POST" && !action) return this.post(key, req, res);
      if (method === "POST" && (action === "sign" || action === "encrypt")) return this.postSecure(key, action, req, res);
      if (method === "SUBSCRIBE" && !action) return this.subscribe(key, req, res);
      if (method === "UNSUBSCRIBE" && !action) return this.unsubscribe(key, req, res);
      return this.send(res, 405, "");
    } catch (e) {
      log("request failed: %s", (e as Error).message);
      if (!res.headersSent) this.send(res, 500, MSG.internal);
      else res.end();
    }
  }

  nodeInfo(withPublicIp: boolean): Record<string, unknown> {
    const s = this.options.node.stats();
    const family = (f: { good: number; dubious: number }): Record<string, number> => ({ dubious: f.dubious, good: f.good, incoming: 0 });
    const info: Record<string, unknown> = { ipv4: family(s.ipv4), ipv6: family(s.ipv6), node_id: s.id, ops: s.searches };
    if (withPublicIp) info.public_ip = this.options.node.publicAddress ?? "";
    return info;
  }

  nodeStats(): Record<string, unknown> {
    const seconds = Math.max(1, (Date.now() - this.started) / 1000);
    return {
      listenCount: this.listens,
      nodeInfo: this.nodeInfo(false),
      pushListenersCount: this.push.count,
      putCount: this.puts,
      requestRate: this.requests / seconds,
      totalPermanentPuts: this.permanentPuts.size,
    };
  }

  private startStream(req: IncomingMessage, res: ServerResponse): AbortController {
    res.writeHead(200, this.headers());
    res.flushHeaders();
    this.streams.add(res);
    const controller = new AbortController();
    const stop = (): void => {
      controller.abort();
      this.streams.delete(res);
    };
    res.on("close", stop);
    req.on("aborted", stop);
    return controller;
  }

  private async streamGet(key: InfoHash, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const controller = this.startStream(req, res);
    try {
      for await (const v of this.options.node.get(key, { signal: controller.signal })) res.write(`${sortedJson(valueToJson(v))}\n`);
    } catch {
      /* client went away */
    }
    this.streams.delete(res);
    res.end();
  }

  private streamListen(key: InfoHash, req: IncomingMessage, res: ServerResponse): void {
    const controller = this.startStream(req, res);
    this.listens++;
    const sub = this.options.node.listen(key, { signal: controller.signal });
    sub.on("value", (v) => res.write(`${sortedJson(valueToJson(v))}\n`));
    sub.on("expired", (_ids, values) => {
      for (const v of values) res.write(`${sortedJson({ ...valueToJson(v), expired: true })}\n`);
    });
    onAbort(controller.signal, () => {
      this.listens--;
      sub.cancel();
    });
  }

  private async post(key: InfoHash, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const json = await this.readJson(req, res);
    if (!json) return;
    let value: Value;
    try {
      value = valueFromJson({ id: "0", ...json });
    } catch {
      return this.send(res, 400, MSG.jsonIncorrect);
    }
    if (value.id === 0n) value.id = randomValueId();
    const permanent = "permanent" in json;
    this.puts++;
    const result = await this.options.node.put(key, value, { permanent }).catch(() => undefined);
    if (!result || (result.nodes === 0 && !result.storedLocally)) {
      if (permanent) this.options.node.cancelPut(key, value.id);
      return this.send(res, 502, MSG.putFailed);
    }
    if (permanent) this.keepPermanent(key, value);
    this.send(res, 200, `${sortedJson(valueToJson(value))}\n`);
  }

  /** A permanent put lives 24 h on the proxy unless re-posted. */
  private keepPermanent(key: InfoHash, value: Value): void {
    const k = `${key}/${value.id}`;
    clearTimeout(this.permanentPuts.get(k)?.timer);
    const timer = setTimeout(() => {
      this.options.node.cancelPut(key, value.id);
      this.permanentPuts.delete(k);
    }, PROXY_OP_TIMEOUT_MS);
    timer.unref();
    this.permanentPuts.set(k, { key, value, timer });
  }

  private async postSecure(key: InfoHash, action: "sign" | "encrypt", req: IncomingMessage, res: ServerResponse): Promise<void> {
    const secure = this.options.secure;
    if (!secure?.identity) {
      res.writeHead(501, { Connection: "close", "Content-Length": "0" });
      return void res.end();
    }
    const json = await this.readJson(req, res);
    if (!json) return;
    let value: Value;
    try {
      value = valueFromJson({ id: "0", ...json });
      if (value.id === 0n) value.id = randomValueId();
    } catch {
      return this.send(res, 400, MSG.jsonIncorrect);
    }
    try {
      if (action === "sign") await secure.putSigned(key, value, { permanent: "permanent" in json });
      else {
        if (typeof json.to !== "string") return this.send(res, 400, MSG.missingParams);
        await secure.putEncrypted(key, value, InfoHash.fromHex(json.to), { permanent: "permanent" in json });
      }
    } catch {
      return this.send(res, 502, MSG.putFailed);
    }
    this.send(res, 200, `${sortedJson(valueToJson(value))}\n`);
  }

  private async subscribe(key: InfoHash, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const json = await this.readJson(req, res);
    if (!json) return;
    const token = typeof json.key === "string" ? json.key : "";
    if (!token) return this.send(res, 400, MSG.noToken);
    const str = (v: unknown): string => (typeof v === "string" ? v : "");
    const isNew = this.push.subscribe(key, {
      token,
      clientId: str(json.client_id),
      sessionId: str(json.session_id),
      platform: (str(json.platform) || "android") as PushPlatform,
      topic: str(json.topic),
    });
    if (isNew || json.refresh === true) return this.send(res, 200, "{}\n");
    // An existing subscription without refresh: send what is there now, as OpenDHT does.
    return this.streamGet(key, req, res);
  }

  private async unsubscribe(key: InfoHash, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const json = await this.readJson(req, res);
    if (!json) return;
    if (typeof json.key !== "string" || !json.key) return this.send(res, 400, MSG.noToken);
    this.push.unsubscribe(key, json.key, typeof json.client_id === "string" ? json.client_id : "");
    this.send(res, 200, "");
  }
}
