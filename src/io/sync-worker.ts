/**
 * The commit-path fast lane: a dedicated I/O worker thread that performs `write + fdatasync`
 * (or `fdatasync` alone) on a numeric fd, fed through one request slot in a SharedArrayBuffer.
 *
 * Why: a plain async `writev` then `fdatasync` costs two threadpool round trips; here the main
 * thread copies the bytes into shared memory, flips the slot's state and is woken by an
 * `Atomics.waitAsync` completion, one cross-thread hop each way. After each request the worker
 * spins briefly (default 200 us) before it sleeps in `Atomics.wait`, so a steady stream of
 * commits (group commit issues the next one as soon as the previous resolves) rarely pays the
 * futex wake-up. Requests queue on the main thread; one is in the slot at a time.
 *
 * Two threads that wake each other tend to be put on one CPU by the kernel, and a thread that
 * spins there keeps the other one queued behind it for up to a scheduler slice (traced: 0.2-1 ms
 * with the second CPU idle). So each side stops spinning when the other is not running: the main
 * thread parks when the worker has not picked a request up within 40 us, and the worker spins only
 * 50 us (not the full spin) after a request whose completion had to wake a parked main thread.
 *
 * Spinning and polling pay only when a CPU is free for them, so both are gated: the
 * CPU-contention gate is in sync-worker-gate.ts, the main thread's polling and parking in
 * sync-worker-wait.ts. This file holds the request slot: the queue, the dispatch into shared
 * memory, the completion, and the thread's start and death.
 *
 * The worker is referenced (keeps the process alive) only while a request is pending: a pending
 * `Atomics.waitAsync` alone does not keep node running, and an idle worker must not either.
 *
 * Start-up: the thread is started from a source string (`eval: true`) that is valid as a script
 * and as a module (see `sync-worker-entry.ts`), with an empty `execArgv` and an environment
 * without NODE_OPTIONS. An eval'd worker otherwise inherits the embedding process's flags:
 * `--input-type=module` made the source an ES module without `require` (the thread died at
 * load), and preloads (`-r`, in execArgv or NODE_OPTIONS) ran in this thread too, where they
 * can throw or instrument fs. None of them has anything to do in a thread that only calls
 * `writeSync` and `fdatasyncSync`. The thread counts as started when it posts
 * SYNC_WORKER_SERVING (just before its serving loop), not at node's `online` event, which comes
 * before the source has run. A thread that throws or exits before that, or a Worker constructor
 * that throws, is a start-up failure: `startError()` returns a ConsensusStoreError
 * WORKER_FAILED ("the I/O worker thread could not start: <cause>", with the cause), and requests
 * sent meanwhile, which it never served, reject with that error. It is not an I/O error and
 * says nothing about the disk.
 *
 * Must never: block the main thread (no synchronous fs call, no `Atomics.wait` here), report
 * success for a failed write or fdatasync, or lose an errno code (EIO, ENOSPC, EBADF propagate
 * exactly, as an ErrnoError with node's `code`). If the worker dies with requests in flight their
 * outcome is unknown, so they reject with EIO, which poisons the log (D6).
 */
import { Worker } from 'node:worker_threads';
import { ConsensusStoreError } from '../errors.ts';
import { ErrnoError } from './types.ts';
import {
  OP_SYNC,
  OP_WRITE_SYNC,
  SLOT_ERR_LEN,
  SLOT_ERR_SYSCALL,
  SLOT_FD,
  SLOT_LENGTH,
  SLOT_OP,
  SLOT_PICKUP,
  SLOT_RESULT,
  SLOT_SPIN,
  SLOT_STATE,
  STATE_REQUEST,
  SYNC_WORKER_HEADER_BYTES,
  SYNC_WORKER_SOURCE,
} from './sync-worker-entry.ts';
import { BusyWaitGate } from './sync-worker-gate.ts';
import { CompletionWait, waitAsync } from './sync-worker-wait.ts';

