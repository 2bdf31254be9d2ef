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
 * It must never do I/O, never compare keys with anything but the given comparator, and never let
 * an iterator walk a tree that changed under it (a version counter makes that throw).
 */
import { invalidArgument } from '../errors.ts';
import type { Comparator } from './keys.ts';

export type { Comparator } from './keys.ts';

/** Options of a range query. */
export interface RangeOptions {
  /** Include keys equal to `hi` (default false: the range is `lo <= key < hi`). */
  readonly hiInclusive?: boolean;
}

/** Options of the BTree constructor. */
export interface BTreeOptions {
  /** Entries per node, leaf or internal (default `DEFAULT_MAX_NODE_SIZE`). */
  readonly maxNodeSize?: number;
}

/** Shape figures for tests and benchmarks. */
export interface BTreeStats {
  /** Levels, counting the leaves (1 for a tree that is a single leaf). */
  readonly depth: number;
  /** Number of leaves. */
  readonly leaves: number;
  /** Number of internal nodes. */
  readonly internalNodes: number;
  /** Entries divided by leaf capacity (leaves * maxNodeSize); 1 means every leaf is full. */
  readonly leafFill: number;
}

/** Default entries per node: small enough that a splice is cheap, large enough for a shallow tree. */
export const DEFAULT_MAX_NODE_SIZE = 64;
/** Smallest accepted `maxNodeSize` (so that a half-full node has two entries). */
export const MIN_NODE_SIZE = 4;
/** Largest accepted `maxNodeSize`. */
export const MAX_NODE_SIZE = 4096;

class Leaf<K, V> {
  readonly isLeaf = true;
  prev: Leaf<K, V> | undefined = undefined;
  next: Leaf<K, V> | undefined = undefined;
  /** Index of the last key inserted here (-1: none), to recognize ascending runs (see `splitLeaf`). */
  lastInsert = -1;
  constructor(
    public keys: K[],
    public values: V[],
  ) {}
}

class Internal<K, V> {
  readonly isLeaf = false;
  /** `keys[j]` separates `children[j]` (keys below it) from `children[j + 1]` (keys at or above). */
  constructor(
    public keys: K[],
    public children: Node<K, V>[],
    public size: number,
  ) {}
}

type Node<K, V> = Leaf<K, V> | Internal<K, V>;

function sizeOf<K, V>(node: Node<K, V>): number {
  return node.isLeaf ? node.keys.length : node.size;
}

/** Entries of a node for the fill rules: keys of a leaf, children of an internal node. */
function fillOf<K, V>(node: Node<K, V>): number {
  return node.isLeaf ? node.keys.length : node.children.length;
}

