/**
 * An in-memory B+tree: the ordered map behind every index of the stores, rebuilt from the log on
 * open. Entries live in leaves as parallel key/value arrays; leaves are linked both ways for
 * range scans; internal nodes keep subtree sizes so that `countRange` is O(log n).
 *
 * Shape (back of the envelope): with 64 entries a node, 1M keys are 15,625 full leaves under a
 * tree of depth 4. Keys arriving in ascending order (the replay case) take a fast path: one
 * comparison per level to see that the key goes last, and a full node on the right edge is split
 * lopsided (the old node stays full, the new one starts with the new key), so a replayed index
 * ends with full leaves instead of half-full ones. A full leaf in the middle of an ascending
 * run of its own splits just after the new key (see `splitLeaf`), so per-group appends (a
 * validator's next round in a (validator, round) index) leave leaves about 3/4 full, not 1/2.
 *
 * Invariants (checked by `checkInvariants`): keys strictly ascending within a node and inside the
 * bounds set by the separators above; every leaf at the same depth; every node holds at most
 * `maxNodeSize` entries and, unless it is the root or on the right edge, at least `minFill`
 * (a quarter of that, at least 2); a node on the right edge holds at least one; subtree sizes
 * add up; leaf links match key order. The quarter (not the textbook half) is what lets run
 * splits leave leaves 3/4 full; pruning removes whole leaves from the left, so it costs nothing
 * there, and only scattered deletes can thin leaves toward it.
 *
 * This file holds the tree (its root, size and version), what changes it (insert and its
 * splits, delete, pruning) and where a range scan starts. The nodes and the repairs after a
 * delete are in btree-node.ts, the range iterator in btree-range.ts, the invariant checker and
 * the shape figures in btree-check.ts.
 *
 * It must never do I/O, never compare keys with anything but the given comparator, and never let
 * an iterator walk a tree that changed under it (a version counter makes that throw).
 */
import { invalidArgument } from '../errors.ts';
import { checkTree, treeStats, type BTreeStats, type TreeShape } from './btree-check.ts';
import { edgeLeaf, fixChild, Internal, Leaf, leafFor, lowerBound, sizeOf, upperBound, type Node } from './btree-node.ts';
import {
  keyOf,
  pairOf,
  RangeIterator,
  STOP_ABOVE,
  STOP_AT_OR_ABOVE,
  STOP_BELOW,
  STOP_NEVER,
  valueOf,
  type Project,
  type RangeOptions,
} from './btree-range.ts';
import type { Comparator } from './keys.ts';

export type { BTreeStats } from './btree-check.ts';
export type { RangeOptions } from './btree-range.ts';
export type { Comparator } from './keys.ts';

/** Options of the BTree constructor. */
export interface BTreeOptions {
  /** Entries per node, leaf or internal (default `DEFAULT_MAX_NODE_SIZE`). */
  readonly maxNodeSize?: number;
}

/** Default entries per node: small enough that a splice is cheap, large enough for a shallow tree. */
export const DEFAULT_MAX_NODE_SIZE = 64;
/** Smallest accepted `maxNodeSize` (so that a half-full node has two entries). */
export const MIN_NODE_SIZE = 4;
/** Largest accepted `maxNodeSize`. */
export const MAX_NODE_SIZE = 4096;

/**
 * An ordered map from `K` to `V` under a caller-supplied comparator.
 *
 * Mutation during iteration is not supported: once a key is added or removed (set of a new key,
 * delete, deleteBelow, clear), every iterator created before throws on its next `next()`.
 * Replacing the value of an existing key is not a structural change and does not invalidate
 * iterators. `undefined` as a range bound means "unbounded", so `undefined` cannot be a key bound.
 */
export class BTree<K, V> implements Iterable<[K, V]> {
  private readonly compare: Comparator<K>;
  private readonly maxFill: number;
  private readonly minFill: number;
  private root: Node<K, V> = new Leaf<K, V>([], []);
  private count = 0;
  private mutations = 0;
  /** Out-parameters of `insertInto` (kept on the tree so that an insert allocates nothing extra). */
  private splitKey: K | undefined = undefined;
  private added = false;

  /**
   * @param compare - total order on keys (see keys.ts); must not change while the tree lives.
   * @param options - `maxNodeSize`: entries per node, an integer in [4, 4096] (default 64).
   * @throws ConsensusStoreError INVALID_ARGUMENT if `compare` is not a function or `maxNodeSize`
   *   is out of range.
   */
  constructor(compare: Comparator<K>, options: BTreeOptions = {}) {
    if (typeof compare !== 'function') throw invalidArgument('compare', 'must be a function');
    const max = options.maxNodeSize ?? DEFAULT_MAX_NODE_SIZE;
    if (!Number.isInteger(max) || max < MIN_NODE_SIZE || max > MAX_NODE_SIZE) {
      throw invalidArgument('maxNodeSize', `must be an integer in [${MIN_NODE_SIZE}, ${MAX_NODE_SIZE}], got ${max}`);
    }
    this.compare = compare;
    this.maxFill = max;
    this.minFill = Math.max(2, max >>> 2);
  }

