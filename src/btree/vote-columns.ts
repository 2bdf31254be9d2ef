/**
 * The vote store's memory layout: every stored vote as one slot in parallel typed arrays
 * (`VoteColumns`), validator ids and block hashes interned (`ValidatorIds`, `BlockHashes`), the
 * probe slots that carry a query's range bounds, and the slot orders the indexes sort by.
 * A million votes are rebuilt on every open, so nothing here allocates an object per vote.
 * `compactVotes` rebuilds them holding only the slots kept after an eviction to the cold tier
 * (docs/stores.md, "Bounded history").
 *
 * It must never: check or decode input (callers hand it checked values and decoded fields),
 * know about the log or the write path, or let a probe slot (0, 1) hold a vote.
 */
import type { ImageReader, ImageWriter } from '../codec/image-section.ts';
import { BLOCK_HASH_BYTES, SIGNATURE_BYTES } from '../model/vote.ts';

/** Column slot of a query's lower range bound: holds no vote (see `VoteColumns.probe`). */
export const PROBE_LO = 0;
/** Column slot of a query's upper range bound: holds no vote (see `VoteColumns.probe`). */
export const PROBE_HI = 1;
/** The first slot that holds a vote. */
export const FIRST_SLOT = 2;
/** Type code of a probe below every vote of a round (real codes are 1..3). */
export const TYPE_BELOW = 0;
/** Type code of a probe above every vote of a round (real codes are 1..3). */
export const TYPE_ABOVE = 4;
/** Validator index of probes: the empty id, which sorts before every real id (ids are 1..128 units). */
export const NO_VALIDATOR = 0;
/** Smallest capacity of the columns, in slots. */
const INITIAL_SLOTS = 1024;
/**
 * Most slots reserved up front from the log's record count (~110 bytes each). Untouched
 * capacity costs address space, not resident memory: fresh ArrayBuffers are zero pages.
 */
const MAX_RESERVED_SLOTS = 1 << 24;

const utf8 = new TextEncoder();

/**
 * Every stored vote, one slot each, as parallel typed arrays (columns) instead of one object per
 * vote: a million votes are ~110 bytes each in a dozen large ArrayBuffers, and the indexes are
 * sorted slot lists (B+trees of slots once needed) ordered by comparators that read these
 * columns. Block hashes are interned (`BlockHashes`), validator ids too (`ValidatorIds`); a query
 * builds its `VoteLogEntry` objects from the columns (`VoteStore.entry`).
 *
 * Slots `PROBE_LO` and `PROBE_HI` are scratch: a query writes its range bounds there and hands
 * their slot numbers to the index. Iterators compare against the bound lazily, so a range must
 * be consumed before the next query writes the probes: every range is consumed synchronously
 * (never across an await).
 * @internal the vote store's layout, not part of the public API.
 */
export class VoteColumns {
  /** Slots every column has room for. */
  capacity = 0;
  /** Slots in use, probes included. */
  count = FIRST_SLOT;
  /** LSN of the vote's record. Each column array is replaced when the columns grow: never keep one across an `add`. */
  lsn = new Float64Array(0);
  height = new Float64Array(0);
  /** The vote's own timestamp (ms). */
  timestamp = new Float64Array(0);
  /** When the store recorded it (ms). */
  recordedAt = new Float64Array(0);
  round = new Uint32Array(0);
  /** Vote type code 1..3 (probes: 0 or 4). */
  type = new Uint8Array(0);
  /** Index into `ValidatorIds.names`. */
  validator = new Uint32Array(0);
  /** Index into `BlockHashes`, or -1 for a nil vote. */
  hash = new Int32Array(0);
  /** 64 bytes per slot. */
  signature = new Uint8Array(0);

  /** @param expected - slots to reserve up front (a replay then never copies a column). */
  constructor(expected: number) {
    this.resize(Math.max(INITIAL_SLOTS, Math.min(expected, MAX_RESERVED_SLOTS)));
  }

  /** A fresh slot at the end (the columns double when full). */
  add(): number {
    if (this.count === this.capacity) this.resize(this.capacity * 2);
    return this.count++;
  }

  /**
   * Writes a range bound into probe slot `slot` (`PROBE_LO` or `PROBE_HI`) and returns `slot`.
   * Only the columns the slot orders read are written.
   */
  probe(slot: number, round: number, type: number, validator: number, height: number, lsn: number): number {
    this.round[slot] = round;
    this.type[slot] = type;
    this.validator[slot] = validator;
    this.height[slot] = height;
    this.lsn[slot] = lsn;
    return slot;
  }

