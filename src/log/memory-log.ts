/**
 * An in-memory `Log` for conformance and model tests: same contract as the WAL (LSNs assigned
 * synchronously in call order, batches durable in order, atomic batches, CLOSED after close),
 * with a crash switch and injected append failures. Durable records live in a `MemoryDisk` that
 * outlives any one log, so a test can close (or crash) and reopen.
 *
 * `release` drops the oldest durable records below an LSN as the WAL drops sealed segments:
 * each record stands for one segment, and the newest durable record stands for the segment
 * being written, so it is never released (and the disk never forgets where LSNs stand).
 *
 * It must never acknowledge a batch before it is in `disk.records`, nor show a pending record to
 * `get` or `scan`.
 */
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import type { ErrorCode } from '../errors.ts';
import { COMMIT_RECORD_BYTES, recordSpan } from '../codec/framing.ts';
import type { Log, LogLimits, LogRecord, LogStatus, Lsn, OpenReport, RecordInput, ReleaseReport } from './types.ts';

/** The durable side: records that survived, in LSN order. */
export class MemoryDisk {
  readonly records: LogRecord[] = [];
  /** Every LSN below this was released (`MemoryLog.release`); 1: nothing was. */
  releasedBelow = 1;
  /** The log currently open on this disk (one writer, D7). */
  openLog: MemoryLog | undefined;
}

interface PendingBatch {
  readonly records: LogRecord[];
  readonly resolve: (lsns: Lsn[]) => void;
  readonly reject: (err: unknown) => void;
}

/** The WAL's default limits (src/log/options.ts); `MemoryLog.open` takes others. */
export const MEMORY_LOG_DEFAULT_LIMITS: LogLimits = Object.freeze({
  maxBatchBytes: 4 * 1024 * 1024,
  maxBatchRecords: 4096,
  maxRecordSize: 1024 * 1024,
  segmentSize: 64 * 1024 * 1024,
});

/** An in-memory Log. Batches become durable on the next macrotask (so that appends can overlap). */
export class MemoryLog implements Log {
  status: LogStatus = 'open';
  readonly openReport: OpenReport;
  /** Number of `append` calls that reached the log (accepted or not). */
  appendCalls = 0;
  private next: number;
  private readonly pending: PendingBatch[] = [];
  private flushScheduled = false;
  private failures: ErrorCode[] = [];

  /** The limits `append` enforces as the WAL does (RECORD_TOO_LARGE, BATCH_TOO_LARGE). */
  readonly limits: LogLimits;

  private constructor(
    readonly disk: MemoryDisk,
    limits: Partial<LogLimits> = {},
  ) {
    this.limits = Object.freeze({ ...MEMORY_LOG_DEFAULT_LIMITS, ...limits });
    if (disk.openLog !== undefined && disk.openLog.status !== 'closed') {
      throw new ConsensusStoreError('LOCKED', 'memory disk already has an open log');
    }
    disk.openLog = this;
    const last = disk.records[disk.records.length - 1];
    this.next = last === undefined ? 1 : last.lsn + 1;
    this.openReport = { segmentsScanned: 1, recordsScanned: disk.records.length, batchesScanned: 0, tornBytesCut: 0, pendingRepairs: [], durationMs: 0 };
  }

  /** Opens a log on `disk` (a fresh disk when omitted), with the WAL's default limits unless `limits` overrides some. */
  static open(disk: MemoryDisk = new MemoryDisk(), limits: Partial<LogLimits> = {}): MemoryLog {
    return new MemoryLog(disk, limits);
  }

  get nextLsn(): Lsn {
    return this.next as Lsn;
  }

  /** The first LSN the disk holds (the next LSN when it holds none). */
  /** The first LSN not released (records removed by other means, as a test may, do not move it). */
  get firstLsn(): Lsn {
    return this.disk.releasedBelow as Lsn;
  }

  /**
   * See `Log.release`: drops every durable record below `beforeLsn` but the newest durable one
   * (see the file comment); `segmentsReleased` counts records, `bytesFreed` their framed size.
   * Rejects INVALID_ARGUMENT (nothing changed) and CLOSED.
   */
  async release(beforeLsn: Lsn): Promise<ReleaseReport> {
    if (typeof beforeLsn !== 'number' || !Number.isSafeInteger(beforeLsn) || beforeLsn < 1) {
      throw invalidArgument('beforeLsn', 'must be a positive safe integer');
    }
    if (this.status !== 'open') throw new ConsensusStoreError('CLOSED', 'log is not open');
    const records = this.disk.records;
    let n = 0;
    while (n < records.length - 1 && records[n]!.lsn < beforeLsn) n++;
    const released = records.splice(0, n);
    if (n > 0) this.disk.releasedBelow = Math.max(this.disk.releasedBelow, (records[0]?.lsn ?? this.next) as number);
    const bytesFreed = released.reduce((sum, r) => sum + recordSpan(r.payload.length), 0);
    return { segmentsReleased: n, recordsReleased: n, bytesFreed, firstLsn: this.firstLsn };
  }

