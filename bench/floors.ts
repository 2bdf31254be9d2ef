/**
 * The references every durable figure is divided by (docs/bench-notes.md): what the disk itself
 * does, with no engine in the way, in this process, on the same disk as the engine's runs.
 *
 * - `syncFloor`: a blocking `writeSync` + `fdatasyncSync` loop, one small record per sync. The
 *   single-writer latency floor; it blocks the main thread, which is allowed for a reference.
 * - `syncBatchFloor`: the same with many records per `writevSync` (the batch-append reference).
 * - `AsyncGroupCommit`: callback `fs.writev` + `fs.fdatasync`, one batch per sync, the next
 *   batch formed from whatever arrived during the sync (D2 with nothing else): the bar for the
 *   engine under concurrency. With `sync: false` it is the bare async write loop (the reference
 *   of the durability-'none' CPU ceiling).
 * - `SyncGroupCommit`: the physical ceiling: whatever is queued is written and synced with
 *   blocking calls the moment the loop is free; no thread hops at all.
 *
 * All write into a `FloorFile`: preallocated with zeros and synced before timing (so fdatasync
 * never has to persist a size change, as in the engine's preallocated segments), written
 * sequentially, wrapping to the start when full.
 *
 * This file imports node:fs directly on purpose: it is the reference the engine's `io/` layer
 * is measured against, not part of the engine (D9 governs `src/`).
 *
 * Must never: do less durable work than the engine (every acknowledged record is fdatasync'ed
 * when `sync` is on), or be timed including its preallocation.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { LatencyRecorder } from './lib/latency.ts';

/** Largest number of buffers handed to one writev (Linux IOV_MAX). */
const MAX_IOVECS = 1024;

/** Zero-fill chunk for preallocation. */
const FILL_CHUNK = 1 << 20;

/** A preallocated, synced file written sequentially and wrapped at its end. */
export class FloorFile {
  readonly path: string;
  readonly size: number;
  readonly fd: number;
  #position = 0;

  private constructor(path: string, size: number, fd: number) {
    this.path = path;
    this.size = size;
    this.fd = fd;
  }

  /** Creates `dir/name` of `size` bytes (rounded up to 1 MiB) filled with zeros and fsync'ed. */
  static create(dir: string, name: string, size: number): FloorFile {
    const rounded = Math.max(FILL_CHUNK, Math.ceil(size / FILL_CHUNK) * FILL_CHUNK);
    const path = join(dir, name);
    const fd = fs.openSync(path, 'w+');
    const zeros = Buffer.alloc(FILL_CHUNK);
    for (let at = 0; at < rounded; at += FILL_CHUNK) fs.writeSync(fd, zeros, 0, FILL_CHUNK, at);
    fs.fsyncSync(fd);
    const dirFd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dirFd);
    } finally {
      fs.closeSync(dirFd);
    }
    return new FloorFile(path, rounded, fd);
  }

  /** The position at which the next `bytes` are written (wrapping to 0 when they do not fit). */
  reserve(bytes: number): number {
    if (bytes > this.size) throw new RangeError(`write of ${bytes} bytes exceeds floor file of ${this.size}`);
    if (this.#position + bytes > this.size) this.#position = 0;
    const at = this.#position;
    this.#position += bytes;
    return at;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

function totalBytes(buffers: readonly Uint8Array[]): number {
  let total = 0;
  for (const b of buffers) total += b.byteLength;
  return total;
}

/** Blocking writev of every buffer (in IOV_MAX chunks, looping over short writes). */
function writevAllSync(fd: number, buffers: readonly Uint8Array[], position: number): void {
  let at = position;
  for (let i = 0; i < buffers.length; i += MAX_IOVECS) {
    const chunk = buffers.slice(i, i + MAX_IOVECS);
    const want = totalBytes(chunk);
    const wrote = fs.writevSync(fd, chunk as NodeJS.ArrayBufferView[], at);
    if (wrote !== want) {
      // A short write on a preallocated local file does not happen in practice; finish it plainly.
      const rest = Buffer.concat(chunk).subarray(wrote);
      fs.writeSync(fd, rest, 0, rest.byteLength, at + wrote);
    }
    at += want;
  }
}

/**
 * The sync floor: `count` blocking `writeSync(record)` + `fdatasyncSync`, each timed into
 * `rec`. Resolves with the records written (it never yields while it runs).
 */
export function syncFloor(file: FloorFile, record: Uint8Array, count: number, rec: LatencyRecorder): Promise<number> {
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    fs.writeSync(file.fd, record, 0, record.byteLength, file.reserve(record.byteLength));
    fs.fdatasyncSync(file.fd);
    rec.recordSince(t);
  }
  return Promise.resolve(count);
}

/**
 * The sync batch floor: `calls` blocking writes of `perCall` records (one writev) + one
 * `fdatasyncSync` each, each call timed into `rec`. Resolves with the records written.
 */
export function syncBatchFloor(
  file: FloorFile,
  record: Uint8Array,
  perCall: number,
  calls: number,
  rec: LatencyRecorder,
): Promise<number> {
  const batch: Uint8Array[] = new Array<Uint8Array>(perCall).fill(record);
  const bytes = record.byteLength * perCall;
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    writevAllSync(file.fd, batch, file.reserve(bytes));
    fs.fdatasyncSync(file.fd);
    rec.recordSince(t);
  }
  return Promise.resolve(calls * perCall);
}

