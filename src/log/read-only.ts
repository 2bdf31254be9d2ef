/**
 * A read-only open of a data directory's log, for the operator's tools (`cstore inspect`,
 * `verify`, `export`, `sign-state show`): it takes no lock, creates, truncates, zeroes and
 * fsyncs nothing, and works on a live node's directory while its writer appends.
 *
 * What it reads: the MANIFEST (written atomically by rename: the old or the new one, whole),
 * the sealed segments it names (checked against it as the writable open does), and the newest
 * segment up to its last complete committed batch. The LSN it saw (`seenLsn`) is the last
 * record of that batch; data after it may still be in flight on a live node. Every segment it
 * indexed stays open (pinned) until `close`, so a file removed under it meanwhile is still read
 * whole; a file removed between the manifest read and its open makes it read the manifest
 * again (a few times) before it says CORRUPTION.
 *
 * The newest segment's end is judged like the writable open judges it (docs/durability.md,
 * D5): a torn or in-flight batch is left unread (`tail.unreadBytes`); what the node's own open
 * would refuse as damage is CORRUPTION here too, but only once a second walk, a moment later,
 * stops at the same place: a live writer that completed its batch in between moves the end
 * forward, and then nothing was damaged.
 *
 * This file must never write, never take the lock, and never index a batch whose commit marker
 * it has not checked.
 */
import { join } from 'node:path';
import { corruption, ConsensusStoreError } from '../errors.ts';
import { errnoOf, type FileHandle, type FileSystem } from '../io/types.ts';
import { DEFAULT_CHUNK_BYTES } from './chunk-reader.ts';
import { LsnIndex, SegmentEntry } from './lsn-index.ts';
import { firstUnsealedId, nextLsnAfterSealed, readManifest, MANIFEST_NAME, type Manifest } from './manifest.ts';
import { WAL_DIR_NAME } from './open.ts';
import { SegmentReader } from './reader.ts';
import { reportOf } from './repair.ts';
import { segmentPath } from './segment-file.ts';
import { walkSegment, type WalkResult } from './segment-walk.ts';
import { inspectTail, wholeBatchDamaged } from './tail-repair.ts';
import type { Log, LogRecord, Lsn, OpenReport, RecordInput } from './types.ts';

/** Options of `openReadOnlyLog`. */
export interface ReadOnlyLogOptions {
  /** The data directory (holds MANIFEST and wal/); never created. */
  readonly dir: string;
  /** The file system; default the real one. */
  readonly fs?: FileSystem;
  /** Times the manifest is read again when a file it names vanished, or the end moved; default 8. */
  readonly retries?: number;
  /** Wait before a second look at a suspected damage, in ms; default 50. */
  readonly settleMs?: number;
  /** Largest batch the writer writes (for the rot-or-tear rule); default 4 MiB, the log's default. */
  readonly maxBatchBytes?: number;
}

/** What the read-only open saw at the end of the newest segment. */
export interface ReadOnlyTail {
  /** The newest segment's id. */
  readonly segmentId: number;
  /** Offset just past its last complete committed batch. */
  readonly committedEnd: number;
  /** Non-zero bytes after it: a batch in flight on a live node, or a torn tail its next open cuts. */
  readonly unreadBytes: number;
  /** True when the end moved between two looks: a writer is appending. */
  readonly writerActive: boolean;
}

/** A log opened read-only: the `Log` interface (every write rejects) plus what it saw. */
export interface ReadOnlyLog extends Log {
  /** The last LSN read (0 when the log holds no record). */
  readonly seenLsn: number;
  readonly firstLsn: number;
  readonly tail: ReadOnlyTail | undefined;
  /** The manifest generation it read. */
  readonly manifestGeneration: number;
  /** The segments it indexed: id, path, first LSN, records, bytes used. */
  readonly segments: readonly { readonly id: number; readonly path: string; readonly firstLsn: number; readonly records: number; readonly endOffset: number; readonly capacity: number; readonly sealed: boolean }[];
}

const DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024;
const TAIL_CHUNK_BYTES = 8 * 1024 * 1024;

/**
 * Opens the log of `options.dir` read-only (see the file comment).
 * @throws ConsensusStoreError NOT_FOUND (no MANIFEST or no wal/), CORRUPTION (file and offset),
 *   UNSUPPORTED_FORMAT; the file system's errno errors.
 */
