import { Buffer } from "node:buffer";
import type { InfoHash } from "./infohash.js";
import type { FieldValue, ValueQuery } from "./messages.js";
import { MAX_VALUE_SIZE, publicKeyId, Value, ValueField } from "./value.js";
import { valueTypeRule } from "./value-types.js";

export const DEFAULT_STORAGE_LIMIT = 64 * 1024 * 1024;
export const MAX_VALUES_PER_KEY = 64 * 1024;

export interface StoredValue {
  value: Value;
  created: number;
  expiresAt: number;
  /** IP of the node that stored it (for eviction), or "" for our own. */
  source: string;
}

export type StoreOutcome = { result: "stored" | "edited" | "refreshed"; stored: StoredValue } | { result: "rejected"; reason: string };

export interface StorageOptions {
  limitBytes?: number;
  maxValuesPerKey?: number;
}

/** Does `value` pass a where clause? (Field ids as `Value::Field`.) */
export function matchesWhere(value: Value, where: FieldValue[]): boolean {
  return where.every(({ field, value: expected }) => {
    switch (field) {
      case ValueField.Id:
        return typeof expected !== "object" && BigInt(expected) === value.id;
      case ValueField.ValueType:
        return typeof expected !== "object" && BigInt(expected) === BigInt(value.type);
      case ValueField.SeqNum:
        return typeof expected !== "object" && BigInt(expected) === BigInt(value.seq);
      case ValueField.OwnerPk:
        return expected instanceof Uint8Array && value.owner !== undefined && Buffer.compare(publicKeyId(value.owner).bytes, expected) === 0;
      case ValueField.UserType:
        return expected instanceof Uint8Array && Buffer.from(expected).toString() === value.userType;
      default:
        return false;
    }
  });
}

