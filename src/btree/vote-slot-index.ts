/**
 * `SlotIndex`: an ordered set of vote slots (numbers into `VoteColumns`) under a comparator the
 * caller supplies, kept as a sorted Int32Array while inserts arrive in order or near the end,
 * and as a B+tree (`src/btree/btree.ts`) after the first far out-of-order insert. The vote
 * store keeps four of them (round, per-validator, height, LSN).
 *
 * It must never: read or write the columns itself (the comparator does), hold a range open
 * across an await (every range is collected at once), or go back from B+tree to list.
 */
import { BTree } from './btree.ts';

/** Farthest from the end that a `SlotIndex` list takes an insert (a memmove of that many slots); farther converts it to a B+tree. */
const MAX_TAIL_INSERT = 4096;

/**
 * An ordered set of slots under a comparator that reads the columns: while inserts arrive in
 * order, or near the end (the replay and live cases: votes come in LSN, round and height
 * order, shuffled only within the latest round), a sorted Int32Array, 4 bytes a vote and an
 * append each; the first insert farther than `maxTailInsert` from the end turns it into a
 * B+tree (O(n) once), which then takes any order in O(log n). Range bounds are slots too (the
 * probes). Every range is collected at once, never iterated across an await.
 * @internal used by `VoteStore` and its tests; not part of the public API.
 */
export class SlotIndex {
  private list: Int32Array | null = new Int32Array(16);
  private length = 0;
  private tree: BTree<number, number> | null = null;

  /**
   * @param compare - total order on slots (and probe slots).
   * @param maxTailInsert - farthest insert from the end the list takes (default 4,096).
   */
  constructor(
    private readonly compare: (a: number, b: number) => number,
    private readonly maxTailInsert = MAX_TAIL_INSERT,
  ) {}

  /** Number of slots held. */
  get size(): number {
    return this.tree === null ? this.length : this.tree.size;
  }

  /** True once an out-of-order insert turned the list into a B+tree. */
  get isTree(): boolean {
    return this.tree !== null;
  }

  /** Adds `slot` (not present yet). */
  insert(slot: number): void {
    const tree = this.tree;
    if (tree !== null) {
      if (!tree.append(slot, slot)) tree.set(slot, slot);
      return;
    }
    let list = this.list as Int32Array;
    const n = this.length;
    let i = n;
    if (n > 0 && this.compare(list[n - 1]!, slot) > 0) {
      i = this.lowerBound(slot);
      if (n - i > this.maxTailInsert) {
        this.toTree().set(slot, slot);
        return;
      }
    }
    if (n === list.length) {
      const grownList = new Int32Array(n * 2);
      grownList.set(list);
      list = this.list = grownList;
    }
    if (i < n) list.copyWithin(i + 1, i, n);
    list[i] = slot;
    this.length = n + 1;
  }

  /** The slots from `lo` (inclusive) to `hi` (exclusive), at most `limit` of those `keep` accepts. */
  collect(lo: number, hi: number, limit: number, keep: ((slot: number) => boolean) | undefined): number[] {
    const out: number[] = [];
    if (limit <= 0) return out;
    if (this.tree !== null) {
      const it = this.tree.keys(lo, hi);
      for (let r = it.next(); r.done !== true; r = it.next()) {
        if (keep !== undefined && !keep(r.value)) continue;
        out.push(r.value);
        if (out.length >= limit) break;
      }
      return out;
    }
    const list = this.list as Int32Array;
    for (let i = this.lowerBound(lo); i < this.length; i++) {
      const slot = list[i]!;
      if (this.compare(slot, hi) >= 0) break;
      if (keep !== undefined && !keep(slot)) continue;
      out.push(slot);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** The last `limit` slots, largest first. */
  collectLast(limit: number): number[] {
    const out: number[] = [];
    if (limit <= 0) return out;
    if (this.tree !== null) {
      const it = this.tree.keysReversed();
      for (let r = it.next(); r.done !== true && out.length < limit; r = it.next()) out.push(r.value);
      return out;
    }
    const list = this.list as Int32Array;
    for (let i = this.length - 1; i >= 0 && out.length < limit; i--) out.push(list[i]!);
    return out;
  }

  /** How many slots lie in [lo, hi). */
  count(lo: number, hi: number): number {
    if (this.tree !== null) return this.tree.countRange(lo, hi);
    const a = this.lowerBound(lo);
    const b = this.lowerBound(hi);
    return b > a ? b - a : 0;
  }

  /** The smallest slot at or above `lo` (the smallest of all without `lo`), or undefined. */
  first(lo?: number): number | undefined {
    if (this.tree !== null) {
      const r = this.tree.keys(lo).next();
      return r.done === true ? undefined : r.value;
    }
    const i = lo === undefined ? 0 : this.lowerBound(lo);
    return i < this.length ? (this.list as Int32Array)[i] : undefined;
  }

  /** Every slot, in order (a copy: for a local image). */
  ordered(): Int32Array {
    if (this.tree === null) return (this.list as Int32Array).slice(0, this.length);
    const out = new Int32Array(this.tree.size);
    let i = 0;
    const it = this.tree.keys();
    for (let r = it.next(); r.done !== true; r = it.next()) out[i++] = r.value;
    return out;
  }

  /**
   * Replaces the content with `slots`, which must already be in this index's order (a local
   * image's; the loader checks the order with `isOrdered` first). Takes ownership of the array.
   */
  loadOrdered(slots: Int32Array, count: number): void {
    this.tree = null;
    this.list = slots.length > 0 ? slots : new Int32Array(16);
    this.length = count;
  }

  /** True when `slots[0, count)` is strictly increasing under this index's order. */
  isOrdered(slots: Int32Array, count: number): boolean {
    for (let i = 1; i < count; i++) if (this.compare(slots[i - 1]!, slots[i]!) >= 0) return false;
    return true;
  }

  /** First list index whose slot is >= `key`. */
  private lowerBound(key: number): number {
    const list = this.list as Int32Array;
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compare(list[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private toTree(): BTree<number, number> {
    const tree = new BTree<number, number>(this.compare);
    const list = this.list as Int32Array;
    for (let i = 0; i < this.length; i++) tree.append(list[i]!, list[i]!);
    this.tree = tree;
    this.list = null;
    this.length = 0;
    return tree;
  }
}