/** Options of a SyncWorker. */
export interface SyncWorkerOptions {
  /** Largest request in bytes carried through shared memory; bigger ones must use the plain path. Default 4 MiB. */
  readonly capacity?: number;
  /** How long the worker spins for the next request before it sleeps, in microseconds. Default 200; 0 never spins. */
  readonly spinMicros?: number;
  /**
   * Longest time the main thread polls for a completion (spinning at most 50 us per event-loop
   * turn, through `setImmediate`, so the loop keeps serving other work) before it parks on `Atomics.waitAsync`,
   * in microseconds. Polling saves the cross-thread wake-up of the main thread at the price of
   * CPU while a sync is in flight. The window adapts: about 3x the recent average service time,
   * at most this; when syncs take longer than half of it (a slow disk) the main thread does not
   * poll at all. Default 1000; 0 never polls.
   */
  readonly pollMicros?: number;
  /** `auto` (default): spin and poll only while a CPU is free (sync-worker-gate.ts); `always`: ignore the gate (benchmarks). */
  readonly busyWait?: 'auto' | 'always';
  /**
   * Test seam: the JavaScript source the thread runs instead of SYNC_WORKER_SOURCE (the
   * start-up failure tests pass one that throws or exits before serving). Never set it otherwise.
   */
  readonly source?: string;
}

/** Default shared data region: one default-sized group-commit batch (4 MiB). */
const DEFAULT_CAPACITY = 4 * 1024 * 1024;
const DEFAULT_SPIN_MICROS = 200;
const DEFAULT_POLL_MICROS = 1000;
const MAX_SPIN_MICROS = 10_000;

interface SyncRequest {
  readonly op: number;
  readonly fd: number;
  readonly buffers: readonly Uint8Array[];
  readonly length: number;
  readonly position: number;
  readonly path: string;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/** Lifecycle: `starting` until the thread serves, then `running`; `failed` and `closed` are final. */
type WorkerState = 'starting' | 'running' | 'failed' | 'closed';

/** The environment of the thread: this process's, without NODE_OPTIONS (see the file comment). */
function workerEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  return env;
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * One I/O worker thread and its request queue. Create it, await `ready()`, then check
 * `startError()` (the thread could not start: WORKER_FAILED) and `usable()`: when false
 * without a start error (the runtime lacks `Atomics.waitAsync`, or the thread died after it
 * served), callers use the plain async path instead.
 */
export class SyncWorker {
  /** Largest `writeAndSync` request (total bytes) this worker accepts. */
  readonly maxRequestBytes: number;
  readonly #ctl: Int32Array;
  readonly #position: Float64Array;
  readonly #errCode: Uint8Array;
  readonly #data: Uint8Array;
  readonly #queue: SyncRequest[] = [];
  readonly #ready: Promise<void>;
  #worker: Worker | undefined;
  #state: WorkerState = 'starting';
  /** Why the thread could not start; set once, only while `starting`. */
  #startError: ConsensusStoreError | undefined;
  #current: SyncRequest | undefined;
  #referenced = true;
  /** Dispatches that had to wake a sleeping worker. */
  #wokeWorker = 0;
  readonly #spinMicros: number;
  readonly #gate: BusyWaitGate;
  readonly #wait: CompletionWait;

  /** Starts the thread (asynchronously: start-up takes tens of ms; see `ready`). */
  constructor(options: SyncWorkerOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_CAPACITY;
    const spinMicros = options.spinMicros ?? DEFAULT_SPIN_MICROS;
    const pollMicros = options.pollMicros ?? DEFAULT_POLL_MICROS;
    if (!Number.isSafeInteger(capacity) || capacity < 4096 || capacity > 1024 * 1024 * 1024) {
      throw new RangeError(`capacity must be an integer between 4096 and 1 GiB, got ${String(capacity)}`);
    }
    if (!Number.isFinite(spinMicros) || spinMicros < 0 || spinMicros > MAX_SPIN_MICROS) {
      throw new RangeError(`spinMicros must be between 0 and ${MAX_SPIN_MICROS}, got ${String(spinMicros)}`);
    }
    if (!Number.isFinite(pollMicros) || pollMicros < 0 || pollMicros > MAX_SPIN_MICROS) {
      throw new RangeError(`pollMicros must be between 0 and ${MAX_SPIN_MICROS}, got ${String(pollMicros)}`);
    }
    this.#spinMicros = spinMicros;
    this.#gate = new BusyWaitGate(options.busyWait === 'always');
    this.maxRequestBytes = capacity;
    const sab = new SharedArrayBuffer(SYNC_WORKER_HEADER_BYTES + capacity);
    this.#ctl = new Int32Array(sab, 0, 16);
    this.#wait = new CompletionWait(this.#ctl, pollMicros / 1000, (request) => this.#current === request, () => this.#complete());
    this.#position = new Float64Array(sab, 64, 1);
    this.#errCode = new Uint8Array(sab, 96, 64);
    this.#data = new Uint8Array(sab, SYNC_WORKER_HEADER_BYTES, capacity);
    this.#ready = this.#start(sab, capacity, options.source ?? SYNC_WORKER_SOURCE);
  }

