/**
 * A least-recently-used map for what the repositories of a process share (recent objects, parsed certificates),
 * whose entries note the sweep count at their last use: `sweep()` drops those unused since the previous sweep —
 * oldest first, stopping at the first one used since — so two sweeps with nothing used leave it empty.
 */
export class IdleLru<K, V> {
  private readonly entries = new Map<K, { value: V; used: number }>();
  private sweeps = 0;

  get size(): number {
    return this.entries.size;
  }

  /** The value, now the most recently used. */
  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    entry.used = this.sweeps;
    return entry.value;
  }

  /** Sets `key` as the most recently used; returns the value it replaced. */
  set(key: K, value: V): V | undefined {
    const before = this.entries.get(key);
    this.entries.delete(key);
    this.entries.set(key, { value, used: this.sweeps });
    return before?.value;
  }

  /** Removes and returns the least recently used value. */
  dropOldest(): V | undefined {
    const first = this.entries.entries().next();
    if (first.done) return undefined;
    this.entries.delete(first.value[0]);
    return first.value[1].value;
  }

  /** Drops what was not used since the previous sweep, telling `dropped` of each. */
  sweep(dropped?: (value: V) => void): void {
    for (const [key, entry] of this.entries) {
      if (entry.used === this.sweeps) break; // least recently used first: all the rest were used since
      this.entries.delete(key);
      dropped?.(entry.value);
    }
    this.sweeps++;
  }
}
