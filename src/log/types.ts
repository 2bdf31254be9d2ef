/**
 * The public shape of the write-ahead log: what the stores program against. The engine lives in
 * `src/log/wal.ts`; this file holds only types, so that a store can be written and read without
 * the engine's internals.
 */
import type { FileSystem } from '../io/types.ts';
import type { LogRecord, Lsn, RecordInput } from '../model/log-record.ts';

export type { LogRecord, Lsn, RecordInput } from '../model/log-record.ts';

/** Durability of `append` (D1, docs/durability.md). `none` is for tests and benchmarks only: it acknowledges without fdatasync. */
export type Durability = 'fsync' | 'none';

/** Lifecycle of a log (abstract-level style). `poisoned`: a write failed with EIO (D6); reads work, writes reject. */
export type LogStatus = 'new' | 'opening' | 'open' | 'poisoned' | 'closing' | 'closed';

/** Options of `WriteAheadLog.open`. Every limit has a default; out-of-range values are INVALID_ARGUMENT. */
export interface LogOptions {
  /** The data directory (holds LOCK, MANIFEST, wal/). Created if absent. */
  readonly dir: string;
  /** File system to use; default the real one (node:fs). Tests pass the simulated disk. */
  readonly fs?: FileSystem;
  /** Default `fsync`. */
  readonly durability?: Durability;
  /** Segment file size in bytes; default 64 MiB, at least 4 KiB, a multiple of 4096. */
  readonly segmentSize?: number;
  /** Largest payload in bytes; default 1 MiB; must fit a segment with its framing. */
  readonly maxRecordSize?: number;
  /** Largest batch written with one fdatasync, in bytes; default 4 MiB. */
  readonly maxBatchBytes?: number;
  /** Largest batch written with one fdatasync, in records; default 4096. */
  readonly maxBatchRecords?: number;
  /** Most records waiting for a batch; beyond it `append` rejects with QUEUE_FULL. Default 1,000,000. */
  readonly maxQueuedRecords?: number;
  /** Longest a record waits for companions before its batch is written, in ms; default 0 (write as soon as the disk is free). */
  readonly maxBatchDelayMs?: number;
  /** Most sealed segment files kept open for `get` (least recently used are closed); default 32. */
  readonly maxOpenSegments?: number;
  /**
   * Explicit repair mode (D5): on interior damage keep a `.broken` copy of the damaged segment,
   * drop the damaged batches (keeping the intact batches after them when they can be found,
   * else cutting at the last good batch), and report the loss in `openReport.repair`. A
   * missing MANIFEST is rebuilt from the segments.
   * Default false: interior damage fails the open with CORRUPTION.
   */
  readonly repair?: boolean;
}

/**
 * The resolved size limits of a log (D2, docs/durability.md), read-only. A caller that merges
 * several calls into one `append` (the audit log) bounds the merge by them, so that a merged
 * batch is never rejected BATCH_TOO_LARGE when each call would fit alone. Sizes on disk: a record takes
 * `recordSpan(payload.length)` bytes and every batch ends with a `COMMIT_RECORD_BYTES` commit
 * marker (src/codec/framing.ts); one `append` must fit `maxBatchBytes` with its marker.
 */
export interface LogLimits {
  /** Most bytes one `append` may occupy on disk, its commit marker included. */
  readonly maxBatchBytes: number;
  /** Most records in one `append`. */
  readonly maxBatchRecords: number;
  /** Largest payload of one record, in bytes. */
  readonly maxRecordSize: number;
  /** Segment file size in bytes (`maxBatchBytes` never exceeds what a segment holds). */
  readonly segmentSize: number;
}