  #start(sab: SharedArrayBuffer, capacity: number, source: string): Promise<void> {
    if (waitAsync === undefined) {
      this.#state = 'failed';
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      let worker: Worker;
      try {
        worker = new Worker(source, {
          eval: true,
          workerData: { sab, capacity },
          name: 'consensus-store-io',
          stdout: false,
          stderr: false,
          // No inherited flags or preloads (see the file comment).
          execArgv: [],
          env: workerEnv(),
        });
      } catch (err) {
        this.#state = 'failed';
        this.#startError = this.#startFailure(err);
        resolve();
        return;
      }
      this.#worker = worker;
      // Referenced while starting (someone awaits `ready`); unreferenced once idle.
      worker.once('message', () => {
        // SYNC_WORKER_SERVING, the only message the thread sends: it reached its serving loop.
        if (this.#state === 'starting') this.#state = 'running';
        if (this.#current === undefined) this.#setReferenced(false);
        resolve();
      });
      worker.once('error', (err) => {
        this.#die(err);
        resolve();
      });
      worker.once('exit', (code) => {
        this.#die(new Error(`the thread exited with code ${code}`));
        resolve();
      });
    });
  }

  #startFailure(cause: unknown): ConsensusStoreError {
    return new ConsensusStoreError('WORKER_FAILED', `the I/O worker thread could not start: ${describeCause(cause)}`, { cause });
  }

  /** True while spinning and polling are in use (the CPU gate is open); for diagnostics. */
  get busyWaiting(): boolean {
    return this.#gate.open;
  }

  /**
   * Counts since start, for diagnostics and benchmarks: completions seen by polling; completions
   * seen without it (parked: mostly after a wake-up of the main thread); polls given up because
   * the worker had not started (stalled); dispatches that had to wake a sleeping worker.
   */
  stats(): { readonly polled: number; readonly parked: number; readonly stalled: number; readonly wokeWorker: number } {
    const { polled, parked, stalled } = this.#wait.counts;
    return { polled, parked, stalled, wokeWorker: this.#wokeWorker };
  }

  /** Resolves once the thread serves (or failed to start, or was shut down); never rejects. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /**
   * Why the thread could not start: a ConsensusStoreError WORKER_FAILED carrying the cause (its
   * source threw or it exited before serving, or the Worker constructor threw). Undefined while
   * it starts or runs, after a shutdown, after a death once it had served, and where the runtime
   * lacks `Atomics.waitAsync` (never started: the plain path is meant).
   */
  startError(): ConsensusStoreError | undefined {
    return this.#startError;
  }

  /** True when requests may be sent: the thread runs (or is starting) and was not shut down. */
  usable(): boolean {
    return this.#state === 'running' || this.#state === 'starting';
  }

  /**
   * Writes all of `buffers` at `position` on `fd`, then fdatasyncs it, in the worker. Rejects
   * with an ErrnoError carrying the errno code (`EIO`, `ENOSPC`, `EBADF`, ...) of the failing
   * call; the sync is not attempted when the write fails. `path` only names the file in errors.
   * Throws RangeError when the request exceeds `maxRequestBytes`.
   */
  writeAndSync(fd: number, buffers: readonly Uint8Array[], position: number, path: string): Promise<void> {
    let length = 0;
    for (const buf of buffers) length += buf.byteLength;
    if (length > this.maxRequestBytes) {
      throw new RangeError(`request of ${length} bytes exceeds the worker's ${this.maxRequestBytes}`);
    }
    return this.#enqueue(OP_WRITE_SYNC, fd, buffers, length, position, path);
  }

  /** fdatasync of `fd` in the worker; rejects with the errno code of the failure. */
  datasync(fd: number, path: string): Promise<void> {
    return this.#enqueue(OP_SYNC, fd, [], 0, 0, path);
  }

  /** Stops the thread once the queue is empty; requests after this reject with EBADF. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'failed') return;
    while (this.#current !== undefined) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.#state = 'closed';
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker !== undefined) await worker.terminate();
  }

  #enqueue(op: number, fd: number, buffers: readonly Uint8Array[], length: number, position: number, path: string): Promise<void> {
    if (!this.usable()) {
      if (this.#startError !== undefined) return Promise.reject(this.#startError);
      return Promise.reject(new ErrnoError(this.#state === 'closed' ? 'EBADF' : 'EIO', 'sync-worker', path));
    }
    return new Promise<void>((resolve, reject) => {
      const request: SyncRequest = { op, fd, buffers, length, position, path, resolve, reject };
      if (this.#current === undefined) this.#dispatch(request);
      else this.#queue.push(request);
    });
  }

  /** Copies `request` into the slot, wakes the worker and waits (asynchronously) for DONE. */
  #dispatch(request: SyncRequest): void {
    this.#current = request;
    this.#setReferenced(true);
    let at = 0;
    for (const buf of request.buffers) {
      this.#data.set(buf, at);
      at += buf.byteLength;
    }
    const ctl = this.#ctl;
    ctl[SLOT_OP] = request.op;
    ctl[SLOT_FD] = request.fd;
    ctl[SLOT_LENGTH] = request.length;
    ctl[SLOT_RESULT] = 0;
    ctl[SLOT_SPIN] = this.#gate.check() ? this.#spinMicros : 0;
    ctl[SLOT_PICKUP] = 0;
    this.#position[0] = request.position;
    Atomics.store(ctl, SLOT_STATE, STATE_REQUEST);
    if (Atomics.notify(ctl, SLOT_STATE) > 0) this.#wokeWorker += 1;
    this.#wait.start(request, this.#gate.allowed);
  }