  /**
   * Captures slots [0, count) for a local image: the arrays as they are now (a slot is never
   * written again once filled, and growing replaces the arrays, so these stay as captured).
   */
  capture(): (w: ImageWriter) => void {
    const { count, lsn, height, timestamp, recordedAt, round, type, validator, hash, signature } = this;
    return (w) => {
      w.u32(count);
      w.array(lsn, count).array(height, count).array(timestamp, count).array(recordedAt, count);
      w.array(round, count).array(type, count).array(validator, count).array(hash, count);
      w.array(signature, count * SIGNATURE_BYTES);
    };
  }

  /**
   * Loads what `capture` wrote, with room for `spareFor(last LSN)` more slots (the records the
   * log holds after it: a replay of the tail then never copies a column). @throws Error on
   * malformed bytes.
   */
  load(r: ImageReader, maxSlots: number, spareFor: (lastLsn: number) => number): void {
    const count = r.u32();
    if (count < FIRST_SLOT || count > maxSlots) throw new Error(`vote slot count ${count} is out of range`);
    const exact = <A extends Float64Array | Uint32Array | Int32Array | Uint8Array>(read: { array: A; count: number }, n: number): A => {
      if (read.count !== n) throw new Error(`vote column has ${read.count} elements, not ${n}`);
      return read.array;
    };
    const lsns = exact(r.array(Float64Array, count), count);
    const spare = Math.max(0, Math.min(MAX_RESERVED_SLOTS, spareFor(count > FIRST_SLOT ? (lsns[count - 1] as number) : 0)));
    const cap = Math.max(INITIAL_SLOTS, count + spare);
    this.lsn = new Float64Array(cap);
    this.lsn.set(lsns);
    this.height = exact(r.array(Float64Array, count, cap), count);
    this.timestamp = exact(r.array(Float64Array, count, cap), count);
    this.recordedAt = exact(r.array(Float64Array, count, cap), count);
    this.round = exact(r.array(Uint32Array, count, cap), count);
    this.type = exact(r.array(Uint8Array, count, cap), count);
    this.validator = exact(r.array(Uint32Array, count, cap), count);
    this.hash = exact(r.array(Int32Array, count, cap), count);
    this.signature = exact(r.array(Uint8Array, count * SIGNATURE_BYTES, cap * SIGNATURE_BYTES), count * SIGNATURE_BYTES);
    this.capacity = cap;
    this.count = count;
  }

  private resize(n: number): void {
    this.lsn = grown(this.lsn, new Float64Array(n));
    this.height = grown(this.height, new Float64Array(n));
    this.timestamp = grown(this.timestamp, new Float64Array(n));
    this.recordedAt = grown(this.recordedAt, new Float64Array(n));
    this.round = grown(this.round, new Uint32Array(n));
    this.type = grown(this.type, new Uint8Array(n));
    this.validator = grown(this.validator, new Uint32Array(n));
    this.hash = grown(this.hash, new Int32Array(n));
    this.signature = grown(this.signature, new Uint8Array(n * SIGNATURE_BYTES));
    this.capacity = n;
  }
}

function grown<A extends Float64Array | Uint32Array | Int32Array | Uint8Array>(old: A, fresh: A): A {
  fresh.set(old as never);
  return fresh;
}

/** FNV-1a over `len` bytes of `p` from `off`. */
function hashBytes(p: Uint8Array, off: number, len: number): number {
  let h = 0x811c9dc5;
  for (let i = off; i < off + len; i++) h = Math.imul(h ^ (p[i] as number), 0x01000193);
  return h >>> 0;
}

/**
 * Interned validator ids: index -> id, with lookups by string (appends) and by UTF-8 bytes
 * (replay: a known id is found without decoding it; each distinct byte string is decoded and
 * checked once, by the caller). Index 0 is the empty id of the probes.
 * @internal
 */
export class ValidatorIds {
  /** Id of each index; index 0 is the probes' empty id. Callers must not mutate it. */
  readonly names: string[] = [''];
  private readonly byName = new Map<string, number>();
  /** UTF-8 bytes of every id, back to back. */
  private bytes = new Uint8Array(1024);
  private used = 0;
  private readonly starts: number[] = [0];
  private readonly lengths: number[] = [0];
  /** Open addressing over byte hashes: a name index, 0 for an empty bucket. */
  private buckets = new Int32Array(64);

