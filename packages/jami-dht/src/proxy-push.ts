import createDebug from "debug";
import type { DhtNode } from "./dht-node.js";
import type { InfoHash } from "./infohash.js";
import type { Subscription } from "./subscription.js";
import type { Value } from "./value.js";

const log = createDebug("jami:dht:push");

export type PushPlatform = "android" | "ios" | "unifiedpush";

/** A device's push registration for one key (SUBSCRIBE body). */
export interface PushRegistration {
  token: string;
  clientId: string;
  sessionId: string;
  platform: PushPlatform;
  topic: string;
}

interface PushListener extends PushRegistration {
  key: InfoHash;
  sub: Subscription;
  expireTimer: NodeJS.Timeout;
  warnTimer: NodeJS.Timeout;
}

/** OpenDHT warns a device 2 h before its subscription ends (`proxy::OP_MARGIN`). */
const OP_MARGIN_MS = 2 * 3600_000;

/**
 * Push subscriptions of a DHT proxy: a listen per (key, token, client) that turns new and expired values into
 * Gorush-format pushes (`POST <gateway>/api/push`), or direct UnifiedPush POSTs to the token URL.
 */
export class PushListeners {
  private readonly listeners = new Map<string, PushListener>();

  constructor(
    private readonly node: DhtNode,
    private readonly gateway: string | undefined,
    private readonly lifetimeMs: number,
  ) {}

  get count(): number {
    return this.listeners.size;
  }

  /** Adds or renews a subscription; true when it is new. */
  subscribe(key: InfoHash, reg: PushRegistration): boolean {
    const id = `${key}/${reg.token}/${reg.clientId}`;
    const existing = this.listeners.get(id);
    if (existing) {
      Object.assign(existing, { sessionId: reg.sessionId, platform: reg.platform, topic: reg.topic });
      this.arm(id, existing);
      return false;
    }
    const sub = this.node.listen(key);
    const listener = { ...reg, key, sub } as PushListener;
    sub.on("value", (v) => this.notify(listener, [v], false));
    sub.on("expired", (ids) => this.notifyIds(listener, ids, true));
    this.arm(id, listener);
    this.listeners.set(id, listener);
    return true;
  }

  unsubscribe(key: InfoHash, token: string, clientId: string): void {
    const id = `${key}/${token}/${clientId}`;
    const l = this.listeners.get(id);
    if (!l) return;
    this.drop(id, l);
  }

  close(): void {
    for (const [id, l] of this.listeners) this.drop(id, l);
  }

  private drop(id: string, l: PushListener): void {
    clearTimeout(l.expireTimer);
    clearTimeout(l.warnTimer);
    l.sub.cancel();
    this.listeners.delete(id);
  }

  private arm(id: string, l: PushListener): void {
    clearTimeout(l.expireTimer);
    clearTimeout(l.warnTimer);
    l.expireTimer = setTimeout(() => this.drop(id, l), this.lifetimeMs);
    l.warnTimer = setTimeout(
      () => this.send(l, { timeout: l.key.toString(), to: l.clientId, s: l.sessionId }, false),
      Math.max(0, this.lifetimeMs - OP_MARGIN_MS),
    );
    l.expireTimer.unref();
    l.warnTimer.unref();
  }

  private notify(l: PushListener, values: Value[], expired: boolean): void {
    const minPriority = Math.min(...values.map((v) => v.priority));
    this.notifyIds(
      l,
      values.map((v) => v.id),
      expired,
      values.map((v) => v.pushType),
      minPriority,
    );
  }

  private notifyIds(l: PushListener, ids: bigint[], expired: boolean, pushTypes: string[] = [], minPriority = 0): void {
    const payload: Record<string, unknown> = { key: l.key.toString(), to: l.clientId, t: Date.now(), s: l.sessionId, ids: ids.join(",") };
    if (pushTypes.some(Boolean)) payload.pt = pushTypes.join(",");
    if (expired && ids.length < 2) payload.exp = payload.ids;
    this.send(l, payload, !expired && minPriority === 0);
  }

  /** The request OpenDHT's proxy makes for one push. Exposed for tests. */
  static request(reg: PushRegistration, data: Record<string, unknown>, highPriority: boolean, gateway?: string): { url: string; body: string } | undefined {
    if (reg.platform === "unifiedpush") return { url: reg.token, body: JSON.stringify(data) };
    if (!gateway) return undefined;
    const priority = highPriority ? "high" : "normal";
    const notification: Record<string, unknown> = { tokens: [reg.token], platform: reg.platform === "android" ? 2 : 1, data };
    if (reg.platform === "android") notification.android = { priority, ttl: "86400s" };
    else {
      notification.priority = priority;
      notification.expiration = Math.floor(Date.now() / 1000) + 24 * 3600;
      if (reg.topic) notification.topic = reg.topic;
      if (highPriority || "timeout" in data)
        Object.assign(notification, { push_type: "alert", alert: { title: "hello" }, mutable_content: true, priority: "high" });
      else Object.assign(notification, { push_type: "background", content_available: true });
    }
    return { url: `${gateway.replace(/\/$/, "")}/api/push`, body: JSON.stringify({ notifications: [notification] }) };
  }

  private send(reg: PushRegistration, data: Record<string, unknown>, highPriority: boolean): void {
    const req = PushListeners.request(reg, data, highPriority, this.gateway);
    if (!req) return;
    fetch(req.url, { method: "POST", headers: { "Content-Type": "application/json" }, body: req.body }).then(
      (r) => r.status !== 200 && log("push to %s failed: %d", req.url, r.status),
      (e: Error) => log("push to %s failed: %s", req.url, e.message),
    );
  }
}
