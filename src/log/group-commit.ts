/**
 * Group commit (D2, D3, D6): `append` calls queue here; one pump forms batches of whole calls
 * (bounded by bytes and records), hands each to the segment writer (one write + fdatasync), and
 * settles every call of the batch once that resolves. At most one batch is in flight; calls that
 * arrive meanwhile form the next batch. LSNs become final when a batch is formed, in call
 * order, and are handed back only after the batch is durable, so a rejected batch leaves no gap.
 *
 * This file must never acknowledge a call before its batch's write (and, with durability
 * `fsync`, fdatasync) resolved, never split a call across batches, never retry a failed write
 * or fdatasync as if it had succeeded (EIO poisons: every later call rejects IO_FAILED), and
 * never make a synchronous file-system call.
 */
import { COMMIT_RECORD_BYTES } from '../codec/framing.ts';
import { ConsensusStoreError, errnoDetails, isStoreError } from '../errors.ts';
import { errnoOf } from '../io/types.ts';
import type { PendingAppend } from './batch-encoder.ts';
import type { ResolvedLogOptions } from './options.ts';
import type { SegmentWriter, WriteBatch } from './segment-writer.ts';

/**
 * Watches the log's writes (metrics, docs/operations.md): told of each durable batch, after its
 * write resolved and before its calls are resolved, and of CORRUPTION raised by a read. What it throws is
 * ignored; it should not allocate: it runs once per batch on the write path.
 */
export interface WalObserver {
  /** One batch is durable: its records, its bytes on disk (commit marker included), and how long its write (and fdatasync) took, seconds. */
  batchWritten(records: number, bytes: number, seconds: number): void;
  /** A read (`get`, `scan`) raised CORRUPTION. */
  corruptionRead?(): void;
}

/** Queues appends and writes them in batches. */
export class GroupCommit {
  /** Told of each durable batch, when set (`WriteAheadLog.observe`). */
  observer: WalObserver | undefined;
  readonly #options: ResolvedLogOptions;
  readonly #writer: SegmentWriter;
  #queue: PendingAppend[] = [];
  #head = 0;
  #queuedRecords = 0;
  #queuedBytes = 0;
  #inflightRecords = 0;
  #pumping = false;
  #poison: ConsensusStoreError | undefined;
  #idleWaiters: (() => void)[] = [];
  #wake: (() => void) | undefined;
  #flushNow = false;
  /** LSN of the last record whose call was resolved (its continuations run before the next macrotask). */
  #settledLsn: number;
  readonly #runPump = (): void => void this.#pump();

  constructor(options: ResolvedLogOptions, writer: SegmentWriter) {
    this.#options = options;
    this.#writer = writer;
    this.#settledLsn = writer.nextLsn - 1;
  }

  /**
   * The LSN of the last record handed back to its caller. Read in a macrotask (see
   * `Log.capture`), the stores have folded exactly the records up to it.
   */
  get settledLsn(): number {
    return this.#settledLsn;
  }

  /** The error every append rejects with once a write failed (D6), if one did. */
  get poison(): ConsensusStoreError | undefined {
    return this.#poison;
  }

  /** The LSN the next enqueued record will get, if every batch before it succeeds. */
  get nextLsn(): number {
    return this.#writer.nextLsn + this.#inflightRecords + this.#queuedRecords;
  }