export function matchesQuery(value: Value, q?: ValueQuery): boolean {
  return !q || matchesWhere(value, q.where);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

/**
 * Values held by a node for the keys it is responsible for, with OpenDHT's store / edit policies (SecureDht rules
 * on top of the value types'), expirations, per-key and total limits, and eviction from the heaviest source.
 */
export class Storage {
  private readonly keys = new Map<string, Map<bigint, StoredValue>>();
  private readonly bytesBySource = new Map<string, number>();
  private total = 0;
  private readonly limit: number;
  private readonly maxPerKey: number;

  constructor(options: StorageOptions = {}) {
    this.limit = options.limitBytes ?? DEFAULT_STORAGE_LIMIT;
    this.maxPerKey = options.maxValuesPerKey ?? MAX_VALUES_PER_KEY;
  }

  get totalBytes(): number {
    return this.total;
  }

  get keyCount(): number {
    return this.keys.size;
  }

  get valueCount(): number {
    let n = 0;
    for (const m of this.keys.values()) n += m.size;
    return n;
  }

  get(key: InfoHash, query?: ValueQuery): StoredValue[] {
    const m = this.keys.get(key.toString());
    if (!m) return [];
    return [...m.values()].filter((s) => matchesQuery(s.value, query));
  }

  getById(key: InfoHash, id: bigint): StoredValue | undefined {
    return this.keys.get(key.toString())?.get(id);
  }

  /** Stores or edits a value (the put path). `created` is clamped to `now`; `source` is the sender's IP. */
  store(key: InfoHash, value: Value, now: number, created = now, source = ""): StoreOutcome {
    if (value.id === 0n) return { result: "rejected", reason: "value id 0" };
    if (value.size > MAX_VALUE_SIZE) return { result: "rejected", reason: "value larger than 64 KiB" };
    const m = this.keys.get(key.toString());
    const old = m?.get(value.id);
    const rule = valueTypeRule(value.isEncrypted ? 0 : value.type);
    if (!value.isEncrypted) {
      const accepted = rule.storePolicy(key, value, source || undefined);
      if (!accepted) return { result: "rejected", reason: `refused by ${rule.name} policy` };
      value = accepted;
    }
    const createdAt = Math.min(created, now);
    const expiresAt = createdAt + rule.expirationMs;

    if (old) {
      const same = sameBytes(old.value.encode(), value.encode());
      if (same) {
        old.expiresAt = Math.max(old.expiresAt, expiresAt);
        return { result: "refreshed", stored: old };
      }
      const refusal = this.editRefusal(old.value, value, () => rule.editPolicy?.(key, old.value, value) ?? false);
      if (refusal) return { result: "rejected", reason: refusal };
    } else {
      if (value.isSigned && !value.verifySignature()) return { result: "rejected", reason: "bad signature" };
      if (m && m.size >= this.maxPerKey) return { result: "rejected", reason: "too many values at this key" };
    }

    const stored: StoredValue = { value, created: createdAt, expiresAt, source };
    this.account(old, -1);
    this.account(stored, 1);
    let values = m;
    if (!values) this.keys.set(key.toString(), (values = new Map()));
    values.set(value.id, stored);
    this.evict(key, value.id);
    if (!this.getById(key, value.id)) return { result: "rejected", reason: "storage full" };
    return { result: old ? "edited" : "stored", stored };
  }

  /** SecureDht's edit policy: a signed value is replaced only by its owner with a higher seq. */
  private editRefusal(old: Value, next: Value, typeAllows: () => boolean): string | undefined {
    if (old.isSigned) {
      if (!next.isSigned || !old.owner!.equals(next.owner!)) return "edit by another owner";
      if (!next.verifySignature()) return "bad signature";
      if (next.seq <= old.seq) return "seq not higher than stored";
      return undefined;
    }
    return typeAllows() ? undefined : "unsigned values cannot be edited";
  }

  /** `refresh`: extends the value's life from now. False when the key or value is unknown. */
  refresh(key: InfoHash, id: bigint, now: number): boolean {
    const s = this.getById(key, id);
    if (!s) return false;
    const rule = valueTypeRule(s.value.isEncrypted ? 0 : s.value.type);
    s.created = now;
    s.expiresAt = Math.max(s.expiresAt, now + rule.expirationMs);
    return true;
  }

  /** Drops expired values; returns the ids expired per key. */
  expire(now: number): Map<string, bigint[]> {
    const out = new Map<string, bigint[]>();
    for (const [key, m] of this.keys) {
      for (const [id, s] of m) {
        if (s.expiresAt > now) continue;
        m.delete(id);
        this.account(s, -1);
        const list = out.get(key) ?? [];
        list.push(id);
        out.set(key, list);
      }
      if (m.size === 0) this.keys.delete(key);
    }
    return out;
  }

  /** Time of the next expiry, if any. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const m of this.keys.values()) for (const s of m.values()) if (next === undefined || s.expiresAt < next) next = s.expiresAt;
    return next;
  }

  private account(s: StoredValue | undefined, sign: 1 | -1): void {
    if (!s) return;
    const size = s.value.size;
    this.total += sign * size;
    this.bytesBySource.set(s.source, (this.bytesBySource.get(s.source) ?? 0) + sign * size);
    if (this.bytesBySource.get(s.source) === 0) this.bytesBySource.delete(s.source);
  }

  /** Over the limit: drop the oldest values of the source using the most storage (OpenDHT's rule). */
  private evict(justStoredKey: InfoHash, justStoredId: bigint): void {
    while (this.total > this.limit) {
      let heaviest = "";
      let most = -1;
      for (const [src, bytes] of this.bytesBySource) if (bytes > most) [heaviest, most] = [src, bytes];
      let oldest: { key: string; id: bigint; s: StoredValue } | undefined;
      for (const [key, m] of this.keys) {
        for (const [id, s] of m) {
          if (s.source !== heaviest) continue;
          if (!oldest || s.created < oldest.s.created) oldest = { key, id, s };
        }
      }
      if (!oldest) return;
      this.keys.get(oldest.key)!.delete(oldest.id);
      if (this.keys.get(oldest.key)!.size === 0) this.keys.delete(oldest.key);
      this.account(oldest.s, -1);
      if (oldest.key === justStoredKey.toString() && oldest.id === justStoredId) return;
    }
  }
}
