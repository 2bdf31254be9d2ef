/**
 * A small bounded map that forgets its least recently used entry when full: the cold tier's
 * caches of footers and decoded blocks (docs/format.md, "Cold files").
 *
 * It must never hold more than its capacity, and never do I/O.
 */
export class LruMap<K, V> {
  readonly #capacity: number;
  readonly #map = new Map<K, V>();

  /** @param capacity - entries kept (0: nothing is kept). */
  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** The value of `key`, now the most recently used, or undefined. */
  get(key: K): V | undefined {
    const value = this.#map.get(key);
    if (value === undefined) return undefined;
    this.#map.delete(key);
    this.#map.set(key, value);
    return value;
  }

  /** Stores `value` as the most recently used; drops the least recently used beyond capacity. */
  set(key: K, value: V): void {
    if (this.#capacity === 0) return;
    this.#map.delete(key);
    this.#map.set(key, value);
    while (this.#map.size > this.#capacity) {
      const oldest = this.#map.keys().next();
      if (oldest.done === true) break;
      this.#map.delete(oldest.value);
    }
  }

  /** Forgets every key for which `drop` is true. */
  deleteWhere(drop: (key: K) => boolean): void {
    for (const key of [...this.#map.keys()]) if (drop(key)) this.#map.delete(key);
  }

  /** Entries held. */
  get size(): number {
    return this.#map.size;
  }
}
