/**
 * SHA-256 Merkle trees in the shape of RFC 6962 (Certificate Transparency) section 2.1: the
 * audit log's signed heads and dispute evidence use them, and so will snapshot files.
 *
 * Hashing is domain-separated: a leaf is SHA-256(0x00 || data), an interior node is
 * SHA-256(0x01 || left || right), so that a leaf can never be passed off as a node (the
 * second-preimage attack on plain Merkle trees). The tree of n leaves splits at k, the largest
 * power of two below n; the empty tree's root is SHA-256 of nothing. Inclusion proofs are the
 * RFC 6962 audit paths (siblings from the leaf level upward) and are checked with the
 * algorithm of RFC 9162 section 2.1.3.2.
 *
 * This file must never do I/O and never accept a proof longer than a tree of its size can have
 * (a bound of 64 siblings covers every tree whose size fits a u64).
 */
import { hash as nodeHash } from 'node:crypto';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { equalBytes } from './bytes.ts';

/** Bytes of a SHA-256 digest. */
export const HASH_BYTES = 32;
/** Longest inclusion proof accepted: one sibling per level of a tree of up to 2^64 leaves. */
export const MAX_PROOF_LENGTH = 64;

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

/**
 * SHA-256 of `data`. Uses node:crypto's one-shot `hash` (about 3x faster than a streaming hash
 * object for the short inputs here) and falls back to @noble/hashes where it is missing.
 */
export function sha256(data: Uint8Array): Uint8Array {
  if (typeof nodeHash === 'function') {
    const out = nodeHash('sha256', data, 'buffer');
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
  return nobleSha256(data);
}

/** The Merkle leaf hash of `data`: SHA-256(0x00 || data). */
export function merkleLeafHash(data: Uint8Array): Uint8Array {
  const buf = new Uint8Array(1 + data.length);
  buf[0] = LEAF_PREFIX;
  buf.set(data, 1);
  return sha256(buf);
}

/** The interior node hash of two child hashes: SHA-256(0x01 || left || right). */
export function merkleNodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const buf = new Uint8Array(1 + left.length + right.length);
  buf[0] = NODE_PREFIX;
  buf.set(left, 1);
  buf.set(right, 1 + left.length);
  return sha256(buf);
}

/** The root of the empty tree: SHA-256 of the empty string. */
export function emptyMerkleRoot(): Uint8Array {
  return sha256(new Uint8Array(0));
}

/**
 * The root of the tree whose leaves have the hashes `leafHashes` (already `merkleLeafHash`ed).
 * Builds the tree level by level: pairing neighbours and carrying a lone last node up unchanged
 * gives exactly RFC 6962's split at the largest power of two. O(n) hashes, O(n) memory.
 */
export function merkleRoot(leafHashes: readonly Uint8Array[]): Uint8Array {
  if (leafHashes.length === 0) return emptyMerkleRoot();
  let level: readonly Uint8Array[] = leafHashes;
  while (level.length > 1) level = nextLevel(level);
  return level[0] as Uint8Array;
}

/** The root of the tree over raw leaf data (each item is leaf-hashed first). */
export function merkleRootOfData(data: readonly Uint8Array[]): Uint8Array {
  return merkleRoot(data.map(merkleLeafHash));
}

function nextLevel(level: readonly Uint8Array[]): Uint8Array[] {
  const up: Uint8Array[] = [];
  for (let i = 0; i + 1 < level.length; i += 2) up.push(merkleNodeHash(level[i] as Uint8Array, level[i + 1] as Uint8Array));
  if (level.length % 2 === 1) up.push(level[level.length - 1] as Uint8Array);
  return up;
}

/**
 * Every level of the tree over `leafHashes`, leaves first, root last: what a caller needs to
 * cut many inclusion proofs from one tree (`proofFromLevels`). O(n) hashes and memory.
 * @throws RangeError on an empty list.
 */
