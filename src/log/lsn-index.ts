/**
 * The in-memory index from LSN to (segment, offset) behind `get` and `scan`: per segment, its
 * first LSN and a growable `Uint32Array` of record offsets (4 bytes per record).
 *
 * This file must never hold a record that is not durable: the open-time walk adds a batch only
 * once its commit marker checked out, and the writer adds a batch only after its write (and
 * fdatasync) resolved. Segments leave it only from the front, by a release (release.ts). It
 * does no I/O.
 */

const INITIAL_OFFSETS = 1024;

/** One segment's part of the index. */
export class SegmentEntry {
  /** Segment id (file name). */
  readonly id: number;
  /** Path of the segment file. */
  readonly path: string;
  /** Bytes of the segment file. */
  readonly capacity: number;
  /** LSN of the first record (for an empty segment: the LSN its first record will get). */
  firstLsn: number;
  /** Durable records in the index. */
  count = 0;
  /** Offset just past the last durable batch (0 while the segment holds none). */
  endOffset = 0;
  #offsets: Uint32Array;

  constructor(id: number, path: string, capacity: number, firstLsn: number) {
    this.id = id;
    this.path = path;
    this.capacity = capacity;
    this.firstLsn = firstLsn;
    this.#offsets = new Uint32Array(INITIAL_OFFSETS);
  }

  /** LSN after the segment's last durable record. */
  get nextLsn(): number {
    return this.firstLsn + this.count;
  }

  /** Appends the offset of the next record. */
  push(offset: number): void {
    if (this.count === this.#offsets.length) {
      const grown = new Uint32Array(this.#offsets.length * 2);
      grown.set(this.#offsets);
      this.#offsets = grown;
    }
    this.#offsets[this.count++] = offset;
  }

  /** Forgets every record from the `count`-th on (a batch that did not commit). */
  truncate(count: number): void {
    this.count = Math.min(this.count, count);
  }

  /** Offset of record `lsn`; the caller checked `firstLsn <= lsn < nextLsn`. */
  offsetOf(lsn: number): number {
    return this.#offsets[lsn - this.firstLsn]!;
  }
}

/** Every segment's entry, oldest first, LSNs consecutive across them. */
export class LsnIndex {
  readonly segments: SegmentEntry[] = [];
  readonly #emptyLsn: number;

  /** @param emptyLsn - the first and next LSN while no segment is indexed. */
  constructor(emptyLsn: number) {
    this.#emptyLsn = emptyLsn;
  }

  /** Adds the next segment. */
  add(entry: SegmentEntry): void {
    this.segments.push(entry);
  }

  /** LSN of the first durable record (or the next LSN when the log is empty). */
  get firstLsn(): number {
    const first = this.segments[0];
    return first === undefined ? this.#emptyLsn : first.firstLsn;
  }

  /** LSN after the last durable record. */
  get nextLsn(): number {
    const last = this.segments[this.segments.length - 1];
    return last === undefined ? this.#emptyLsn : last.nextLsn;
  }

  /** Position in `segments` of the segment holding durable record `lsn`, or -1. */
  findSegment(lsn: number): number {
    return findSegmentIn(this.segments, lsn);
  }

  /**
   * Takes every segment with an id below `id` out of the index (a release, release.ts); the
   * last segment always stays. Returns the entries taken out, oldest first.
   */
  dropBefore(id: number): SegmentEntry[] {
    let n = 0;
    while (n < this.segments.length - 1 && this.segments[n]!.id < id) n++;
    return this.segments.splice(0, n);
  }
}

/** Position in `segments` (oldest first, LSNs consecutive) of the one holding record `lsn`, or -1. */
export function findSegmentIn(segments: readonly SegmentEntry[], lsn: number): number {
  let lo = 0;
  let hi = segments.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const seg = segments[mid]!;
    if (lsn < seg.firstLsn) hi = mid - 1;
    else if (lsn >= seg.nextLsn) lo = mid + 1;
    else return mid;
  }
  return -1;
}