  /**
   * Queues one checked call. Returns false (queuing nothing) when the queue bound would be
   * crossed (QUEUE_FULL for the caller).
   */
  enqueue(call: PendingAppend): boolean {
    const count = call.records.length;
    if (this.#queuedRecords + count > this.#options.maxQueuedRecords) return false;
    this.#queue.push(call);
    this.#queuedRecords += count;
    this.#queuedBytes += call.bytes;
    if (!this.#pumping) {
      this.#pumping = true;
      queueMicrotask(this.#runPump);
    } else if (this.#wake !== undefined && this.#batchFull()) {
      this.#wake();
    }
    return true;
  }

  /**
   * Resolves once every queued call is settled; from now on batches no longer wait for
   * companions (close).
   */
  async drain(): Promise<void> {
    this.#flushNow = true;
    this.#wake?.();
    if (!this.#pumping) return;
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  async #pump(): Promise<void> {
    try {
      while (this.#head < this.#queue.length) {
        if (this.#options.maxBatchDelayMs > 0 && !this.#flushNow) await this.#waitForCompanions();
        await this.#commit(this.#takeBatch());
      }
    } finally {
      this.#pumping = false;
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
  }

  /** True when the queue holds at least a full batch. */
  #batchFull(): boolean {
    return (
      this.#queuedRecords >= this.#options.maxBatchRecords ||
      this.#queuedBytes + COMMIT_RECORD_BYTES >= this.#options.maxBatchBytes
    );
  }

  /** Waits up to `maxBatchDelayMs` for more calls, unless a full batch is already queued. */
  async #waitForCompanions(): Promise<void> {
    if (this.#batchFull()) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.#options.maxBatchDelayMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
    this.#wake = undefined;
  }

  /** Takes whole calls from the head of the queue while they fit one batch. */
  #takeBatch(): WriteBatch {
    const { maxBatchBytes, maxBatchRecords } = this.#options;
    const calls: PendingAppend[] = [];
    let bytes = 0;
    let count = 0;
    while (this.#head < this.#queue.length) {
      const call = this.#queue[this.#head]!;
      const n = call.records.length;
      if (calls.length > 0 && (bytes + call.bytes + COMMIT_RECORD_BYTES > maxBatchBytes || count + n > maxBatchRecords)) break;
      calls.push(call);
      bytes += call.bytes;
      count += n;
      this.#head++;
    }
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#queuedRecords -= count;
    this.#queuedBytes -= bytes;
    return { calls, bytes, count };
  }

  async #commit(batch: WriteBatch): Promise<void> {
    if (this.#poison !== undefined) {
      for (const call of batch.calls) call.reject(this.#poison);
      return;
    }
    this.#inflightRecords = batch.count;
    const observer = this.observer;
    const started = observer === undefined ? 0 : performance.now();
    let firstLsn: number;
    try {
      firstLsn = await this.#writer.write(batch);
    } catch (err) {
      this.#inflightRecords = 0;
      this.#fail(batch, err);
      return;
    }
    this.#inflightRecords = 0;
    if (observer !== undefined) {
      try {
        observer.batchWritten(batch.count, batch.bytes + COMMIT_RECORD_BYTES, (performance.now() - started) / 1000);
      } catch {
        // An observer's failure never touches the write path.
      }
    }
    let lsn = firstLsn;
    for (const call of batch.calls) {
      const n = call.records.length;
      const lsns = new Array<number>(n);
      for (let i = 0; i < n; i++) lsns[i] = lsn++;
      call.resolve(lsns);
    }
    this.#settledLsn = lsn - 1;
  }

  /** ENOSPC rejects the batch with DISK_FULL (nothing advanced); anything else poisons (D6). */
  #fail(batch: WriteBatch, err: unknown): void {
    if (errnoOf(err) === 'ENOSPC') {
      const full = new ConsensusStoreError('DISK_FULL', 'no space left for the batch; nothing was written', { cause: err, details: errnoDetails(err) });
      for (const call of batch.calls) call.reject(full);
      return;
    }
    const poison = isStoreError(err)
      ? err
      : new ConsensusStoreError('IO_FAILED', `write failed; the log accepts no more writes and must be reopened (${String(err)})`, {
          cause: err,
          details: errnoDetails(err),
        });
    this.#poison = poison;
    for (const call of batch.calls) call.reject(poison);
    const rest = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    this.#queuedRecords = 0;
    this.#queuedBytes = 0;
    for (const call of rest) call.reject(poison);
  }
}