/** What the open did, for `recover()` and operators. */
export interface OpenReport {
  readonly segmentsScanned: number;
  readonly recordsScanned: number;
  readonly batchesScanned: number;
  /** Bytes of a torn, unacknowledged tail batch cut away (D5). */
  readonly tornBytesCut: number;
  /** Present when repair mode cut damaged data in this open. */
  readonly repair?: RepairReport;
  /** True when the MANIFEST was missing and repair mode rebuilt it from the segments. */
  readonly manifestRebuilt?: boolean;
  /**
   * Every repair (this open's and earlier ones) that the stores have not acknowledged with
   * `acknowledgeRepairs`, oldest first. Kept in the manifest, so that a crash after a repair and
   * before the loss is recorded elsewhere does not forget it.
   */
  readonly pendingRepairs: readonly PendingRepairReport[];
  /**
   * Segment files below the manifest's first segment that this open removed: what a release
   * cut short between its manifest switch and its unlinks left behind (docs/durability.md,
   * "Releasing segments"). Absent when there were none.
   */
  readonly leftoverSegmentsRemoved?: number;
  readonly durationMs: number;
}

/** What `Log.release` did (docs/durability.md, "Releasing segments"). */
export interface ReleaseReport {
  /** Sealed segments taken out of the log by this call (each file unlinked). */
  readonly segmentsReleased: number;
  /** Records those segments held (filler LSNs of a repair's gap included). */
  readonly recordsReleased: number;
  /** Bytes of the released files. */
  readonly bytesFreed: number;
  /** The first LSN the log holds now (its next LSN when it holds none). */
  readonly firstLsn: Lsn;
}

/** What an explicit repair cut (D5). */
export interface RepairReport {
  /** The damaged segment file. */
  readonly file: string;
  /** Offset of the first bad byte. */
  readonly offset: number;
  /** Where the copy of the damaged file was kept. */
  readonly brokenCopy: string;
  /** The first LSN lost (every record from it on is gone), if any record was lost. */
  readonly firstLostLsn: Lsn | undefined;
  /** Segments after the damaged one that held data and were removed (a never-written spare is not counted). */
  readonly segmentsDropped: number;
  /**
   * Bytes of the log's data that the repair took out of the log: from the first damaged batch
   * to the end of the damaged segment's data (a cut) or to the next intact batch (a gap), plus
   * the whole data of every removed segment.
   */
  readonly bytesDropped: number;
  /**
   * The last LSN lost (every LSN from `firstLostLsn` to it is gone), when the manifest, the
   * clean end or a sound commit marker after the damage names it; undefined when nothing was
   * lost, or when bytes were lost but nothing left names how far their LSNs went.
   */
  readonly lastLostLsn?: Lsn | undefined;
  /** Records lost (`lastLostLsn - firstLostLsn + 1`; 0 when none); undefined when unknown (see `lastLostLsn`). */
  readonly recordsDropped?: number | undefined;
  /**
   * Present when the repair kept the intact batches after the damage: the damaged range
   * `[offset, gapEnd)` of `file` now holds filler records carrying the lost LSNs (a gap,
   * docs/format.md "Filler"), and every record after it is still in the log.
   */
  readonly gapEnd?: number | undefined;
}

/** A repair not yet acknowledged, with its id (for `acknowledgeRepairs`). */
export interface PendingRepairReport extends RepairReport {
  /** Unique and increasing: the generation of the manifest that recorded the repair. */
  readonly id: number;
}

/** Where a durable record lies (`Log.locate`). */
export interface RecordLocation {
  /** The segment's id (its file name's number). */
  readonly segmentId: number;
  /** The segment file's path. */
  readonly path: string;
  /** Byte offset of the record's header in the segment. */
  readonly offset: number;
}

