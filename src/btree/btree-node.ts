/**
 * The nodes of the B+tree (btree.ts) and what is done to them one or two at a time: the leaf and
 * internal node shapes, the binary searches inside a node, the walk down to a leaf, and the
 * repairs after a delete (remove an empty child, merge two siblings or even them out).
 *
 * Nothing here knows the tree's root, size or version: btree.ts owns those, and calls these with
 * its fill bounds. It must never compare keys with anything but the given comparator, and never
 * leave a node over `maxFill` entries or a leaf link out of key order.
 */
import type { Comparator } from './keys.ts';

/** A leaf: parallel key and value arrays, linked both ways to its neighbours for range scans. */
export class Leaf<K, V> {
  readonly isLeaf = true;
  prev: Leaf<K, V> | undefined = undefined;
  next: Leaf<K, V> | undefined = undefined;
  /** Index of the last key inserted here (-1: none), to recognize ascending runs (see `splitLeaf` in btree.ts). */
  lastInsert = -1;
  constructor(
    public keys: K[],
    public values: V[],
  ) {}
}

/** An internal node: separators and children, and the entry count of its subtree. */
export class Internal<K, V> {
  readonly isLeaf = false;
  /** `keys[j]` separates `children[j]` (keys below it) from `children[j + 1]` (keys at or above). */
  constructor(
    public keys: K[],
    public children: Node<K, V>[],
    public size: number,
  ) {}
}

/** A node of the tree. */
export type Node<K, V> = Leaf<K, V> | Internal<K, V>;

/** Entries in the subtree at `node`. */
export function sizeOf<K, V>(node: Node<K, V>): number {
  return node.isLeaf ? node.keys.length : node.size;
}

/** Entries of a node for the fill rules: keys of a leaf, children of an internal node. */
export function fillOf<K, V>(node: Node<K, V>): number {
  return node.isLeaf ? node.keys.length : node.children.length;
}

/** First index whose key is >= `key`. */
export function lowerBound<K>(keys: readonly K[], key: K, compare: Comparator<K>): number {
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
export function upperBound<K>(keys: readonly K[], key: K, compare: Comparator<K>): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(keys[mid] as K, key) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The leaf that holds (or would hold) `key`. */
export function leafFor<K, V>(root: Node<K, V>, key: K, compare: Comparator<K>): Leaf<K, V> {
  let node = root;
  while (!node.isLeaf) node = node.children[upperBound(node.keys, key, compare)] as Node<K, V>;
  return node;
}

/** The first (or, with `rightmost`, the last) leaf. */
export function edgeLeaf<K, V>(root: Node<K, V>, rightmost: boolean): Leaf<K, V> {
  let node = root;
  while (!node.isLeaf) node = node.children[rightmost ? node.children.length - 1 : 0] as Node<K, V>;
  return node;
}

// ---- repairs after a delete --------------------------------------------------------------

/**
 * Restores the fill rules for `parent.children[j]` after it shrank: an empty child is removed,
 * an underfull one (not on the right edge) is merged with or refilled from a sibling.
 */
export function fixChild<K, V>(parent: Internal<K, V>, j: number, parentOnEdge: boolean, minFill: number, maxFill: number): void {
  const child = parent.children[j] as Node<K, V>;
  const fill = fillOf(child);
  if (fill === 0) {
    removeEmptyChild(parent, j);
    return;
  }
  const last = parent.children.length - 1;
  // A lone child only occurs under an edge parent (checked above); `last === 0` guards the sibling index.
  if (fill >= minFill || (parentOnEdge && j === last) || last === 0) return;
  rebalance(parent, j < last ? j : j - 1, maxFill);
}

/** Removes the empty `parent.children[j]`: its leaf links, its slot and a separator next to it. */
function removeEmptyChild<K, V>(parent: Internal<K, V>, j: number): void {
  const child = parent.children[j] as Node<K, V>;
  if (child.isLeaf) {
    if (child.prev !== undefined) child.prev.next = child.next;
    if (child.next !== undefined) child.next.prev = child.prev;
  }
  parent.children.splice(j, 1);
  if (parent.keys.length > 0) parent.keys.splice(j > 0 ? j - 1 : 0, 1);
}

/** Merges `children[i]` and `children[i + 1]` if they fit in one node, else evens them out. */
function rebalance<K, V>(parent: Internal<K, V>, i: number, maxFill: number): void {
  const left = parent.children[i] as Node<K, V>;
  const right = parent.children[i + 1] as Node<K, V>;
  const total = fillOf(left) + fillOf(right);
  if (total <= maxFill) {
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