  /** Reads the result out of the slot, dispatches the next request, then settles this one. */
  #complete(): void {
    const request = this.#current;
    if (request === undefined) return;
    // A completion proves the thread serves, even if its SYNC_WORKER_SERVING is still in transit.
    if (this.#state === 'starting') this.#state = 'running';
    const error = this.#ctl[SLOT_RESULT] === 0 ? undefined : this.#readError(request.path);
    this.#current = undefined;
    this.#wait.serviced();
    const next = this.#queue.shift();
    if (next !== undefined) this.#dispatch(next);
    else this.#setReferenced(false);
    if (error === undefined) request.resolve();
    else request.reject(error);
  }

  #readError(path: string): ErrnoError {
    const n = this.#ctl[SLOT_ERR_LEN] ?? 0;
    const code = n > 0 ? String.fromCharCode(...this.#errCode.subarray(0, n)) : 'EIO';
    const syscall = this.#ctl[SLOT_ERR_SYSCALL] === 0 ? 'write' : 'fdatasync';
    return new ErrnoError(code, syscall, path);
  }

  #setReferenced(on: boolean): void {
    if (this.#referenced === on || this.#worker === undefined) return;
    this.#referenced = on;
    if (on) this.#worker.ref();
    else this.#worker.unref();
  }

  /**
   * The thread is gone. If it never served (it died while `starting` and had not picked up the
   * request in the slot), it could not start: that is the start error, and what was sent
   * meanwhile was not performed, so it rejects with that error. Otherwise whatever was in
   * flight has an unknown outcome, so it fails with EIO.
   */
  #die(cause: unknown): void {
    const neverServed =
      this.#state === 'starting' && (this.#current === undefined || Atomics.load(this.#ctl, SLOT_PICKUP) === 0);
    if (neverServed) this.#startError = this.#startFailure(cause);
    if (this.#state !== 'closed') this.#state = 'failed';
    this.#worker = undefined;
    const lost = this.#current === undefined ? [...this.#queue] : [this.#current, ...this.#queue];
    this.#current = undefined;
    this.#queue.length = 0;
    for (const request of lost) {
      if (this.#startError !== undefined) {
        request.reject(this.#startError);
        continue;
      }
      const err = new ErrnoError('EIO', 'sync-worker', request.path);
      (err as Error & { cause?: unknown }).cause = cause;
      request.reject(err);
    }
  }
}