/** The log's public surface. */
export interface Log {
  readonly status: LogStatus;
  /** The LSN the next appended record will get. */
  readonly nextLsn: Lsn;
  /** Set once open. */
  readonly openReport: OpenReport;
  /**
   * The first LSN the log still holds (its next LSN when it holds none): `get` below it resolves
   * undefined, `scan` from below it starts at it. It only grows (`release`). Optional so that
   * other `Log` implementations still type-check; absent means 1.
   */
  readonly firstLsn?: number;
  /**
   * The limits `append` enforces (resolved options). Optional so that a minimal `Log` (a
   * benchmark's in-memory stub) still type-checks; absent means "no limit known": a merging
   * caller then bounds its batches by its own limits only.
   */
  readonly limits?: LogLimits | undefined;
  /**
   * Appends `records` as one atomic batch (D3) and resolves with their LSNs once durable (D1).
   * LSNs are assigned synchronously, in call order; batches become durable in that order.
   * Rejects: INVALID_ARGUMENT (bad kind or empty list), RECORD_TOO_LARGE, BATCH_TOO_LARGE,
   * QUEUE_FULL, DISK_FULL (nothing written; retry after freeing space), IO_FAILED (poisoned),
   * CLOSED.
   */
  append(records: readonly RecordInput[]): Promise<Lsn[]>;
  /** The record with this LSN, or undefined if none is durable with it. CORRUPTION if its bytes fail their check. */
  get(lsn: Lsn): Promise<LogRecord | undefined>;
  /**
   * Calls `visit` with every durable record from `from` (default: the first) in LSN order.
   * `visit` is synchronous and may return `false` to stop. Used to rebuild indexes on open.
   */
  scan(visit: (record: LogRecord) => boolean | void, from?: Lsn): Promise<void>;
  /**
   * Runs `fn` in a later macrotask, at a moment when the records up to the LSN it is given are
   * exactly those whose `append` has resolved (every continuation of those resolutions has
   * run, and none of a later batch has): the stores' in-memory state then reflects records
   * 1..L and nothing after, so it can be captured as a local image (docs/format.md). Writes go
   * on meanwhile; `fn` must be synchronous. Optional: a log without it takes no images.
   * Rejects CLOSED once the log is closing; whatever `fn` throws.
   */
  capture?<T>(fn: (lastLsn: Lsn) => T): Promise<T>;
  /**
   * Where the durable record `lsn` starts: its segment and byte offset (undefined when no
   * durable record has it). Synchronous and I/O-free, so that inside `capture` it names the
   * place of the captured LSN before another batch lands (a backup fixes its end with it).
   * Optional: a log without segments has none.
   */
  locate?(lsn: Lsn): RecordLocation | undefined;
  /**
   * Starts a close without finishing it: from now on `append` rejects CLOSED and `status` is
   * `closing`, while `get`, `scan` and `capture` go on until `close()` (so that a last local
   * image can be taken of a store that accepts no more writes). Optional.
   */
  beginClose?(): void;
  /**
   * Drops every pending repair with an id up to `throughId` from the manifest (durably), once
   * the caller has recorded what it needs of them; `openReport.pendingRepairs` of later opens
   * no longer lists them. Idempotent. Rejects INVALID_ARGUMENT (not a positive safe integer),
   * IO_FAILED (poisoned, or the manifest write failed), DISK_FULL, CLOSED.
   */
  acknowledgeRepairs(throughId: number): Promise<void>;
  /**
   * Removes from the log every sealed segment all of whose records have LSN < `beforeLsn`
   * (never the segment being written, never a record at or after `beforeLsn`), once what they
   * held lives elsewhere (a local image, cold files). The manifest switch is the commit point,
   * then the files are unlinked (docs/durability.md, "Releasing segments"). One release at a
   * time, in turn with every other manifest write. Resolves with what it removed (zero counts
   * when nothing could go). Rejects INVALID_ARGUMENT (not a positive safe integer; nothing
   * changed), CLOSED, IO_FAILED (poisoned, or a write failed), DISK_FULL. Optional: a log
   * without segments never releases.
   */
  release?(beforeLsn: Lsn): Promise<ReleaseReport>;
  /**
   * Keeps every segment the log holds now on disk until the returned function is called (an
   * online backup copies them): resolves once no release is running; releases started later
   * wait for every hold to be dropped. Rejects CLOSED. Optional.
   */
  holdSegments?(): Promise<() => void>;
  /** Idempotent. Waits for in-flight batches, then releases the lock. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
