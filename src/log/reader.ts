/**
 * Reading the log: `get` by LSN through the index, `scan` in LSN order with big sequential
 * reads, and the small cache of open segment files they share.
 *
 * A release (release.ts) takes old segments out of the index and then unlinks them: a read
 * that started before (a `scan` walks the segments the index held when it started) is waited
 * for (`retire`) before their files go.
 *
 * This file must never return a record whose checksum, header or LSN fails (D4: CORRUPTION
 * naming file and offset), never read beyond what the index holds (the index holds only durable
 * records), and never write.
 */
import {
  COMMIT_KIND,
  HeaderStatus,
  RECORD_HEADER_BYTES,
  checkRecordHeader,
  recordCrcMatches,
  recordKind,
  recordLength,
  recordLsn,
  recordSpan,
} from '../codec/framing.ts';
import { corruption } from '../errors.ts';
import type { FileHandle, FileSystem } from '../io/types.ts';
import { ChunkReader, DEFAULT_CHUNK_BYTES } from './chunk-reader.ts';
import { FILLER_KIND } from './filler.ts';
import { findSegmentIn, type LsnIndex, type SegmentEntry } from './lsn-index.ts';
import type { LogRecord, Lsn } from './types.ts';

/** First read of a `get`: enough for the header and a typical record. */
const GET_FIRST_READ = 512;

interface CachedHandle {
  readonly handle: Promise<FileHandle>;
  refs: number;
  /** The writer's handle: never closed by the cache. */
  pinned: boolean;
}

/** Reads records from the segments the index knows. */
export class SegmentReader {
  readonly #fs: FileSystem;
  readonly #index: LsnIndex;
  readonly #maxOpen: number;
  /** Open handles by segment id, least recently used first. */
  readonly #handles = new Map<number, CachedHandle>();
  /** Reads in progress (`retire` waits for those that started before it). */
  readonly #reads = new Set<Promise<unknown>>();

  /**
   * @param maxOpen - most unpinned handles kept open when idle.
   */
  constructor(fs: FileSystem, index: LsnIndex, maxOpen: number) {
    this.#fs = fs;
    this.#index = index;
    this.#maxOpen = maxOpen;
  }

  /** Lets reads of segment `id` use the writer's handle (pinned until `unpin`). */
  pin(id: number, handle: FileHandle): void {
    this.#handles.set(id, { handle: Promise.resolve(handle), refs: 0, pinned: true });
  }

  /** The writer moved on: the handle of `id` becomes an ordinary cached handle. */
  unpin(id: number): void {
    const cached = this.#handles.get(id);
    if (cached !== undefined) cached.pinned = false;
    this.#evict();
  }

  /**
   * The durable record `lsn`, or undefined when there is none.
   *
   * @throws ConsensusStoreError CORRUPTION when its bytes fail their checks; errno errors.
   */
  get(lsn: number): Promise<LogRecord | undefined> {
    return this.#track(this.#get(lsn));
  }

