/**
 * The audit log's in-memory indexes (docs/audit.md): every hot entry by LSN, by the height and
 * the validator it concerns, and by time, plus the leaf hashes of the chain's Merkle tree in
 * sequence order from `leafBase` on (the dispute bundles' proofs are built from them; the leaves
 * below `leafBase` belong to entries in the cold tier: docs/audit.md, "What lives where").
 * Filled on replay and once a batch is durable; read by the queries, which are bounded by the
 * caller's limit. An eviction builds a new index (`hotAbove`) and leaves this one unchanged, so
 * that an image capture holding it still writes what it captured.
 *
 * It must never do I/O, and never hold an entry whose batch is not durable (callers add only
 * durable entries).
 */
import { BTree } from '../btree/btree.ts';
import { compareNumbers, compareStrings, tupleComparator } from '../btree/keys.ts';
import { HASH_BYTES } from '../codec/merkle.ts';
import type { Lsn } from '../log/types.ts';
import { heightOfEvent, validatorOfEvent } from '../codec/audit-event.ts';
import type { AuditEvent } from '../model/audit.ts';
import { MAX_SAFE } from '../model/check.ts';

/** A LogEntry as kept in the indexes; its head fields are filled when the head record is applied. */
export interface MutableEntry {
  id: Lsn;
  sequence: number;
  event: AuditEvent;
  timestamp: number;
  height?: number;
  validatorId?: string;
  prevHash: Uint8Array;
  hash: Uint8Array;
  signature: Uint8Array | null;
  signedHeadId: Lsn | null;
}

/** An indexed entry for an event (its height and validator taken from the event). */
export function makeEntry(id: Lsn, sequence: number, event: AuditEvent, timestamp: number, prevHash: Uint8Array, hash: Uint8Array): MutableEntry {
  const entry: MutableEntry = { id, sequence, event, timestamp, prevHash, hash, signature: null, signedHeadId: null };
  const height = heightOfEvent(event);
  const validatorId = validatorOfEvent(event);
  if (height !== undefined) entry.height = height;
  if (validatorId !== undefined) entry.validatorId = validatorId;
  return entry;
}

type HeightKey = readonly [number, number?];
type ValidatorKey = readonly [string, number?];

/** The indexes (see the file comment). */
export class AuditIndex {
  readonly #byLsn = new BTree<number, MutableEntry>(compareNumbers);
  readonly #byHeight = new BTree<HeightKey, MutableEntry>(tupleComparator(compareNumbers, compareNumbers));
  readonly #byValidator = new BTree<ValidatorKey, MutableEntry>(tupleComparator(compareStrings, compareNumbers));
  readonly #byTime = new BTree<HeightKey, MutableEntry>(tupleComparator(compareNumbers, compareNumbers));
  /** Leaf hash of entry `leafBase + i` at `[i * 32, i * 32 + 32)`. */
  #leafHashes: Uint8Array = new Uint8Array(32 * 1024);
  /** The sequence of the first leaf held (the entries below it are cold). */
  #leafBase = 0;

  /** Number of entries. */
  get size(): number {
    return this.#byLsn.size;
  }

  /** The chain's leaf hashes in sequence order from `leafBase` (a view: the buffer may be longer). */
  get leafHashes(): Uint8Array {
    return this.#leafHashes;
  }

  /** The sequence of the first leaf `leafHashes` holds. */
  get leafBase(): number {
    return this.#leafBase;
  }

