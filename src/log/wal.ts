/**
 * The write-ahead log: `openLog` and the `WriteAheadLog` the stores program against (the `Log`
 * interface of `types.ts`). This file owns the lifecycle (lock, open, status, close) and the
 * checks at the API boundary; the work is done by `open.ts` (recovery), `group-commit.ts` and
 * `segment-writer.ts` (writes), and `reader.ts` (reads).
 *
 * It must never let a method of a closed log do anything but reject CLOSED, never accept a
 * write after poisoning (D6), and never release the lock while a batch is in flight.
 */
import { join } from 'node:path';
import { COMMIT_RECORD_BYTES, recordSpan } from '../codec/framing.ts';
import { FIRST_LOG_KIND } from '../codec/kinds.ts';
import { ConsensusStoreError, fromFsError, invalidArgument, isStoreError } from '../errors.ts';
import { defaultFileSystem } from '../io/real-fs.ts';
import { errnoOf, type FileLock, type FileSystem } from '../io/types.ts';
import type { PendingAppend } from './batch-encoder.ts';
import { GroupCommit, type WalObserver } from './group-commit.ts';
import type { LsnIndex } from './lsn-index.ts';
import { mkdirDurable, probeDataDir, removeFreshDir, type DataDirState } from './fresh-dir.ts';
import { recoverLog } from './open.ts';
import { resolveLogOptions, type ResolvedLogOptions } from './options.ts';
import { SegmentReader } from './reader.ts';
import { SegmentReleaser } from './release.ts';
import { SegmentPipeline } from './segment-pipeline.ts';
import { SegmentWriter } from './segment-writer.ts';
import type { Log, LogLimits, LogOptions, LogRecord, LogStatus, Lsn, OpenReport, RecordInput, RecordLocation, ReleaseReport } from './types.ts';

export type { WalObserver } from './group-commit.ts';

/** Name of the lock file in the data directory (D7). */
export const LOCK_NAME = 'LOCK';

interface OpenState {
  readonly fs: FileSystem;
  readonly lock: FileLock;
  readonly report: OpenReport;
  readonly reader: SegmentReader;
  readonly writer: SegmentWriter;
  readonly pipeline: SegmentPipeline;
  readonly commit: GroupCommit;
  readonly index: LsnIndex;
  readonly releaser: SegmentReleaser;
}

/**
 * What a caller that opens more than the log (`openStore`) already found at the data directory,
 * so that the open does not look again. @internal
 */
export interface KnownDataDir {
  readonly dirState?: DataDirState;
}

/**
 * Opens (creating if needed) the log in `options.dir`: takes the lock, recovers (D5) and
 * returns the open log.
 *
 * @throws ConsensusStoreError INVALID_ARGUMENT (bad option), LOCKED (another opener holds the
 *   directory), CORRUPTION (file and offset), UNSUPPORTED_FORMAT, IO_FAILED / DISK_FULL (the
 *   open's own writes failed).
 */
export async function openLog(options: LogOptions, known?: KnownDataDir): Promise<WriteAheadLog> {
  const log = new WriteAheadLog(resolveLogOptions(options), known?.dirState);
  await log.open();
  return log;
}

/** The segmented write-ahead log. Create it with `openLog` (or `WriteAheadLog.open`). */
export class WriteAheadLog implements Log {
  /** Same as `openLog`. */
  static open(options: LogOptions): Promise<WriteAheadLog> {
    return openLog(options);
  }

  readonly #options: ResolvedLogOptions;
  readonly #limits: LogLimits;
  #status: 'new' | 'opening' | 'open' | 'closing' | 'closed' = 'new';
  #state: OpenState | undefined;
  #opening: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #observer: WalObserver | undefined;
  /** What the data directory held before this open, when the caller already looked (`KnownDataDir`). */
  readonly #dirState: DataDirState | undefined;

  /** Use `openLog`; the constructor only stores checked options. */
  constructor(options: ResolvedLogOptions, dirState?: DataDirState) {
    this.#options = options;
    this.#dirState = dirState;
    const { maxBatchBytes, maxBatchRecords, maxRecordSize, segmentSize } = options;
    this.#limits = Object.freeze({ maxBatchBytes, maxBatchRecords, maxRecordSize, segmentSize });
  }

  /** The limits `append` enforces (the resolved options); available in every state. */
  get limits(): LogLimits {
    return this.#limits;
  }