/** First index whose key is >= `key`. */
function lowerBound<K>(keys: readonly K[], key: K, compare: Comparator<K>): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(keys[mid] as K, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose key is > `key` (for separators: the child that holds `key`). */
function upperBound<K>(keys: readonly K[], key: K, compare: Comparator<K>): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(keys[mid] as K, key) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

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
    const leaf = this.leafFor(key);
    const i = lowerBound(leaf.keys, key, this.compare);
    return i < leaf.keys.length && this.compare(leaf.keys[i] as K, key) === 0 ? leaf.values[i] : undefined;
  }

  /** True if `key` is present. O(log n). */
  has(key: K): boolean {
    const leaf = this.leafFor(key);
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
        this.fixChild(parent, 0, d === 0);
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
    const leaf = this.edgeLeaf(false);
    return leaf.keys[0];
  }

  /** Largest key, or undefined when empty. O(log n). */
  maxKey(): K | undefined {
    const leaf = this.edgeLeaf(true);
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
    let depth = 1;
    let leaves = 0;
    let internalNodes = 0;
    let level: Node<K, V>[] = [this.root];
    while (level.length > 0) {
      const next: Node<K, V>[] = [];
      for (const node of level) {
        if (node.isLeaf) leaves++;
        else {
          internalNodes++;
          next.push(...node.children);
        }
      }
      if (next.length > 0) depth++;
      level = next;
    }
    return { depth, leaves, internalNodes, leafFill: this.count / (leaves * this.maxFill) };
  }

  /**
   * Verifies every structural invariant (see the top of this file). For tests: O(n).
   * @throws Error naming the first violated invariant.
   */
  checkInvariants(): void {
    const leaves: Leaf<K, V>[] = [];
    const depths = new Set<number>();
    const total = this.checkNode(this.root, undefined, undefined, 1, true, leaves, depths);
    if (depths.size !== 1) fail('depth', `leaves at depths ${[...depths].join(', ')}`);
    if (total !== this.count) fail('size', `tree says ${this.count}, nodes hold ${total}`);
    if (!this.root.isLeaf && this.root.children.length < 2) fail('fill', 'internal root with fewer than 2 children');
    for (let i = 0; i < leaves.length; i++) {
      const leaf = leaves[i] as Leaf<K, V>;
      if (leaf.prev !== leaves[i - 1]) fail('leaf links', `leaf ${i} has the wrong prev`);
      if (leaf.next !== leaves[i + 1]) fail('leaf links', `leaf ${i} has the wrong next`);
    }
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
    this.fixChild(node, j, onEdge);
    return true;
  }

  /**
   * Restores the fill rules for `parent.children[j]` after it shrank: an empty child is removed,
   * an underfull one (not on the right edge) is merged with or refilled from a sibling.
   */
  private fixChild(parent: Internal<K, V>, j: number, parentOnEdge: boolean): void {
    const child = parent.children[j] as Node<K, V>;
    const fill = fillOf(child);
    if (fill === 0) {
      this.removeEmptyChild(parent, j);
      return;
    }
    const last = parent.children.length - 1;
    // A lone child only occurs under an edge parent (checked above); `last === 0` guards the sibling index.
    if (fill >= this.minFill || (parentOnEdge && j === last) || last === 0) return;
    this.rebalance(parent, j < last ? j : j - 1);
  }

  private removeEmptyChild(parent: Internal<K, V>, j: number): void {
    const child = parent.children[j] as Node<K, V>;
    if (child.isLeaf) {
      if (child.prev !== undefined) child.prev.next = child.next;
      if (child.next !== undefined) child.next.prev = child.prev;
    }
    parent.children.splice(j, 1);
    if (parent.keys.length > 0) parent.keys.splice(j > 0 ? j - 1 : 0, 1);
  }

  /** Merges `children[i]` and `children[i + 1]` if they fit in one node, else evens them out. */
  private rebalance(parent: Internal<K, V>, i: number): void {
    const left = parent.children[i] as Node<K, V>;
    const right = parent.children[i + 1] as Node<K, V>;
    const total = fillOf(left) + fillOf(right);
    if (total <= this.maxFill) {
      if (left.isLeaf) mergeLeaves(left, right as Leaf<K, V>);
      else mergeInternals(left, right as Internal<K, V>, parent.keys[i] as K);
      parent.keys.splice(i, 1);
      parent.children.splice(i + 1, 1);
      return;
    }
    const target = total >>> 1;
    if (left.isLeaf) {
      shiftLeaves(left, right as Leaf<K, V>, target);
      parent.keys[i] = (right as Leaf<K, V>).keys[0] as K;
    } else {
      parent.keys[i] = shiftInternals(left, right as Internal<K, V>, parent.keys[i] as K, target);
    }
  }

  /** Replaces an internal root that has one child (or none) by that child (or an empty leaf). */
  private collapseRoot(): void {
    while (!this.root.isLeaf && this.root.children.length <= 1) {
      this.root = this.root.children[0] ?? new Leaf<K, V>([], []);
    }
  }

  // ---- queries ---------------------------------------------------------------------------

  private leafFor(key: K): Leaf<K, V> {
    let node = this.root;
    while (!node.isLeaf) node = node.children[upperBound(node.keys, key, this.compare)] as Node<K, V>;
    return node;
  }

  private edgeLeaf(rightmost: boolean): Leaf<K, V> {
    let node = this.root;
    while (!node.isLeaf) node = node.children[rightmost ? node.children.length - 1 : 0] as Node<K, V>;
    return node;
  }

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
    if (lo === undefined) leaf = this.edgeLeaf(false);
    else {
      leaf = this.leafFor(lo);
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
      leaf = this.edgeLeaf(true);
      index = leaf.keys.length - 1;
    } else {
      leaf = this.leafFor(hi);
      const inclusive = options?.hiInclusive === true;
      index = (inclusive ? upperBound(leaf.keys, hi, this.compare) : lowerBound(leaf.keys, hi, this.compare)) - 1;
    }
    if (index < 0) {
      leaf = leaf.prev;
      index = leaf === undefined ? 0 : leaf.keys.length - 1;
    }
    return new RangeIterator(this, this.compare, leaf, index, true, lo, lo === undefined ? STOP_NEVER : STOP_BELOW, project);
  }

  // ---- invariant checking ----------------------------------------------------------------

  /** Checks the subtree at `node`, whose keys must lie in [lo, hi); returns its entry count. */
  private checkNode(
    node: Node<K, V>,
    lo: K | undefined,
    hi: K | undefined,
    depth: number,
    onEdge: boolean,
    leaves: Leaf<K, V>[],
    depths: Set<number>,
  ): number {
    const where = `${node.isLeaf ? 'leaf' : 'internal node'} at depth ${depth}`;
    const keys = node.keys;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as K;
      if (i > 0 && !(this.compare(keys[i - 1] as K, key) < 0)) fail('ordering', `${where}: key ${i} not above key ${i - 1}`);
      if (lo !== undefined && this.compare(key, lo) < 0) fail('ordering', `${where}: key ${i} below its lower bound`);
      if (hi !== undefined && this.compare(key, hi) >= 0) fail('ordering', `${where}: key ${i} not below its upper bound`);
    }
    const fill = fillOf(node);
    const isRoot = node === this.root;
    if (fill > this.maxFill) fail('fill', `${where} holds ${fill} > ${this.maxFill}`);
    if (!isRoot && fill < (onEdge ? 1 : this.minFill)) fail('fill', `${where} holds ${fill}, minimum ${onEdge ? 1 : this.minFill}`);
    if (node.isLeaf) {
      if (node.values.length !== keys.length) fail('shape', `${where}: ${keys.length} keys, ${node.values.length} values`);
      depths.add(depth);
      leaves.push(node);
      return keys.length;
    }
    if (node.children.length !== keys.length + 1) fail('shape', `${where}: ${node.children.length} children, ${keys.length} separators`);
    let total = 0;
    const last = node.children.length - 1;
    for (let j = 0; j <= last; j++) {
      const childLo = j === 0 ? lo : keys[j - 1];
      const childHi = j === last ? hi : keys[j];
      total += this.checkNode(node.children[j] as Node<K, V>, childLo, childHi, depth + 1, onEdge && j === last, leaves, depths);
    }
    if (total !== node.size) fail('size', `${where} records ${node.size} entries, children hold ${total}`);
    return total;
  }
}