  /**
   * Moves `leafBase` to `base` on an index that holds no entry (replay of a cold entry: its leaf
   * is the cold tier's, and the next hot entry's leaf goes first).
   */
  skipLeavesBelow(base: number): void {
    if (this.#byLsn.size !== 0) throw new Error(`audit index: leaves skipped below ${base} with ${this.#byLsn.size} entries held`);
    this.#leafBase = base;
  }

  /**
   * A new index of the entries above `lsn`, with their leaf hashes; `tipSequence` is the
   * chain's next sequence (the leaf base when no entry is left). This index is not changed.
   */
  hotAbove(lsn: number, tipSequence: number): AuditIndex {
    const out = new AuditIndex();
    const kept: MutableEntry[] = [];
    for (const entry of this.#byLsn.values(lsn + 1)) kept.push(entry);
    for (const entry of kept) out.add(entry);
    const base = kept[0]?.sequence ?? tipSequence;
    const from = Math.max(0, base - this.#leafBase) * HASH_BYTES;
    const to = Math.min(this.#leafHashes.length, from + kept.length * HASH_BYTES);
    out.restoreLeafHashes(withRoom(this.#leafHashes.subarray(Math.min(from, to), to)), base);
    return out;
  }

  /**
   * Adds a durable entry and its leaf hash (none when loading an image: `restoreLeafHashes`
   * follows). A leaf hash below the newest is only ever overwritten by a damaged chain
   * (a repeated sequence); the buffer is copied first, so that a captured image that holds the
   * buffer by reference keeps what it captured.
   */
  add(entry: MutableEntry, leafHash?: Uint8Array): void {
    this.#byLsn.set(entry.id, entry);
    if (entry.height !== undefined) this.#byHeight.set([entry.height, entry.id], entry);
    if (entry.validatorId !== undefined) this.#byValidator.set([entry.validatorId, entry.id], entry);
    this.#byTime.set([entry.timestamp, entry.id], entry);
    if (leafHash === undefined) return;
    const relative = entry.sequence - this.#leafBase;
    const at = relative * HASH_BYTES;
    if (relative >= 0 && relative < this.#byLsn.size) {
      if (relative < this.#byLsn.size - 1) this.#leafHashes = this.#leafHashes.slice();
      if (at + HASH_BYTES > this.#leafHashes.length) {
        const bigger = new Uint8Array(this.#leafHashes.length * 2);
        bigger.set(this.#leafHashes);
        this.#leafHashes = bigger;
      }
      this.#leafHashes.set(leafHash, at);
    }
  }

  /**
   * Replaces the leaf hashes with `bytes` (an image's; the buffer is kept, so it should have
   * room to grow), the first of them the leaf of sequence `base`.
   */
  restoreLeafHashes(bytes: Uint8Array, base = 0): void {
    this.#leafHashes = bytes;
    this.#leafBase = base;
  }

  /** The first `count` entries by LSN (entries are only ever added after the newest). */
  *firstEntries(count: number): Generator<MutableEntry> {
    if (count === 0) return;
    let n = 0;
    for (const entry of this.#byLsn.values()) {
      yield entry;
      if (++n >= count) return;
    }
  }

  /** Entries by LSN. */
  all(): Iterable<MutableEntry> {
    return this.#byLsn.values();
  }

  /** Entries that concern a height in `[from, to]`, by (height, id). */
  byHeight(from: number, to: number, descending = false): Iterable<MutableEntry> {
    return descending ? reversed(this.#byHeight, [to + 1], [from]) : this.#byHeight.values([from], [to + 1]);
  }

  /** Entries that concern `validatorId`, by id. */
  byValidator(validatorId: string, descending = false): Iterable<MutableEntry> {
    const hi: ValidatorKey = [validatorId, MAX_SAFE + 1];
    return descending ? reversed(this.#byValidator, hi, [validatorId]) : this.#byValidator.values([validatorId], hi);
  }

  /** Entries logged in `[lo, hi]` (ms), by (timestamp, id). */
  byTime(lo: number, hi: number, descending = false): Iterable<MutableEntry> {
    return descending ? reversed(this.#byTime, [hi + 1], [lo]) : this.#byTime.values([lo], [hi + 1]);
  }
}

/** `bytes` copied into a buffer with room to grow (at least 32 KiB, twice what it holds). */
export function withRoom(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.max(32 * 1024, bytes.length * 2));
  out.set(bytes);
  return out;
}

function* reversed<K, V>(tree: BTree<K, V>, hi: K, lo: K): Generator<V> {
  for (const [, value] of tree.entriesReversed(hi, lo)) yield value;
}

/** At most `limit` values of `it`, in order. */
export function take<T>(it: Iterable<T>, limit: number): T[] {
  const out: T[] = [];
  for (const v of it) {
    if (out.length >= limit) break;
    out.push(v);
  }
  return out;
}