  /** Number of entries. */
  get size(): number {
    return this.count;
  }

  /** Changes whenever a key is added or removed; iterators compare it to detect mutation. */
  get version(): number {
    return this.mutations;
  }

  /** The value stored under `key`, or undefined. O(log n). */
  get(key: K): V | undefined {
    const leaf = leafFor(this.root, key, this.compare);
    const i = lowerBound(leaf.keys, key, this.compare);
    return i < leaf.keys.length && this.compare(leaf.keys[i] as K, key) === 0 ? leaf.values[i] : undefined;
  }

  /** True if `key` is present. O(log n). */
  has(key: K): boolean {
    const leaf = leafFor(this.root, key, this.compare);
    const i = lowerBound(leaf.keys, key, this.compare);
    return i < leaf.keys.length && this.compare(leaf.keys[i] as K, key) === 0;
  }

  /**
   * Inserts `key` with `value`, or replaces the value of an existing equal key (the stored key
   * object is kept). O(log n); ascending inserts take a fast path.
   * @returns true if the key was new.
   */
  set(key: K, value: V): boolean {
    this.added = false;
    const right = this.insertInto(this.root, key, value, true);
    if (right !== undefined) {
      const left = this.root;
      this.root = new Internal<K, V>([this.splitKey as K], [left, right], sizeOf(left) + sizeOf(right));
      this.splitKey = undefined;
    }
    if (this.added) {
      this.count++;
      this.mutations++;
    }
    return this.added;
  }

  /**
   * Appends `key` if it sorts after every key of the tree (the replay case): one comparison and
   * a walk down the right edge, no search; a full last leaf takes the path of `set`. Returns
   * false, changing nothing, when `key` is not above the largest key (use `set` then).
   */
  append(key: K, value: V): boolean {
    let node = this.root;
    while (!node.isLeaf) node = node.children[node.children.length - 1] as Node<K, V>;
    const n = node.keys.length;
    if (n > 0 && this.compare(key, node.keys[n - 1] as K) <= 0) return false;
    if (n >= this.maxFill) return this.set(key, value);
    node.keys.push(key);
    node.values.push(value);
    node.lastInsert = n;
    for (let up = this.root; !up.isLeaf; up = up.children[up.children.length - 1] as Node<K, V>) up.size++;
    this.count++;
    this.mutations++;
    return true;
  }

  /**
   * Removes `key`. O(log n).
   * @returns true if it was present.
   */
  delete(key: K): boolean {
    if (!this.deleteFrom(this.root, key, true)) return false;
    this.count--;
    this.mutations++;
    this.collapseRoot();
    return true;
  }

  /**
   * Removes every key `< hi` (pruning) and returns how many. Works leaf by leaf from the left
   * edge: O(removed + (removed / maxNodeSize) * log n).
   */
  deleteBelow(hi: K): number {
    let removed = 0;
    const path: Internal<K, V>[] = [];
    for (;;) {
      path.length = 0;
      let node = this.root;
      while (!node.isLeaf) {
        path.push(node);
        node = node.children[0] as Node<K, V>;
      }
      const k = lowerBound(node.keys, hi, this.compare);
      if (k === 0) break;
      const emptied = k === node.keys.length;
      node.keys.splice(0, k);
      node.values.splice(0, k);
      removed += k;
      this.count -= k;
      for (let d = path.length - 1; d >= 0; d--) {
        const parent = path[d] as Internal<K, V>;
        parent.size -= k;
        fixChild(parent, 0, d === 0, this.minFill, this.maxFill);
      }
      this.collapseRoot();
      if (!emptied) break;
    }
    if (removed > 0) this.mutations++;
    return removed;
  }

  /** Removes every entry. */
  clear(): void {
    this.root = new Leaf<K, V>([], []);
    this.count = 0;
    this.mutations++;
  }

  /** Smallest key, or undefined when empty. O(log n). */
  minKey(): K | undefined {
    const leaf = edgeLeaf(this.root, false);
    return leaf.keys[0];
  }

  /** Largest key, or undefined when empty. O(log n). */
  maxKey(): K | undefined {
    const leaf = edgeLeaf(this.root, true);
    return leaf.keys[leaf.keys.length - 1];
  }