interface Waiter {
  readonly buffer: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

function settle(batch: readonly Waiter[], err: Error | null): void {
  for (const w of batch) {
    if (err === null) w.resolve();
    else w.reject(err);
  }
}

/**
 * The bare asynchronous group-commit loop: appends queue up; when no batch is in flight the
 * queue (at most `maxBatchRecords`) is written with one callback `fs.writev` and synced with one
 * callback `fs.fdatasync` (skipped when `sync` is false), then every append of the batch
 * resolves and the next batch starts from what arrived meanwhile.
 */
export class AsyncGroupCommit {
  readonly #file: FloorFile;
  readonly #sync: boolean;
  readonly #maxBatchRecords: number;
  #queue: Waiter[] = [];
  #inFlight = false;

  constructor(file: FloorFile, options: { sync: boolean; maxBatchRecords?: number }) {
    this.#file = file;
    this.#sync = options.sync;
    this.#maxBatchRecords = options.maxBatchRecords ?? MAX_IOVECS;
  }

  /** Queues `buffer`; resolves once its batch is written (and synced). */
  append(buffer: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ buffer, resolve, reject });
      if (!this.#inFlight) this.#flush();
    });
  }

  #flush(): void {
    const batch = this.#queue.length <= this.#maxBatchRecords ? this.#queue : this.#queue.slice(0, this.#maxBatchRecords);
    this.#queue = batch === this.#queue ? [] : this.#queue.slice(this.#maxBatchRecords);
    this.#inFlight = true;
    const buffers = batch.map((w) => w.buffer);
    const want = totalBytes(buffers);
    const fd = this.#file.fd;
    fs.writev(fd, buffers as NodeJS.ArrayBufferView[], this.#file.reserve(want), (err, wrote) => {
      if (err === null && wrote !== want) err = Object.assign(new Error(`short writev ${wrote}/${want}`), { code: 'EIO' });
      if (err !== null || !this.#sync) {
        this.#done(batch, err);
        return;
      }
      fs.fdatasync(fd, (syncErr) => this.#done(batch, syncErr));
    });
  }

  #done(batch: readonly Waiter[], err: Error | null): void {
    this.#inFlight = false;
    settle(batch, err);
    if (this.#queue.length > 0) this.#flush();
  }
}

/**
 * The sync group-commit ceiling: appends queue up; at the next turn of the event loop
 * (`setImmediate`, so that every producer woken by the last batch has queued again) the whole
 * queue is written with one blocking writev and synced with one blocking fdatasync.
 */
export class SyncGroupCommit {
  readonly #file: FloorFile;
  #queue: Waiter[] = [];
  #scheduled = false;

  constructor(file: FloorFile) {
    this.#file = file;
  }

  /** Queues `buffer`; resolves once its batch is written and synced. */
  append(buffer: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ buffer, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#drain());
      }
    });
  }

  #drain(): void {
    this.#scheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    const buffers = batch.map((w) => w.buffer);
    try {
      writevAllSync(this.#file.fd, buffers, this.#file.reserve(totalBytes(buffers)));
      fs.fdatasyncSync(this.#file.fd);
    } catch (err) {
      settle(batch, err as Error);
      return;
    }
    settle(batch, null);
  }
}