export function merkleLevels(leafHashes: readonly Uint8Array[]): Uint8Array[][] {
  if (leafHashes.length === 0) throw new RangeError('a Merkle tree needs at least one leaf for proofs');
  const levels: Uint8Array[][] = [leafHashes.slice()];
  let level = levels[0] as Uint8Array[];
  while (level.length > 1) {
    level = nextLevel(level);
    levels.push(level);
  }
  return levels;
}

/**
 * The inclusion proof (audit path) of leaf `index` in the tree given by its `levels`: sibling
 * hashes from the leaf level upward, skipping levels where the node is a lone last one.
 * @throws RangeError when `index` is outside the tree.
 */
export function proofFromLevels(levels: readonly (readonly Uint8Array[])[], index: number): Uint8Array[] {
  const size = levels[0]?.length ?? 0;
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new RangeError(`leaf ${index} outside a tree of ${size}`);
  const proof: Uint8Array[] = [];
  let i = index;
  for (let l = 0; l < levels.length - 1; l++) {
    const level = levels[l] as readonly Uint8Array[];
    const sibling = i ^ 1;
    if (sibling < level.length) proof.push(level[sibling] as Uint8Array);
    i >>>= 1;
  }
  return proof;
}

/** The inclusion proof of leaf `index` in the tree over `leafHashes` (builds the whole tree). */
export function merkleInclusionProof(leafHashes: readonly Uint8Array[], index: number): Uint8Array[] {
  return proofFromLevels(merkleLevels(leafHashes), index);
}

/**
 * Inclusion proofs of several leaves of one tree, from the leaf hashes packed back to back in
 * `packed` (32 bytes each, `size` of them): one pass builds each level packed, so a tree of a
 * million leaves costs a million node hashes and 64 MB at most, once for all the proofs.
 * @returns the root and, per index in `indices`, its proof (as `proofFromLevels` orders it).
 * @throws RangeError when `size` is 0, `packed` is too short, or an index is outside the tree.
 */
export function merkleProofsPacked(packed: Uint8Array, size: number, indices: readonly number[]): { root: Uint8Array; proofs: Uint8Array[][] } {
  if (!Number.isSafeInteger(size) || size < 1 || packed.length < size * HASH_BYTES) throw new RangeError(`bad packed tree of ${size} leaves`);
  for (const i of indices) if (!Number.isSafeInteger(i) || i < 0 || i >= size) throw new RangeError(`leaf ${i} outside a tree of ${size}`);
  const proofs: Uint8Array[][] = indices.map(() => []);
  const positions = indices.slice();
  let level = packed.subarray(0, size * HASH_BYTES);
  let n = size;
  const node = new Uint8Array(1 + 2 * HASH_BYTES);
  node[0] = NODE_PREFIX;
  while (n > 1) {
    for (let k = 0; k < positions.length; k++) {
      const sibling = (positions[k] as number) ^ 1;
      if (sibling < n) (proofs[k] as Uint8Array[]).push(level.slice(sibling * HASH_BYTES, (sibling + 1) * HASH_BYTES));
      positions[k] = (positions[k] as number) >>> 1;
    }
    const up = Math.ceil(n / 2);
    const next = new Uint8Array(up * HASH_BYTES);
    for (let i = 0; i + 1 < n; i += 2) {
      node.set(level.subarray(i * HASH_BYTES, (i + 2) * HASH_BYTES), 1);
      next.set(sha256(node), (i >>> 1) * HASH_BYTES);
    }
    if (n % 2 === 1) next.set(level.subarray((n - 1) * HASH_BYTES, n * HASH_BYTES), (up - 1) * HASH_BYTES);
    level = next;
    n = up;
  }
  return { root: level.slice(0, HASH_BYTES), proofs };
}

/**
 * True when `proof` shows that a leaf with hash `leafHash` sits at `index` in a tree of `size`
 * leaves whose root is `root` (RFC 9162 2.1.3.2). False for any malformed input (wrong hash
 * lengths, index outside the tree, a proof too long or too short); never throws.
 */
