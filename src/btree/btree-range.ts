/**
 * Range scans of the B+tree (btree.ts): the iterator that walks the leaf chain from where the
 * tree found the start of a scan, either way, until its end bound.
 *
 * An iterator must never walk a tree whose keys changed after it was made: it compares the
 * tree's version on every step and throws. It never allocates per entry beyond what its
 * projection returns (`keys()` and `values()` allocate no pair).
 */
import type { Leaf } from './btree-node.ts';
import type { Comparator } from './keys.ts';

/** Options of a range query. */
export interface RangeOptions {
  /** Include keys equal to `hi` (default false: the range is `lo <= key < hi`). */
  readonly hiInclusive?: boolean;
}

/** What an iterator needs of its tree: the count of structural changes. */
export interface Versioned {
  readonly version: number;
}

/** What an iterator yields of an entry. */
export type Project<K, V, T> = (key: K, value: V) => T;
/** Yields `[key, value]`. */
export const pairOf = <K, V>(key: K, value: V): [K, V] => [key, value];
/** Yields the key. */
export const keyOf = <K, V>(key: K, _value: V): K => key;
/** Yields the value. */
export const valueOf = <K, V>(_key: K, value: V): V => value;

/** When an iterator stops, relative to its end bound: never (no bound), at a key >= it, > it, or < it (descending). */
export const STOP_NEVER = 0;
export const STOP_AT_OR_ABOVE = 1;
export const STOP_ABOVE = 2;
export const STOP_BELOW = 3;
export type StopRule = typeof STOP_NEVER | typeof STOP_AT_OR_ABOVE | typeof STOP_ABOVE | typeof STOP_BELOW;

/** Walks the leaf chain from a start position until the end bound; fails fast on mutation. */
export class RangeIterator<K, V, T> implements IterableIterator<T> {
  private readonly version: number;

  constructor(
    private readonly tree: Versioned,
    private readonly compare: Comparator<K>,
    private leaf: Leaf<K, V> | undefined,
    private index: number,
    private readonly reverse: boolean,
    private readonly end: K | undefined,
    private readonly stop: StopRule,
    private readonly project: Project<K, V, T>,
  ) {
    this.version = tree.version;
  }

  next(): IteratorResult<T, undefined> {
    const leaf = this.leaf;
    if (leaf === undefined) return { done: true, value: undefined };
    if (this.tree.version !== this.version) {
      this.leaf = undefined;
      throw new Error('BTree changed during iteration: keys were added or removed after this iterator was created');
    }
    const i = this.index;
    const key = leaf.keys[i] as K;
    if (this.stop !== STOP_NEVER) {
      const c = this.compare(key, this.end as K);
      if (this.stop === STOP_AT_OR_ABOVE ? c >= 0 : this.stop === STOP_ABOVE ? c > 0 : c < 0) {
        this.leaf = undefined;
        return { done: true, value: undefined };
      }
    }
    const value = leaf.values[i] as V;
    if (this.reverse) {
      if (i > 0) this.index = i - 1;
      else {
        this.leaf = leaf.prev;
        this.index = this.leaf === undefined ? 0 : this.leaf.keys.length - 1;
      }
    } else if (i + 1 < leaf.keys.length) this.index = i + 1;
    else {
      this.leaf = leaf.next;
      this.index = 0;
    }
    return { done: false, value: this.project(key, value) };
  }

  [Symbol.iterator](): RangeIterator<K, V, T> {
    return this;
  }
}