  /** The next `count` appends reject with `code` (nothing written, no LSN used). */
  failNextAppends(code: ErrorCode, count = 1): void {
    for (let i = 0; i < count; i++) this.failures.push(code);
  }

  append(records: readonly RecordInput[]): Promise<Lsn[]> {
    this.appendCalls++;
    if (this.status !== 'open') return Promise.reject(new ConsensusStoreError('CLOSED', 'log is not open'));
    const failure = this.failures.shift();
    if (failure !== undefined) return Promise.reject(new ConsensusStoreError(failure, 'injected failure'));
    if (!Array.isArray(records) || records.length === 0) {
      return Promise.reject(new ConsensusStoreError('INVALID_ARGUMENT', 'records must be a non-empty array'));
    }
    const { maxBatchBytes, maxBatchRecords, maxRecordSize } = this.limits;
    if (records.length > maxBatchRecords) {
      return Promise.reject(new ConsensusStoreError('BATCH_TOO_LARGE', `${records.length} records in one call; the limit is ${maxBatchRecords}`));
    }
    let bytes = COMMIT_RECORD_BYTES;
    for (const r of records) {
      if (!Number.isInteger(r.kind) || r.kind < 1 || r.kind > 255 || !(r.payload instanceof Uint8Array)) {
        return Promise.reject(new ConsensusStoreError('INVALID_ARGUMENT', `bad record kind ${String(r.kind)}`));
      }
      if (r.payload.length > maxRecordSize) return Promise.reject(new ConsensusStoreError('RECORD_TOO_LARGE', 'payload too large'));
      bytes += recordSpan(r.payload.length);
    }
    if (bytes > maxBatchBytes) {
      return Promise.reject(new ConsensusStoreError('BATCH_TOO_LARGE', `one call needs ${bytes} bytes; the limit is ${maxBatchBytes}`));
    }
    const batch: LogRecord[] = records.map((r) => ({ lsn: this.next++ as Lsn, kind: r.kind, payload: r.payload.slice() }));
    return new Promise<Lsn[]>((resolve, reject) => {
      this.pending.push({ records: batch, resolve, reject });
      this.scheduleFlush();
    });
  }

  /** The memory disk never repairs: nothing is ever pending. */
  async acknowledgeRepairs(): Promise<void> {}

  async get(lsn: Lsn): Promise<LogRecord | undefined> {
    return this.disk.records.find((r) => r.lsn === lsn);
  }

  async scan(visit: (record: LogRecord) => boolean | void, from?: Lsn): Promise<void> {
    for (const r of this.disk.records) {
      if (from !== undefined && r.lsn < from) continue;
      if (visit(r) === false) return;
    }
  }

  /** See `Log.capture`: the last record of the disk is the last one handed back once a macrotask has passed. */
  capture<T>(fn: (lastLsn: Lsn) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      setImmediate(() => {
        if (this.status === 'closed') return reject(new ConsensusStoreError('CLOSED', 'log is not open'));
        try {
          const last = this.disk.records[this.disk.records.length - 1];
          resolve(fn((last === undefined ? this.next - 1 - this.pendingRecords() : last.lsn) as Lsn));
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  private pendingRecords(): number {
    let n = 0;
    for (const b of this.pending) n += b.records.length;
    return n;
  }

  async close(): Promise<void> {
    if (this.status === 'closed') return;
    this.status = 'closing';
    this.flush();
    this.status = 'closed';
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Power cut: batches not yet durable are lost (their appends never resolve), the log is
   * closed. Reopen with `MemoryLog.open(log.disk)`.
   */
  crash(): void {
    this.pending.length = 0;
    this.status = 'closed';
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      if (this.status === 'open') this.flush();
    });
  }

  private flush(): void {
    for (const batch of this.pending.splice(0)) {
      this.disk.records.push(...batch.records);
      batch.resolve(batch.records.map((r) => r.lsn));
    }
  }
}