  /**
   * Entries with `lo <= key < hi` (`key <= hi` with `hiInclusive`), ascending. Either bound may
   * be undefined (unbounded). Throws on `next()` if the tree's keys changed since creation.
   */
  entries(lo?: K, hi?: K, options?: RangeOptions): IterableIterator<[K, V]> {
    return this.ascending(lo, hi, options, pairOf);
  }

  /** Keys of the same range as `entries`, ascending (no pair is allocated). */
  keys(lo?: K, hi?: K, options?: RangeOptions): IterableIterator<K> {
    return this.ascending(lo, hi, options, keyOf);
  }

  /** Values of the same range as `entries`, in key order (no pair is allocated). */
  values(lo?: K, hi?: K, options?: RangeOptions): IterableIterator<V> {
    return this.ascending(lo, hi, options, valueOf);
  }

  /**
   * The same range as `entries(lo, hi, options)`, descending: note the bounds come high first.
   * `entriesReversed(undefined, undefined)` starts from the largest key ("most recent N").
   */
  entriesReversed(hi?: K, lo?: K, options?: RangeOptions): IterableIterator<[K, V]> {
    return this.descending(hi, lo, options, pairOf);
  }

  /** Keys of the same range as `entriesReversed`, descending. */
  keysReversed(hi?: K, lo?: K, options?: RangeOptions): IterableIterator<K> {
    return this.descending(hi, lo, options, keyOf);
  }

  /** All entries ascending, so that `for (const [k, v] of tree)` works. */
  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  /** Number of keys with `lo <= key < hi` (or `<= hi`), without iterating. O(log n * maxNodeSize). */
  countRange(lo?: K, hi?: K, options?: RangeOptions): number {
    const upper = hi === undefined ? this.count : this.rank(hi, options?.hiInclusive === true);
    const lower = lo === undefined ? 0 : this.rank(lo, false);
    return upper > lower ? upper - lower : 0;
  }

  /** Depth, node counts and leaf fill (for tests and benchmarks). O(n / maxNodeSize). */
  stats(): BTreeStats {
    return treeStats(this.shape());
  }

  /**
   * Verifies every structural invariant (see the top of this file; btree-check.ts). For tests: O(n).
   * @throws Error naming the first violated invariant.
   */
  checkInvariants(): void {
    checkTree(this.shape());
  }

  /** What the checks (btree-check.ts) read of the tree. */
  private shape(): TreeShape<K, V> {
    return { root: this.root, count: this.count, compare: this.compare, maxFill: this.maxFill, minFill: this.minFill };
  }

  // ---- insertion -------------------------------------------------------------------------

  /**
   * Inserts into the subtree at `node`; returns the new right sibling if `node` split (its
   * lower bound in `this.splitKey`). `onEdge`: node is on the right edge of the tree.
   */
  private insertInto(node: Node<K, V>, key: K, value: V, onEdge: boolean): Node<K, V> | undefined {
    const compare = this.compare;
    const keys = node.keys;
    if (node.isLeaf) {
      const n = keys.length;
      let i: number;
      if (n === 0 || compare(key, keys[n - 1] as K) > 0) {
        i = n;
        keys.push(key);
        node.values.push(value);
      } else {
        i = lowerBound(keys, key, compare);
        if (compare(keys[i] as K, key) === 0) {
          node.values[i] = value;
          return undefined;
        }
        keys.splice(i, 0, key);
        node.values.splice(i, 0, value);
      }
      this.added = true;
      const run = node.lastInsert === i - 1;
      node.lastInsert = i;
      return n < this.maxFill ? undefined : this.splitLeaf(node, i, run, onEdge);
    }
    const last = keys.length;
    const j = last === 0 || compare(key, keys[last - 1] as K) >= 0 ? last : upperBound(keys, key, compare);
    const right = this.insertInto(node.children[j] as Node<K, V>, key, value, onEdge && j === last);
    if (this.added) node.size++;
    if (right === undefined) return undefined;
    if (j === last) {
      keys.push(this.splitKey as K);
      node.children.push(right);
    } else {
      keys.splice(j, 0, this.splitKey as K);
      node.children.splice(j + 1, 0, right);
    }
    return node.children.length <= this.maxFill ? undefined : this.splitInternal(node, j + 1, onEdge);
  }