export function verifyMerkleInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(size) || !Number.isSafeInteger(index) || index < 0 || index >= size) return false;
  if (!Array.isArray(proof) || proof.length > MAX_PROOF_LENGTH) return false;
  if (!(leafHash instanceof Uint8Array) || leafHash.length !== HASH_BYTES) return false;
  if (!(root instanceof Uint8Array) || root.length !== HASH_BYTES) return false;
  // fn and sn as in RFC 9162; safe integers stay exact under the divisions below.
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (!(p instanceof Uint8Array) || p.length !== HASH_BYTES) return false;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = merkleNodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = merkleNodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(r, root);
}

/**
 * The right edge of a growing tree: the roots of its perfect subtrees, largest first (a
 * "compact range" from the left edge). Appending a leaf costs O(1) hashes amortized and
 * `root()` O(log n), so a writer can sign the root of every prefix of an append-only list
 * without keeping the list. Used by the audit log to sign each batch's head.
 */
export class MerkleFrontier {
  /** Perfect subtree roots, largest first; `sizes[i]` leaves under `roots[i]`. */
  private readonly roots: Uint8Array[];
  private readonly sizes: number[];
  private count: number;

  /** An empty frontier (or a copy of one, through `clone`). */
  constructor(roots: Uint8Array[] = [], sizes: number[] = [], count = 0) {
    this.roots = roots;
    this.sizes = sizes;
    this.count = count;
  }

  /** Leaves appended so far. */
  get size(): number {
    return this.count;
  }

  /** Appends a leaf by its leaf hash (`merkleLeafHash` of the data). */
  append(leafHash: Uint8Array): void {
    this.appendPerfect(leafHash, 1);
  }

  /**
   * Appends `count` copies of one leaf in O(log^2 count) hashes, never one by one: the root of
   * 2^k equal leaves is the same whatever their place, so the run goes in as perfect subtrees,
   * each as large as the frontier's alignment and what is left allow. The result equals `count`
   * calls of `append` (a run of a repair's lost entries can be as long as a damaged sequence
   * number says, and must not cost one hash per entry).
   */
  appendRepeated(leafHash: Uint8Array, count: number): void {
    if (!Number.isSafeInteger(count) || count < 0 || this.count + count > Number.MAX_SAFE_INTEGER) {
      throw new RangeError(`appendRepeated: ${count} leaves after ${this.count}`);
    }
    const perfect = [leafHash];
    let left = count;
    while (left > 0) {
      let k = 0;
      while (2 ** (k + 1) <= left && this.count % 2 ** (k + 1) === 0) k++;
      while (perfect.length <= k) {
        const last = perfect[perfect.length - 1] as Uint8Array;
        perfect.push(merkleNodeHash(last, last));
      }
      this.appendPerfect(perfect[k] as Uint8Array, 2 ** k);
      left -= 2 ** k;
    }
  }

  /** Appends the root of a perfect subtree of `size` leaves; `count` must be a multiple of `size`. */
  private appendPerfect(subtreeRoot: Uint8Array, leaves: number): void {
    let node = subtreeRoot;
    let size = leaves;
    while (this.sizes.length > 0 && this.sizes[this.sizes.length - 1] === size) {
      node = merkleNodeHash(this.roots.pop() as Uint8Array, node);
      this.sizes.pop();
      size *= 2;
    }
    this.roots.push(node);
    this.sizes.push(size);
    this.count += leaves;
  }

  /** The RFC 6962 root of the leaves appended so far (the empty root when none). */
  root(): Uint8Array {
    const n = this.roots.length;
    if (n === 0) return emptyMerkleRoot();
    let r = this.roots[n - 1] as Uint8Array;
    for (let i = n - 2; i >= 0; i--) r = merkleNodeHash(this.roots[i] as Uint8Array, r);
    return r;
  }

  /** An independent copy (a writer keeps one to roll back a failed batch). */
  clone(): MerkleFrontier {
    return new MerkleFrontier(this.roots.slice(), this.sizes.slice(), this.count);
  }
}