  async #get(lsn: number): Promise<LogRecord | undefined> {
    const at = this.#index.findSegment(lsn);
    if (at < 0) return undefined;
    const seg = this.#index.segments[at]!;
    const offset = seg.offsetOf(lsn);
    const handle = await this.#acquire(seg);
    try {
      const left = seg.capacity - offset;
      let buf = new Uint8Array(Math.min(GET_FIRST_READ, left));
      await readFully(handle, buf, offset);
      if (buf.length < RECORD_HEADER_BYTES || checkRecordHeader(buf, 0, left) !== HeaderStatus.Ok) {
        throw corruption(seg.path, offset, `record ${lsn}: header invalid`);
      }
      const span = recordSpan(recordLength(buf, 0));
      if (span > buf.length) {
        const whole = new Uint8Array(span);
        whole.set(buf);
        await readFully(handle, whole.subarray(buf.length), offset + buf.length);
        buf = whole;
      }
      checkRecord(buf, 0, lsn, seg, offset);
      // A filler record (a repair's gap, filler.ts) holds no record: the LSN reads as absent.
      if (recordKind(buf, 0) === FILLER_KIND) return undefined;
      return { lsn: lsn as Lsn, kind: recordKind(buf, 0), payload: buf.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + recordLength(buf, 0)) };
    } finally {
      this.#release(seg.id);
    }
  }

  /**
   * Visits every durable record from `from` to the last one durable when the scan started.
   *
   * @throws ConsensusStoreError CORRUPTION on a record that fails its checks; whatever `visit` throws.
   */
  scan(visit: (record: LogRecord) => boolean | void, from: number): Promise<void> {
    return this.#track(this.#scan(visit, from));
  }

  async #scan(visit: (record: LogRecord) => boolean | void, from: number): Promise<void> {
    // The segments as they are now: a release that takes some out of the index meanwhile waits
    // for this scan (`retire`) before it unlinks them.
    const segments = this.#index.segments.slice();
    const end = this.#index.nextLsn;
    let lsn = Math.max(from, this.#index.firstLsn);
    while (lsn < end) {
      const at = findSegmentIn(segments, lsn);
      if (at < 0) return;
      const seg = segments[at]!;
      const segEnd = Math.min(end, seg.nextLsn);
      const handle = await this.#acquire(seg);
      try {
        const stopped = await scanSegment(handle, seg, lsn, segEnd, visit);
        if (stopped) return;
      } finally {
        this.#release(seg.id);
      }
      lsn = segEnd;
    }
  }

  /**
   * The segments `ids` have left the index (a release): waits for every read that started
   * before this call, then closes their cached handles, so that their files can be unlinked.
   */
  async retire(ids: readonly number[]): Promise<void> {
    await Promise.allSettled([...this.#reads]);
    for (const id of ids) {
      const cached = this.#handles.get(id);
      if (cached === undefined || cached.pinned) continue;
      this.#handles.delete(id);
      await cached.handle.then((h) => h.close()).catch(() => undefined);
    }
  }

  #track<T>(read: Promise<T>): Promise<T> {
    this.#reads.add(read);
    const done = (): void => void this.#reads.delete(read);
    read.then(done, done);
    return read;
  }

  /** Closes every handle the cache opened (not the pinned writer's handle). */
  async close(): Promise<void> {
    const entries = [...this.#handles.values()];
    this.#handles.clear();
    for (const cached of entries) {
      if (!cached.pinned) await (await cached.handle).close().catch(() => undefined);
    }
  }

  async #acquire(seg: SegmentEntry): Promise<FileHandle> {
    let cached = this.#handles.get(seg.id);
    if (cached === undefined) {
      cached = { handle: this.#fs.open(seg.path, 'read'), refs: 0, pinned: false };
      this.#handles.set(seg.id, cached);
    } else {
      this.#handles.delete(seg.id);
      this.#handles.set(seg.id, cached);
    }
    cached.refs++;
    try {
      return await cached.handle;
    } catch (err) {
      cached.refs--;
      if (this.#handles.get(seg.id) === cached) this.#handles.delete(seg.id);
      throw err;
    }
  }

  #release(id: number): void {
    const cached = this.#handles.get(id);
    if (cached !== undefined) cached.refs--;
    this.#evict();
  }

  #evict(): void {
    if (this.#handles.size <= this.#maxOpen) return;
    for (const [id, cached] of this.#handles) {
      if (this.#handles.size <= this.#maxOpen) break;
      if (cached.pinned || cached.refs > 0) continue;
      this.#handles.delete(id);
      void cached.handle.then((h) => h.close()).catch(() => undefined);
    }
  }
}

/** Checks CRC and LSN of the record at `bytes[i]` (whole record in memory). */
function checkRecord(bytes: Uint8Array, i: number, lsn: number, seg: SegmentEntry, offset: number): void {
  if (!recordCrcMatches(bytes, i)) throw corruption(seg.path, offset, `record ${lsn}: checksum mismatch`);
  if (recordLsn(bytes, i) !== lsn || recordKind(bytes, i) === COMMIT_KIND) {
    throw corruption(seg.path, offset, `record ${lsn}: found LSN ${recordLsn(bytes, i)} kind ${recordKind(bytes, i)}`);
  }
}

/** Scans records `[lsn, end)` of one segment; resolves true when `visit` asked to stop. */
async function scanSegment(
  handle: FileHandle,
  seg: SegmentEntry,
  first: number,
  end: number,
  visit: (record: LogRecord) => boolean | void,
): Promise<boolean> {
  const reader = new ChunkReader(handle, seg.capacity, DEFAULT_CHUNK_BYTES);
  let pos = seg.offsetOf(first);
  let lsn = first;
  while (lsn < end) {
    if (!reader.has(pos, RECORD_HEADER_BYTES) && !(await reader.ensure(pos, RECORD_HEADER_BYTES))) {
      throw corruption(seg.path, pos, `record ${lsn}: runs past the segment end`);
    }
    let i = pos - reader.start;
    if (checkRecordHeader(reader.bytes, i, seg.capacity - pos) !== HeaderStatus.Ok) {
      throw corruption(seg.path, pos, `record ${lsn}: header invalid`);
    }
    const length = recordLength(reader.bytes, i);
    const span = recordSpan(length);
    if (!reader.has(pos, span)) {
      await reader.ensure(pos, span);
      i = pos - reader.start;
    }
    const bytes = reader.bytes;
    if (bytes[i + 8] === COMMIT_KIND) {
      if (!recordCrcMatches(bytes, i)) throw corruption(seg.path, pos, 'commit marker checksum mismatch');
      pos += span;
      continue;
    }
    checkRecord(bytes, i, lsn, seg, pos);
    if (bytes[i + 8] === FILLER_KIND) {
      // A repair's gap (filler.ts): the LSN holds no record; stores never see it.
      lsn++;
      pos += span;
      continue;
    }
    const payload = bytes.subarray(i + RECORD_HEADER_BYTES, i + RECORD_HEADER_BYTES + length);
    if (visit({ lsn: lsn as Lsn, kind: bytes[i + 8]!, payload }) === false) return true;
    lsn++;
    pos += span;
  }
  return false;
}

async function readFully(handle: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  let got = 0;
  while (got < buf.length) {
    const n = await handle.read(buf, position + got, got, buf.length - got);
    if (n === 0) break;
    got += n;
  }
  buf.fill(0, got);
}
