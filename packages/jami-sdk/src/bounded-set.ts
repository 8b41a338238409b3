/**
 * A set that forgets its oldest entries past `limit`: replay caches (inbox values, connection request ids) stay
 * bounded however long the account runs. A replay older than the window is caught by the next layer (the
 * contact book ignores a request it already holds; a stale connection request finds no ICE peer).
 */
export class BoundedSet<T> {
  private readonly items = new Set<T>();

  constructor(readonly limit: number) {}

  has(item: T): boolean {
    return this.items.has(item);
  }

  /** Adds `item`; false when it was already there. */
  add(item: T): boolean {
    if (this.items.has(item)) return false;
    this.items.add(item);
    // A Set iterates in insertion order: the first is the oldest.
    if (this.items.size > this.limit) this.items.delete(this.items.values().next().value as T);
    return true;
  }

  delete(item: T): void {
    this.items.delete(item);
  }

  get size(): number {
    return this.items.size;
  }
}