  /**
   * Splits an overfull leaf whose new key is at index `i`, given that the key before it was
   * the previous one inserted here (`run`). A new largest key of the tree leaves the old leaf
   * full (ascending replay). A run in the upper half splits just after the new key, leaving the
   * new leaf at least `minFill`: that is an ascending run inside one group of a composite key (a
   * validator's next round), whose next keys land at the end of the left leaf, which so fills up
   * instead of staying half full. Anything else (random inserts) splits in the middle.
   */
  private splitLeaf(leaf: Leaf<K, V>, i: number, run: boolean, onEdge: boolean): Leaf<K, V> {
    const n = leaf.keys.length;
    const half = n >>> 1;
    let cut = half;
    if (onEdge && i === n - 1) cut = i;
    else if (run && i >= half) cut = i + 1 < n - this.minFill ? i + 1 : n - this.minFill;
    const right = new Leaf<K, V>(leaf.keys.splice(cut), leaf.values.splice(cut));
    right.next = leaf.next;
    if (right.next !== undefined) right.next.prev = right;
    right.prev = leaf;
    leaf.next = right;
    this.splitKey = right.keys[0];
    if (i < cut) right.lastInsert = -1;
    else {
      leaf.lastInsert = -1;
      right.lastInsert = i - cut;
    }
    return right;
  }

  /** Splits an overfull internal node whose new child is at index `i`: lopsided for an append, else halves. */
  private splitInternal(node: Internal<K, V>, i: number, onEdge: boolean): Internal<K, V> {
    const n = node.children.length;
    const cut = onEdge && i === n - 1 ? i : n >>> 1;
    const children = node.children.splice(cut);
    const rightKeys = node.keys.splice(cut);
    this.splitKey = node.keys.pop();
    let moved = 0;
    for (const child of children) moved += sizeOf(child);
    node.size -= moved;
    return new Internal<K, V>(rightKeys, children, moved);
  }

  // ---- deletion --------------------------------------------------------------------------

  private deleteFrom(node: Node<K, V>, key: K, onEdge: boolean): boolean {
    if (node.isLeaf) {
      const i = lowerBound(node.keys, key, this.compare);
      if (i >= node.keys.length || this.compare(node.keys[i] as K, key) !== 0) return false;
      node.keys.splice(i, 1);
      node.values.splice(i, 1);
      return true;
    }
    const j = upperBound(node.keys, key, this.compare);
    if (!this.deleteFrom(node.children[j] as Node<K, V>, key, onEdge && j === node.keys.length)) return false;
    node.size--;
    fixChild(node, j, onEdge, this.minFill, this.maxFill);
    return true;
  }

  /** Replaces an internal root that has one child (or none) by that child (or an empty leaf). */
  private collapseRoot(): void {
    while (!this.root.isLeaf && this.root.children.length <= 1) {
      this.root = this.root.children[0] ?? new Leaf<K, V>([], []);
    }
  }

  // ---- queries ---------------------------------------------------------------------------

  /** Number of keys `< key` (`<= key` when `inclusive`). */
  private rank(key: K, inclusive: boolean): number {
    let node = this.root;
    let below = 0;
    while (!node.isLeaf) {
      const j = upperBound(node.keys, key, this.compare);
      for (let c = 0; c < j; c++) below += sizeOf(node.children[c] as Node<K, V>);
      node = node.children[j] as Node<K, V>;
    }
    return below + (inclusive ? upperBound(node.keys, key, this.compare) : lowerBound(node.keys, key, this.compare));
  }

  private ascending<T>(lo: K | undefined, hi: K | undefined, options: RangeOptions | undefined, project: Project<K, V, T>): RangeIterator<K, V, T> {
    let leaf: Leaf<K, V> | undefined;
    let index = 0;
    if (lo === undefined) leaf = edgeLeaf(this.root, false);
    else {
      leaf = leafFor(this.root, lo, this.compare);
      index = lowerBound(leaf.keys, lo, this.compare);
    }
    if (index >= leaf.keys.length) {
      leaf = leaf.next;
      index = 0;
    }
    const stop = hi === undefined ? STOP_NEVER : options?.hiInclusive === true ? STOP_ABOVE : STOP_AT_OR_ABOVE;
    return new RangeIterator(this, this.compare, leaf, index, false, hi, stop, project);
  }

  private descending<T>(hi: K | undefined, lo: K | undefined, options: RangeOptions | undefined, project: Project<K, V, T>): RangeIterator<K, V, T> {
    let leaf: Leaf<K, V> | undefined;
    let index: number;
    if (hi === undefined) {
      leaf = edgeLeaf(this.root, true);
      index = leaf.keys.length - 1;
    } else {
      leaf = leafFor(this.root, hi, this.compare);
      const inclusive = options?.hiInclusive === true;
      index = (inclusive ? upperBound(leaf.keys, hi, this.compare) : lowerBound(leaf.keys, hi, this.compare)) - 1;
    }
    if (index < 0) {
      leaf = leaf.prev;
      index = leaf === undefined ? 0 : leaf.keys.length - 1;
    }
    return new RangeIterator(this, this.compare, leaf, index, true, lo, lo === undefined ? STOP_NEVER : STOP_BELOW, project);
  }
}