  /** The index of `name`, or -1 when no vote of it is stored. */
  lookup(name: string): number {
    return this.byName.get(name) ?? -1;
  }

  /** The index of `name` (an id already checked), added when new. */
  intern(name: string): number {
    const known = this.byName.get(name);
    if (known !== undefined) return known;
    const encoded = utf8.encode(name);
    return this.add(name, encoded, 0, encoded.length, hashBytes(encoded, 0, encoded.length));
  }

  /** The index of the id whose UTF-8 bytes are `p[off, off + len)`, or -1 when there is none. */
  findBytes(p: Uint8Array, off: number, len: number): number {
    const mask = this.buckets.length - 1;
    for (let b = hashBytes(p, off, len) & mask; ; b = (b + 1) & mask) {
      const idx = this.buckets[b] as number;
      if (idx === 0) return -1;
      if (this.lengths[idx] === len && this.sameBytes(idx, p, off, len)) return idx;
    }
  }

  private sameBytes(idx: number, p: Uint8Array, off: number, len: number): boolean {
    const bytes = this.bytes;
    const start = this.starts[idx] as number;
    for (let i = 0; i < len; i++) if (bytes[start + i] !== p[off + i]) return false;
    return true;
  }

  private add(name: string, p: Uint8Array, off: number, len: number, h: number): number {
    const idx = this.names.length;
    if (this.used + len > this.bytes.length) this.bytes = grown(this.bytes, new Uint8Array(Math.max(this.bytes.length * 2, this.used + len)));
    this.bytes.set(p.subarray(off, off + len), this.used);
    this.names.push(name);
    this.starts.push(this.used);
    this.lengths.push(len);
    this.used += len;
    this.byName.set(name, idx);
    if (idx * 2 > this.buckets.length) this.rehash(this.buckets.length * 2);
    else this.place(idx, h);
    return idx;
  }

  private place(idx: number, h: number): void {
    const mask = this.buckets.length - 1;
    let b = h & mask;
    while (this.buckets[b] !== 0) b = (b + 1) & mask;
    this.buckets[b] = idx;
  }

  private rehash(size: number): void {
    this.buckets = new Int32Array(size);
    for (let idx = 1; idx < this.names.length; idx++) {
      this.place(idx, hashBytes(this.bytes, this.starts[idx] as number, this.lengths[idx] as number));
    }
  }
}

/** Recently seen block hashes looked up before a new one is added (the votes of a round mostly share a few). */
const RECENT_HASHES = 4;

/**
 * Block hashes, 32 bytes each, back to back. A hash equal to one of the last few added is not
 * stored again, so the votes of a round for the same block share one copy; the pool holds at
 * most one hash per vote.
 * @internal
 */
export class BlockHashes {
  /** The hashes, back to back; replaced (not resized in place) when it grows. */
  pool = new Uint8Array(BLOCK_HASH_BYTES * 256);
  private count = 0;
  private readonly recent = new Int32Array(RECENT_HASHES).fill(-1);
  private next = 0;

  /** The index of the hash at `p[off, off + 32)`. */
  intern(p: Uint8Array, off: number): number {
    for (let k = 0; k < RECENT_HASHES; k++) {
      const id = this.recent[k] as number;
      if (id >= 0 && this.equals(id, p, off)) return id;
    }
    if ((this.count + 1) * BLOCK_HASH_BYTES > this.pool.length) this.pool = grown(this.pool, new Uint8Array(this.pool.length * 2));
    const id = this.count++;
    const pool = this.pool;
    const at = id * BLOCK_HASH_BYTES;
    for (let i = 0; i < BLOCK_HASH_BYTES; i++) pool[at + i] = p[off + i] as number;
    this.recent[this.next] = id;
    this.next = (this.next + 1) % RECENT_HASHES;
    return id;
  }

  /** Number of hashes held. */
  get size(): number {
    return this.count;
  }

  /** Captures the hashes held now (the pool is only appended to, and replaced when it grows). */
  capture(): (w: ImageWriter) => void {
    const { pool, count } = this;
    return (w) => {
      w.array(pool, count * BLOCK_HASH_BYTES);
    };
  }

  /** Loads what `capture` wrote. @throws Error on malformed bytes. */
  load(r: ImageReader, maxHashes: number): void {
    const { array, count } = r.array(Uint8Array, maxHashes * BLOCK_HASH_BYTES, BLOCK_HASH_BYTES * 256);
    if (count % BLOCK_HASH_BYTES !== 0) throw new Error(`block hash pool of ${count} bytes is not whole hashes`);
    this.pool = array;
    this.count = count / BLOCK_HASH_BYTES;
    this.recent.fill(-1);
  }

