/**
 * The audit log's in-memory indexes (docs/audit.md): every entry by LSN, by the height and the
 * validator it concerns, and by time, plus the leaf hashes of the chain's Merkle tree in sequence
 * order (the dispute bundles' proofs are built from them). Filled on replay and once a batch is
 * durable; read by the queries, which are bounded by the caller's limit.
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
  /** Leaf hash of entry `i` at `[i * 32, i * 32 + 32)`. */
  #leafHashes: Uint8Array = new Uint8Array(32 * 1024);

  /** Number of entries. */
  get size(): number {
    return this.#byLsn.size;
  }

  /** The chain's leaf hashes in sequence order (a view: the buffer may be longer). */
  get leafHashes(): Uint8Array {
    return this.#leafHashes;
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
    const at = entry.sequence * HASH_BYTES;
    if (entry.sequence < this.#byLsn.size) {
      if (entry.sequence < this.#byLsn.size - 1) this.#leafHashes = this.#leafHashes.slice();
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
   * room to grow).
   */
  restoreLeafHashes(bytes: Uint8Array): void {
    this.#leafHashes = bytes;
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