export async function openReadOnlyLog(options: ReadOnlyLogOptions): Promise<ReadOnlyLog> {
  const fs = options.fs ?? (await import('../io/real-fs.ts')).defaultFileSystem();
  const retries = options.retries ?? 8;
  const started = performance.now();
  for (let attempt = 0; ; attempt++) {
    const opener = new ReadOnlyOpen(fs, options);
    try {
      const log = await opener.run(attempt >= retries);
      if (log !== 'retry') {
        log.durationMs = performance.now() - started;
        return log;
      }
    } catch (err) {
      await opener.closeAll();
      throw err;
    }
    await opener.closeAll();
    await sleep(options.settleMs ?? 50);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class ReadOnlyOpen {
  readonly #fs: FileSystem;
  readonly #options: ReadOnlyLogOptions;
  readonly #walDir: string;
  readonly #handles = new Map<number, FileHandle>();
  #records = 0;
  #batches = 0;

  constructor(fs: FileSystem, options: ReadOnlyLogOptions) {
    this.#fs = fs;
    this.#options = options;
    this.#walDir = join(options.dir, WAL_DIR_NAME);
  }

  async closeAll(): Promise<void> {
    for (const h of this.#handles.values()) await h.close().catch(() => undefined);
    this.#handles.clear();
  }

  /** One attempt; 'retry' when a file vanished or the end moved under it and `last` is false. */
  async run(last: boolean): Promise<ReadOnlyLogImpl | 'retry'> {
    const fs = this.#fs;
    const dir = this.#options.dir;
    if ((await fs.stat(this.#walDir)) === undefined) {
      throw new ConsensusStoreError('NOT_FOUND', `${dir} is not a consensus-store data directory (no wal/)`);
    }
    const manifest = await readManifest(fs, dir);
    if (manifest === undefined) throw new ConsensusStoreError('NOT_FOUND', `${dir} holds no ${MANIFEST_NAME}`);
    const index = new LsnIndex(manifest.baseLsn);
    const segments: ReadOnlyLogImpl['segments'][number][] = [];
    for (const sealed of manifest.sealed) {
      const handle = await this.#open(sealed.id);
      if (handle === undefined) {
        if (!last) return 'retry';
        throw corruption(segmentPath(this.#walDir, sealed.id), 0, 'segment named by the manifest is missing');
      }
      const capacity = await handle.size();
      const entry = new SegmentEntry(sealed.id, segmentPath(this.#walDir, sealed.id), capacity, sealed.firstLsn);
      const result = await walkSegment({ handle, entry, limit: Math.min(sealed.endOffset, capacity), verifyCrc: false, chunkBytes: DEFAULT_CHUNK_BYTES });
      const problem = sealedProblem(result, sealed);
      if (problem !== undefined) throw corruption(entry.path, problem.offset, problem.problem);
      this.#count(result);
      index.add(entry);
      segments.push({ id: entry.id, path: entry.path, firstLsn: entry.firstLsn, records: entry.count, endOffset: entry.endOffset, capacity, sealed: true });
    }
    const tailId = firstUnsealedId(manifest);
    const tailHandle = await this.#open(tailId);
    let tail: ReadOnlyTail | undefined;
    if (tailHandle === undefined) {
      // The very first manifest exists before segment 1 is created: an empty log.
      if (!(manifest.generation === 1 && manifest.sealed.length === 0)) {
        if (!last) return 'retry';
        throw corruption(segmentPath(this.#walDir, tailId), 0, 'the newest segment is missing');
      }
    } else {
      const judged = await this.#judgeTail(manifest, tailId, tailHandle);
      if (judged === 'retry') {
        if (!last) return 'retry';
        throw new ConsensusStoreError('IO_FAILED', `the end of ${segmentPath(this.#walDir, tailId)} kept changing: retry`);
      }
      this.#count(judged.result);
      index.add(judged.entry);
      tail = judged.tail;
      segments.push({ id: tailId, path: judged.entry.path, firstLsn: judged.entry.firstLsn, records: judged.entry.count, endOffset: judged.entry.endOffset, capacity: judged.entry.capacity, sealed: false });
    }
    const handles = new Map(this.#handles);
    this.#handles.clear();
    return new ReadOnlyLogImpl(fs, index, handles, {
      segmentsScanned: segments.length,
      recordsScanned: this.#records,
      batchesScanned: this.#batches,
      tornBytesCut: 0,
      pendingRepairs: manifest.pendingRepairs.map((p) => reportOf(p, this.#walDir)),
      durationMs: 0,
    }, tail, manifest.generation, segments);
  }

  #count(result: WalkResult): void {
    this.#records += result.records;
    this.#batches += result.batches;
  }

  async #open(id: number): Promise<FileHandle | undefined> {
    try {
      const handle = await this.#fs.open(segmentPath(this.#walDir, id), 'read');
      this.#handles.set(id, handle);
      return handle;
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  async #walkTail(manifest: Manifest, tailId: number, handle: FileHandle): Promise<{ entry: SegmentEntry; result: WalkResult }> {
    const capacity = await handle.size();
    const entry = new SegmentEntry(tailId, segmentPath(this.#walDir, tailId), capacity, nextLsnAfterSealed(manifest));
    const clean = manifest.cleanEnd?.segmentId === tailId ? manifest.cleanEnd : undefined;
    const result = await walkSegment({ handle, entry, limit: capacity, verifyCrc: true, chunkBytes: DEFAULT_CHUNK_BYTES, mark: clean?.endOffset });
    return { entry, result };
  }

  /** Walks the newest segment and decides what its end means (see the file comment). */
  async #judgeTail(manifest: Manifest, tailId: number, handle: FileHandle): Promise<{ entry: SegmentEntry; result: WalkResult; tail: ReadOnlyTail } | 'retry'> {
    let walk = await this.#walkTail(manifest, tailId, handle);
    let writerActive = false;
    for (let look = 0; look < 16; look++) {
      const { entry, result } = walk;
      const verdict = await this.#tailDamage(manifest, entry, result, handle);
      if (verdict.damage === undefined) {
        return { entry, result, tail: { segmentId: tailId, committedEnd: result.endOffset, unreadBytes: verdict.unreadBytes, writerActive } };
      }
      await sleep(this.#options.settleMs ?? 50);
      const again = await this.#walkTail(manifest, tailId, handle);
      if (again.result.endOffset === result.endOffset && again.result.nextLsn === result.nextLsn) {
        throw corruption(entry.path, verdict.damage.offset, verdict.damage.problem);
      }
      // The end moved: a writer completed a batch. Judge the new end.
      writerActive = true;
      walk = again;
    }
    // A writer keeps appending: what it acknowledged is whole up to the newest end seen.
    if (walk.result.damage !== undefined && !walk.result.damage.tearable) return 'retry';
    return { entry: walk.entry, result: walk.result, tail: { segmentId: tailId, committedEnd: walk.result.endOffset, unreadBytes: 0, writerActive: true } };
  }

  /** Damage the writable open would refuse at this end, and the non-zero bytes after it. */
  async #tailDamage(manifest: Manifest, entry: SegmentEntry, result: WalkResult, handle: FileHandle): Promise<{ damage: { offset: number; problem: string } | undefined; unreadBytes: number }> {
    const clean = manifest.cleanEnd?.segmentId === entry.id ? manifest.cleanEnd : undefined;
    if (clean !== undefined) {
      const at = result.atMark;
      if (at === undefined || at.nextLsn !== clean.lastLsn + 1 || at.digest !== clean.digest) {
        const offset = result.damage?.offset ?? Math.min(result.endOffset, clean.endOffset);
        return { damage: { offset, problem: `${result.damage?.problem ?? 'committed data ends early'}, inside what the last clean close recorded as acknowledged (up to offset ${clean.endOffset}, LSN ${clean.lastLsn})` }, unreadBytes: 0 };
      }
    }
    if (result.damage !== undefined && !result.damage.tearable) return { damage: result.damage, unreadBytes: 0 };
    const cut = result.endOffset;
    const inspection = await inspectTail(handle, entry.capacity, cut, result.nextLsn, TAIL_CHUNK_BYTES);
    if (inspection.laterMarkerAt !== undefined) {
      return { damage: { offset: result.damage?.offset ?? cut, problem: `${result.damage?.problem ?? 'unwritten gap'} before a committed batch at offset ${inspection.laterMarkerAt}` }, unreadBytes: 0 };
    }
    const firstBad = result.damage?.offset ?? cut;
    const maxBatch = this.#options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    if (inspection.nonZeroEnd > cut && (await wholeBatchDamaged(handle, entry.capacity, cut, result.nextLsn, firstBad, inspection.nonZeroEnd, maxBatch))) {
      return { damage: { offset: firstBad, problem: `${result.damage?.problem ?? 'unwritten record header'} in a batch whose commit marker was written (damage, not a torn write)` }, unreadBytes: 0 };
    }
    return { damage: undefined, unreadBytes: Math.max(0, inspection.nonZeroEnd - cut) };
  }
}

/** Why a walk of a sealed segment disagrees with its manifest entry (as `open.ts` decides it). */
function sealedProblem(result: WalkResult, sealed: Manifest['sealed'][number]): { offset: number; problem: string } | undefined {
  if (result.damage !== undefined) return result.damage;
  if (result.endOffset !== sealed.endOffset) return { offset: result.endOffset, problem: `sealed segment ends at ${result.endOffset}, manifest says ${sealed.endOffset}` };
  if (result.nextLsn - 1 !== sealed.lastLsn) return { offset: result.endOffset, problem: `sealed segment ends at LSN ${result.nextLsn - 1}, manifest says ${sealed.lastLsn}` };
  if (result.digest !== sealed.digest) return { offset: 0, problem: 'record headers do not match the manifest digest' };
  return undefined;
}

function readOnly(): Promise<never> {
  return Promise.reject(new ConsensusStoreError('INVALID_ARGUMENT', 'this log is opened read-only: it writes nothing'));
}

class ReadOnlyLogImpl implements ReadOnlyLog {
  readonly #index: LsnIndex;
  readonly #reader: SegmentReader;
  readonly #handles: Map<number, FileHandle>;
  readonly #report: Omit<OpenReport, 'durationMs'>;
  #status: 'open' | 'closed' = 'open';
  durationMs = 0;
  readonly tail: ReadOnlyTail | undefined;
  readonly manifestGeneration: number;
  readonly segments: ReadOnlyLog['segments'];

  constructor(
    fs: FileSystem,
    index: LsnIndex,
    handles: Map<number, FileHandle>,
    report: OpenReport,
    tail: ReadOnlyTail | undefined,
    generation: number,
    segments: ReadOnlyLog['segments'],
  ) {
    this.#index = index;
    this.#handles = handles;
    this.#report = report;
    this.tail = tail;
    this.manifestGeneration = generation;
    this.segments = segments;
    // Every handle pinned: a file removed after this open is still read whole.
    this.#reader = new SegmentReader(fs, index, 0);
    for (const [id, handle] of handles) this.#reader.pin(id, handle);
  }

  get status(): 'open' | 'closed' {
    return this.#status;
  }

  get nextLsn(): Lsn {
    return this.#index.nextLsn as Lsn;
  }

  get firstLsn(): number {
    return this.#index.firstLsn;
  }

  get seenLsn(): number {
    return this.#index.nextLsn - 1;
  }

  get openReport(): OpenReport {
    return { ...this.#report, durationMs: this.durationMs };
  }

  append(_records: readonly RecordInput[]): Promise<Lsn[]> {
    return readOnly();
  }

  acknowledgeRepairs(_throughId: number): Promise<void> {
    return readOnly();
  }

  get(lsn: Lsn): Promise<LogRecord | undefined> {
    if (this.#status === 'closed') return Promise.reject(new ConsensusStoreError('CLOSED', 'log is closed'));
    return this.#reader.get(lsn);
  }

  scan(visit: (record: LogRecord) => boolean | void, from?: Lsn): Promise<void> {
    if (this.#status === 'closed') return Promise.reject(new ConsensusStoreError('CLOSED', 'log is closed'));
    return this.#reader.scan(visit, from ?? this.#index.firstLsn);
  }

  async close(): Promise<void> {
    if (this.#status === 'closed') return;
    this.#status = 'closed';
    await this.#reader.close();
    for (const handle of this.#handles.values()) await handle.close().catch(() => undefined);
    this.#handles.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