  /** True when hash `id` equals `p[off, off + 32)`. */
  equals(id: number, p: Uint8Array, off: number): boolean {
    const pool = this.pool;
    const at = id * BLOCK_HASH_BYTES;
    for (let i = 0; i < BLOCK_HASH_BYTES; i++) if (pool[at + i] !== p[off + i]) return false;
    return true;
  }

  /** A copy of hash `id`. */
  copy(id: number): Uint8Array {
    return this.pool.slice(id * BLOCK_HASH_BYTES, (id + 1) * BLOCK_HASH_BYTES);
  }
}

/** What `compactVotes` builds: fresh columns, ids and hashes holding only the kept slots. */
export interface CompactedVotes {
  readonly cols: VoteColumns;
  readonly ids: ValidatorIds;
  readonly hashes: BlockHashes;
}

/**
 * Fresh columns holding only `slots` of `cols` (in that order, from `FIRST_SLOT`), with their
 * validator ids and block hashes interned anew: ids and hashes no kept slot references are gone,
 * and the capacity is the kept count plus a quarter (the old arrays are left to the collector).
 * The old columns, ids and hashes are not changed (a captured image or cold capture still reads
 * them).
 */
export function compactVotes(cols: VoteColumns, ids: ValidatorIds, hashes: BlockHashes, slots: ArrayLike<number>): CompactedVotes {
  const kept = slots.length;
  const out = new VoteColumns(FIRST_SLOT + kept + (kept >> 2));
  const newIds = new ValidatorIds();
  const newHashes = new BlockHashes();
  const idMap = new Int32Array(ids.names.length).fill(-1);
  const hashMap = new Int32Array(hashes.size).fill(-1);
  const pool = hashes.pool;
  for (let i = 0; i < kept; i++) {
    const s = slots[i]!;
    const d = out.add();
    out.lsn[d] = cols.lsn[s]!;
    out.height[d] = cols.height[s]!;
    out.timestamp[d] = cols.timestamp[s]!;
    out.recordedAt[d] = cols.recordedAt[s]!;
    out.round[d] = cols.round[s]!;
    out.type[d] = cols.type[s]!;
    const v = cols.validator[s]!;
    if (idMap[v]! < 0) idMap[v] = newIds.intern(ids.names[v]!);
    out.validator[d] = idMap[v]!;
    const h = cols.hash[s]!;
    if (h >= 0 && hashMap[h]! < 0) hashMap[h] = newHashes.intern(pool, h * BLOCK_HASH_BYTES);
    out.hash[d] = h < 0 ? -1 : hashMap[h]!;
    out.signature.set(cols.signature.subarray(s * SIGNATURE_BYTES, (s + 1) * SIGNATURE_BYTES), d * SIGNATURE_BYTES);
  }
  return { cols: out, ids: newIds, hashes: newHashes };
}

/** A total order on slots (probe slots included), read from the columns. */
export type SlotOrder = (a: number, b: number) => number;

function compareLsn(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Slots by (round, type, validator id, LSN); ids compare as strings through `names` (the
 * columns hold their interned indexes). Reads the columns of `c` as they are at call time.
 */
export function roundOrder(c: VoteColumns, names: readonly string[]): SlotOrder {
  return (a, b) => {
    const d = c.round[a]! - c.round[b]! || c.type[a]! - c.type[b]!;
    if (d !== 0) return d;
    const va = c.validator[a]!;
    const vb = c.validator[b]!;
    if (va !== vb) return names[va]! < names[vb]! ? -1 : 1;
    return compareLsn(c.lsn[a]!, c.lsn[b]!);
  };
}

/** Slots of one validator by (round, type, LSN). */
export function roundInValidatorOrder(c: VoteColumns): SlotOrder {
  return (a, b) => {
    const d = c.round[a]! - c.round[b]! || c.type[a]! - c.type[b]!;
    return d !== 0 ? d : compareLsn(c.lsn[a]!, c.lsn[b]!);
  };
}

/** Slots by (height, LSN). */
export function heightOrder(c: VoteColumns): SlotOrder {
  return (a, b) => compareLsn(c.height[a]!, c.height[b]!) || compareLsn(c.lsn[a]!, c.lsn[b]!);
}

/** Slots by LSN. */
export function lsnOrder(c: VoteColumns): SlotOrder {
  return (a, b) => compareLsn(c.lsn[a]!, c.lsn[b]!);
}
