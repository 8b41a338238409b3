import createDebug from "debug";
import { type AbortOptions } from "jami-core";
import type { DhtClient, GetOptions, PutOptions, PutResult } from "./client.js";
import { DhtError } from "./errors.js";
import type { InfoHash } from "./infohash.js";
import { matchesQuery } from "./storage.js";
import { Subscription } from "./subscription.js";
import type { Value } from "./value.js";
import { valueFromJson, valueToJson } from "./value-json.js";

const log = createDebug("jami:dht:proxy-client");

/** Re-post permanent values well before the proxy's 24 h window closes. */
const PERMANENT_REFRESH_MS = 12 * 3600_000;
const LISTEN_RETRY_MS = 2_000;

export interface DhtProxyClientOptions {
  /** Base URL of an OpenDHT proxy, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** Use the legacy `/:hash` paths instead of `/key/:hash`. */
  legacyPaths?: boolean;
}

/** Reads a streamed response: one JSON document per line. */
async function* jsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line) yield JSON.parse(line);
    }
  }
  if (buffered.trim()) yield JSON.parse(buffered);
}

/**
 * The DHT through an OpenDHT proxy's REST API (`DhtProxyClient`): same `get` / `put` / `listen` as a node, for
 * devices that cannot keep UDP sockets open.
 */
export class DhtProxyClient implements DhtClient {
  private readonly base: string;
  private readonly permanent = new Map<string, NodeJS.Timeout>();
  private readonly subscriptions = new Set<Subscription>();

  constructor(private readonly options: DhtProxyClientOptions) {
    this.base = options.url.replace(/\/$/, "");
  }

  private keyUrl(key: InfoHash, action = ""): string {
    return `${this.base}${this.options.legacyPaths ? "" : "/key"}/${key}${action ? `/${action}` : ""}`;
  }

  private async request(url: string, init: RequestInit): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(url, init);
    } catch (cause) {
      if ((cause as Error).name === "AbortError") throw new DhtError("ABORTED", "proxy request aborted", { cause });
      throw new DhtError("PROXY_HTTP", `proxy unreachable: ${(cause as Error).message}`, { cause });
    }
    if (!res.ok) {
      const text = await res.text().catch(() => "");
      throw new DhtError("PROXY_HTTP", `proxy answered ${res.status}${text ? `: ${text}` : ""}`);
    }
    return res;
  }

  /** `GET /node/info`. */
  async nodeInfo(options: AbortOptions = {}): Promise<Record<string, unknown>> {
    const { signal } = options;
    return (await (await this.request(`${this.base}/node/info`, { signal })).json()) as Record<string, unknown>;
  }

  async *get(key: InfoHash, options: GetOptions = {}): AsyncGenerator<Value, void, undefined> {
    const res = await this.request(this.keyUrl(key), { signal: options.signal });
    if (!res.body) return;
    try {
      for await (const json of jsonLines(res.body)) {
        let v: Value;
        try {
          v = valueFromJson(json);
        } catch (e) {
          log("skipped a malformed value from the proxy: %s", (e as Error).message);
          continue;
        }
        if (matchesQuery(v, options.filter)) yield v;
      }
    } catch (cause) {
      if (options.signal?.aborted) throw new DhtError("ABORTED", "get aborted", { cause });
      throw cause instanceof DhtError ? cause : new DhtError("PROXY_HTTP", "proxy stream broke", { cause });
    }
  }

  async getAll(key: InfoHash, options: GetOptions = {}): Promise<Value[]> {
    const out: Value[] = [];
    for await (const v of this.get(key, options)) out.push(v);
    return out;
  }

  async put(key: InfoHash, value: Value, options: PutOptions = {}): Promise<PutResult> {
    const body = JSON.stringify({ ...valueToJson(value), ...(options.permanent ? { permanent: true } : {}) });
    await this.request(this.keyUrl(key), { method: "POST", body, headers: { "Content-Type": "application/json" }, signal: options.signal });
    if (options.permanent) {
      const k = `${key}/${value.id}`;
      clearInterval(this.permanent.get(k));
      const timer = setInterval(() => {
        this.request(this.keyUrl(key), { method: "POST", body, headers: { "Content-Type": "application/json" } }).catch((e: Error) =>
          log("refresh of permanent put %s failed: %s", k, e.message),
        );
      }, PERMANENT_REFRESH_MS);
      timer.unref();
      this.permanent.set(k, timer);
    }
    return { nodes: 1, storedLocally: false };
  }

  cancelPut(key: InfoHash, id: bigint): boolean {
    const k = `${key}/${id}`;
    const timer = this.permanent.get(k);
    if (!timer) return false;
    clearInterval(timer);
    this.permanent.delete(k);
    return true;
  }

  /** `GET /key/:hash/listen` kept open; reconnects after the stream drops until cancelled. */
  listen(key: InfoHash, options: GetOptions = {}): Subscription {
    const sub = new Subscription(key, options.filter);
    const controller = new AbortController();
    const cancel = (): void => sub.cancel();
    options.signal?.addEventListener("abort", cancel, { once: true });
    sub.onCancel = () => {
      controller.abort();
      this.subscriptions.delete(sub);
      options.signal?.removeEventListener("abort", cancel);
    };
    this.subscriptions.add(sub);
    const run = async (): Promise<void> => {
      while (!sub.cancelled) {
        try {
          const res = await this.request(this.keyUrl(key, "listen"), { signal: controller.signal });
          if (res.body) {
            for await (const json of jsonLines(res.body)) {
              const j = json as Record<string, unknown>;
              if (j.expired === true && j.id !== undefined) {
                sub.deliverExpired([BigInt(j.id as string)]);
                continue;
              }
              try {
                const v = valueFromJson(j);
                if (matchesQuery(v, options.filter)) sub.deliver(v);
              } catch (e) {
                log("skipped a malformed value from the proxy: %s", (e as Error).message);
              }
            }
          }
        } catch (e) {
          if (sub.cancelled) return;
          log("listen stream for %s failed: %s", key, (e as Error).message);
        }
        if (!sub.cancelled) await new Promise((r) => setTimeout(r, LISTEN_RETRY_MS).unref());
      }
    };
    void run();
    return sub;
  }

  async close(): Promise<void> {
    for (const t of this.permanent.values()) clearInterval(t);
    this.permanent.clear();
    for (const s of [...this.subscriptions]) s.cancel();
  }
}