  /** Lifecycle state; `poisoned` once a write failed with EIO (reads keep working). */
  get status(): LogStatus {
    if (this.#status === 'open' && this.#state?.commit.poison !== undefined) return 'poisoned';
    return this.#status;
  }

  /** The LSN the next appended record gets (if every write queued before it succeeds). */
  get nextLsn(): Lsn {
    const state = this.#state;
    if (state === undefined) throw new ConsensusStoreError('CLOSED', 'log is not open');
    return state.commit.nextLsn as Lsn;
  }

  /** The first LSN the log holds (its next LSN when it holds none); grows with `release`. */
  get firstLsn(): Lsn {
    const state = this.#state;
    if (state === undefined) throw new ConsensusStoreError('CLOSED', 'log is not open');
    return state.index.firstLsn as Lsn;
  }

  /** What the open found and did. */
  get openReport(): OpenReport {
    const state = this.#state;
    if (state === undefined) throw new ConsensusStoreError('CLOSED', 'log is not open');
    return state.report;
  }

  /** Opens the log; idempotent (a second call waits for the first). */
  open(): Promise<void> {
    if (this.#opening === undefined) this.#opening = this.#open();
    return this.#opening;
  }

  /**
   * Appends `records` as one atomic batch (D3) and resolves with their LSNs once durable (D1;
   * with durability `none`, once written). The payloads are read when the batch is written:
   * do not modify them until the promise settles.
   */
  append(records: readonly RecordInput[]): Promise<Lsn[]> {
    const state = this.#state;
    if (this.#status !== 'open' || state === undefined) return Promise.reject(closedError());
    const poison = state.commit.poison;
    if (poison !== undefined) return Promise.reject(poison);
    let bytes: number;
    try {
      bytes = this.#checkRecords(records);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<Lsn[]>((resolve, reject) => {
      const call: PendingAppend = { records, bytes, resolve: resolve as (lsns: number[]) => void, reject };
      if (!state.commit.enqueue(call)) {
        reject(new ConsensusStoreError('QUEUE_FULL', `more than ${this.#options.maxQueuedRecords} records queued`));
      }
    });
  }

  /** The durable record `lsn`, or undefined. CORRUPTION when its bytes fail their checks (D4). */
  async get(lsn: Lsn): Promise<LogRecord | undefined> {
    const state = this.#readable();
    if (typeof lsn !== 'number' || !Number.isSafeInteger(lsn) || lsn < 0) {
      throw invalidArgument('lsn', 'must be a non-negative safe integer');
    }
    try {
      return await state.reader.get(lsn);
    } catch (err) {
      this.#noteRead(err);
      throw err;
    }
  }

  /** Visits every durable record from `from` (default the first) in LSN order; `visit` returns false to stop. */
  async scan(visit: (record: LogRecord) => boolean | void, from?: Lsn): Promise<void> {
    const state = this.#readable();
    if (typeof visit !== 'function') throw invalidArgument('visit', 'must be a function');
    if (from !== undefined && (typeof from !== 'number' || !Number.isSafeInteger(from) || from < 0)) {
      throw invalidArgument('from', 'must be a non-negative safe integer');
    }
    try {
      await state.reader.scan(visit, from ?? state.index.firstLsn);
    } catch (err) {
      this.#noteRead(err);
      throw err;
    }
  }

  /**
   * Sets (or, with undefined, removes) the observer told of each durable batch and of CORRUPTION
   * raised by reads (metrics). It changes nothing the log does.
   */
  observe(observer: WalObserver | undefined): void {
    this.#observer = observer;
    if (this.#state !== undefined) this.#state.commit.observer = observer;
  }

  #noteRead(err: unknown): void {
    if (this.#observer?.corruptionRead === undefined || !isStoreError(err) || err.code !== 'CORRUPTION') return;
    try {
      this.#observer.corruptionRead();
    } catch {
      // An observer's failure never changes what the read reports.
    }
  }

  /** See `Log.beginClose`: appends reject CLOSED from now on; reads and `capture` go on until `close()`. */
  beginClose(): void {
    if (this.#status === 'open') this.#status = 'closing';
  }

  /** See `Log.capture`: `fn` runs in a later macrotask with the LSN of the last record handed back. */
  capture<T>(fn: (lastLsn: Lsn) => T): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(invalidArgument('fn', 'must be a function'));
    return new Promise<T>((resolve, reject) => {
      setImmediate(() => {
        const state = this.#state;
        if ((this.#status !== 'open' && this.#status !== 'closing') || this.#closing !== undefined || state === undefined) return reject(closedError());
        try {
          resolve(fn(state.commit.settledLsn as Lsn));
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  /** See `Log.locate`: where durable record `lsn` starts, or undefined; synchronous (call it inside `capture`). */
  locate(lsn: Lsn): RecordLocation | undefined {
    const state = this.#state;
    if (state === undefined || !Number.isSafeInteger(lsn)) return undefined;
    const at = state.index.findSegment(lsn);
    const entry = state.index.segments[at];
    return entry === undefined ? undefined : { segmentId: entry.id, path: entry.path, offset: entry.offsetOf(lsn) };
  }

  /**
   * Drops the pending repairs with ids up to `throughId` from the manifest, durably (see
   * `OpenReport.pendingRepairs`). Idempotent. Rejects INVALID_ARGUMENT, CLOSED, IO_FAILED when
   * the log is poisoned, DISK_FULL or IO_FAILED when the manifest write fails (the repairs then
   * stay pending; the log is not poisoned, nothing else was touched).
   */
  async acknowledgeRepairs(throughId: number): Promise<void> {
    if (typeof throughId !== 'number' || !Number.isSafeInteger(throughId) || throughId < 1) {
      throw invalidArgument('throughId', 'must be a positive safe integer');
    }
    const state = this.#state;
    if (this.#status !== 'open' || state === undefined) throw closedError();
    const poison = state.commit.poison;
    if (poison !== undefined) throw poison;
    try {
      await state.writer.acknowledgeRepairs(throughId);
    } catch (err) {
      if (errnoOf(err) === 'ENOSPC') throw new ConsensusStoreError('DISK_FULL', 'no space left to rewrite the manifest; the repairs stay pending', { cause: err });
      throw new ConsensusStoreError('IO_FAILED', `manifest write failed; the repairs stay pending (${String(err)})`, { cause: err });
    }
  }

  /**
   * See `Log.release`: removes the sealed segments all of whose records lie below `beforeLsn`
   * (docs/durability.md, "Releasing segments"). Rejects INVALID_ARGUMENT, CLOSED, IO_FAILED when
   * the log is poisoned; DISK_FULL or IO_FAILED when the manifest write fails (nothing released,
   * the log not poisoned); IO_FAILED when a file could not be unlinked after the commit point
   * (the segments are released; the next release or open removes the files).
   */
  async release(beforeLsn: Lsn): Promise<ReleaseReport> {
    if (typeof beforeLsn !== 'number' || !Number.isSafeInteger(beforeLsn) || beforeLsn < 1) {
      throw invalidArgument('beforeLsn', 'must be a positive safe integer');
    }
    const state = this.#state;
    if (this.#status !== 'open' || state === undefined) throw closedError();
    const poison = state.commit.poison;
    if (poison !== undefined) throw poison;
    return state.releaser.release(beforeLsn);
  }

  /** See `Log.holdSegments`: no release starts until the returned function is called. Rejects CLOSED. */
  async holdSegments(): Promise<() => void> {
    const state = this.#state;
    if ((this.#status !== 'open' && this.#status !== 'closing') || this.#closing !== undefined || state === undefined) throw closedError();
    return state.releaser.hold();
  }

  /** Idempotent. Lets queued and in-flight batches finish, closes the files, releases the lock. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      if (this.#status === 'open') this.#status = 'closing';
      this.#closing = this.#close();
    }
    return this.#closing;
  }

  /** Same as `close`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #open(): Promise<void> {
    const started = performance.now();
    this.#status = 'opening';
    const options = this.#options;
    const fs = options.fs ?? defaultFileSystem();
    let before: DataDirState = 'existing';
    try {
      // What was there before anything is created: a failed open of an absent or empty
      // directory removes what it made (docs/durability.md, "A clean open").
      before = this.#dirState ?? (await probeDataDir(fs, options.dir));
      // The data directory's own entry must be durable too (a new directory lives in its
      // parent), and so must those of any parents this creates.
      await mkdirDurable(fs, options.dir);
      const lock = await fs.lock(join(options.dir, LOCK_NAME));
      try {
        const recovered = await recoverLog(fs, options);
        const reader = new SegmentReader(fs, recovered.index, options.maxOpenSegments);
        const pipeline = new SegmentPipeline(fs, recovered.walDir, options.segmentSize);
        const writer = new SegmentWriter(
          { fs, options, walDir: recovered.walDir, index: recovered.index, reader, pipeline },
          recovered.manifest,
          recovered.active,
          recovered.nextLsn,
        );
        if (recovered.spare !== undefined) pipeline.adopt(recovered.spare.id, recovered.spare.handle);
        else pipeline.prepare(writer.nextSegmentId);
        const report = { ...recovered.report, durationMs: performance.now() - started };
        const index = recovered.index;
        const commit = new GroupCommit(options, writer);
        commit.observer = this.#observer;
        const releaser = new SegmentReleaser({ fs, walDir: recovered.walDir, writer, index, reader }, recovered.manifest.firstSegmentId);
        this.#state = { fs, lock, report, reader, writer, pipeline, commit, index, releaser };
      } catch (err) {
        await lock.release();
        throw err;
      }
      this.#status = 'open';
    } catch (err) {
      this.#status = 'closed';
      await removeFreshDir(fs, options.dir, before, LOCK_NAME);
      throw fromFsError(err, `opening the log in ${options.dir}`);
    }
  }

  async #close(): Promise<void> {
    if (this.#opening !== undefined) await this.#opening.catch(() => undefined);
    const state = this.#state;
    if (state === undefined || (this.#status !== 'closing' && this.#status !== 'open')) {
      this.#status = 'closed';
      return;
    }
    this.#status = 'closing';
    try {
      // A release waiting for a hold gives up (CLOSED); a running one finishes first.
      await state.releaser.close();
      await state.commit.drain();
      // A clean close records where the log ends (D5): damage before that point is never cut
      // as a torn tail. Not after a poisoning error: what the disk holds is then unknown.
      if (state.commit.poison === undefined) await state.writer.recordCleanEnd().catch(() => undefined);
      await state.pipeline.close().catch(() => undefined);
      await state.reader.close();
      await state.writer.close().catch(() => undefined);
    } finally {
      await state.lock.release();
      this.#status = 'closed';
    }
  }

  #readable(): OpenState {
    const state = this.#state;
    const readable = this.#status === 'open' || (this.#status === 'closing' && this.#closing === undefined);
    if (!readable || state === undefined) throw closedError();
    return state;
  }

  /** Checks one call's records; returns the bytes they occupy on disk. */
  #checkRecords(records: readonly RecordInput[]): number {
    const { maxBatchRecords, maxRecordSize, maxBatchBytes } = this.#options;
    if (!Array.isArray(records) || records.length === 0) throw invalidArgument('records', 'must be a non-empty array');
    if (records.length > maxBatchRecords) {
      throw new ConsensusStoreError('BATCH_TOO_LARGE', `${records.length} records in one call; the limit is ${maxBatchRecords}`);
    }
    let bytes = 0;
    for (let i = 0; i < records.length; i++) {
      const record: unknown = records[i];
      if (typeof record !== 'object' || record === null) throw invalidArgument(`records[${i}]`, 'must be an object');
      const { kind, payload } = record as { kind: unknown; payload: unknown };
      if (typeof kind !== 'number' || !Number.isInteger(kind) || kind < 1 || kind >= FIRST_LOG_KIND) {
        throw invalidArgument(`records[${i}].kind`, `must be an integer in [1, ${FIRST_LOG_KIND - 1}]`);
      }
      if (!(payload instanceof Uint8Array)) throw invalidArgument(`records[${i}].payload`, 'must be a Uint8Array');
      if (payload.length > maxRecordSize) {
        throw new ConsensusStoreError('RECORD_TOO_LARGE', `records[${i}] has ${payload.length} bytes; the limit is ${maxRecordSize}`);
      }
      bytes += recordSpan(payload.length);
    }
    if (bytes + COMMIT_RECORD_BYTES > maxBatchBytes) {
      throw new ConsensusStoreError('BATCH_TOO_LARGE', `one call needs ${bytes + COMMIT_RECORD_BYTES} bytes; the limit is ${maxBatchBytes}`);
    }
    return bytes;
  }
}

function closedError(): ConsensusStoreError {
  return new ConsensusStoreError('CLOSED', 'log is closed');
}