function fail(invariant: string, detail: string): never {
  throw new Error(`BTree invariant violated (${invariant}): ${detail}`);
}

function mergeLeaves<K, V>(left: Leaf<K, V>, right: Leaf<K, V>): void {
  for (let i = 0; i < right.keys.length; i++) {
    left.keys.push(right.keys[i] as K);
    left.values.push(right.values[i] as V);
  }
  left.next = right.next;
  if (right.next !== undefined) right.next.prev = left;
}

function mergeInternals<K, V>(left: Internal<K, V>, right: Internal<K, V>, separator: K): void {
  left.keys.push(separator, ...right.keys);
  left.children.push(...right.children);
  left.size += right.size;
}

/** Moves entries between adjacent leaves so that `left` ends with `target` of them. */
function shiftLeaves<K, V>(left: Leaf<K, V>, right: Leaf<K, V>, target: number): void {
  const nl = left.keys.length;
  if (nl < target) {
    const m = target - nl;
    left.keys.push(...right.keys.splice(0, m));
    left.values.push(...right.values.splice(0, m));
  } else if (nl > target) {
    right.keys.unshift(...left.keys.splice(target));
    right.values.unshift(...left.values.splice(target));
  }
}

/**
 * Moves children between adjacent internal nodes so that `left` ends with `target` of them,
 * rotating separators through the parent. Returns the new parent separator.
 */
function shiftInternals<K, V>(left: Internal<K, V>, right: Internal<K, V>, separator: K, target: number): K {
  const nl = left.children.length;
  if (nl < target) {
    const m = target - nl;
    const moved = right.children.splice(0, m);
    const up = right.keys[m - 1] as K;
    left.keys.push(separator, ...right.keys.splice(0, m).slice(0, m - 1));
    left.children.push(...moved);
    let size = 0;
    for (const child of moved) size += sizeOf(child);
    left.size += size;
    right.size -= size;
    return up;
  }
  if (nl === target) return separator;
  const moved = left.children.splice(target);
  const up = left.keys[target - 1] as K;
  right.keys.unshift(...left.keys.splice(target - 1).slice(1), separator);
  right.children.unshift(...moved);
  let size = 0;
  for (const child of moved) size += sizeOf(child);
  left.size -= size;
  right.size += size;
  return up;
}

type Project<K, V, T> = (key: K, value: V) => T;
const pairOf = <K, V>(key: K, value: V): [K, V] => [key, value];
const keyOf = <K, V>(key: K, _value: V): K => key;
const valueOf = <K, V>(_key: K, value: V): V => value;

/** When an iterator stops, relative to its end bound. */
const STOP_NEVER = 0;
const STOP_AT_OR_ABOVE = 1;
const STOP_ABOVE = 2;
const STOP_BELOW = 3;
type StopRule = typeof STOP_NEVER | typeof STOP_AT_OR_ABOVE | typeof STOP_ABOVE | typeof STOP_BELOW;

/** Walks the leaf chain from a start position until the end bound; fails fast on mutation. */
class RangeIterator<K, V, T> implements IterableIterator<T> {
  private readonly version: number;

  constructor(
    private readonly tree: BTree<K, V>,
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
