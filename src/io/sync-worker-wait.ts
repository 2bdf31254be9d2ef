/**
 * How the main thread learns that the I/O worker (sync-worker.ts) finished the request in the
 * slot: it polls the slot's state word for a while, in slices that leave the event loop free,
 * then parks on `Atomics.waitAsync` until the worker's notify.
 *
 * The poll window adapts: about 3x the recent mean service time, at most `pollMicros`; when
 * syncs take longer than half of that (a slow disk) the main thread does not poll at all, and
 * not while the CPU-contention gate (sync-worker-gate.ts) is closed. A worker that has not
 * picked the request up 40 us after the dispatch is not running (most likely queued on the CPU
 * this thread spins on), so polling gives way to parking at once. docs/io-worker.md has the
 * measurements behind each figure.
 *
 * It must never block the main thread (no `Atomics.wait`, no spin longer than one slice),
 * never allocate per check (the poll callback is bound once, the clock read twice a slice), and
 * never report a completion for any request but the one in the slot.
 */
import { SLOT_PICKUP, SLOT_STATE, STATE_DONE, STATE_REQUEST } from './sync-worker-entry.ts';

const STATE = SLOT_STATE;
const PICKUP = SLOT_PICKUP;
const REQUEST = STATE_REQUEST;
const DONE = STATE_DONE;

/**
 * Longest synchronous spin of one polling turn, in ms: the event loop is held at most this long
 * at a time, and turns (each allocating an Immediate) are few enough not to drive the GC.
 */
const POLL_SLICE_MS = 0.05;
/** The poll window as a multiple of the recent mean service time. */
const POLL_WINDOW_FACTOR = 3;
/** How long a polled-for request may wait for the worker to start serving it before polling gives way, in ms. */
const PICKUP_GRACE_MS = 0.04;
/** Bounds of the measured checks-per-ms rate (a stalled slice must not shrink it to nothing). */
const MIN_LOADS_PER_MS = 1_000;
const MAX_LOADS_PER_MS = 10_000_000;
/** Weight of one sample in the moving average of service times (1/16). */
const EWMA_SHIFT = 16;

type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
type WaitAsync = (array: Int32Array, index: number, value: number) => WaitAsyncResult;

/** Atomics.waitAsync (ES2024; lib ES2023 does not declare it), or undefined where the runtime lacks it. */
export const waitAsync: WaitAsync | undefined = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync?.bind(Atomics);

/** What the waiter counted, for `SyncWorker.stats()`. */
export interface WaitCounts {
  /** Completions seen by polling. */
  polled: number;
  /** Completions seen without it (mostly after a wake-up of the main thread). */
  parked: number;
  /** Polls given up because the worker had not started serving. */
  stalled: number;
}

/** The waiting side of one worker's slot. Requests are opaque here: only their identity matters. */
export class CompletionWait {
  readonly #ctl: Int32Array;
  readonly #pollMaxMs: number;
  /** Whether `request` is still the one in the slot. */
  readonly #isCurrent: (request: object) => boolean;
  /** Takes the result out of the slot (the slot holds DONE). */
  readonly #complete: () => void;
  readonly counts: WaitCounts = { polled: 0, parked: 0, stalled: 0 };
  /** The request being polled for, and when polling for it gives way to waitAsync. */
  #pollRequest: object | undefined;
  #pollDeadline = 0;
  /** Shared-memory checks per millisecond, measured: sizes a polling slice without reading the clock in the loop. */
  #loadsPerMs = 20_000;
  /** Moving average of dispatch-to-completion times, in ms: sizes the poll window. */
  #serviceMs: number;
  #dispatchedAt = 0;

  /**
   * @param ctl - the slot's Int32 words.
   * @param pollMaxMs - the longest poll window (`pollMicros / 1000`); 0 never polls.
   */
  constructor(ctl: Int32Array, pollMaxMs: number, isCurrent: (request: object) => boolean, complete: () => void) {
    this.#ctl = ctl;
    this.#pollMaxMs = pollMaxMs;
    this.#isCurrent = isCurrent;
    this.#complete = complete;
    this.#serviceMs = pollMaxMs / 4;
  }

  /**
   * Waits for `request`, just posted to the slot: polls for it when the gate `allowed` it and
   * the window is worth it, else parks at once.
   */
  start(request: object, allowed: boolean): void {
    this.#dispatchedAt = performance.now();
    const window = this.#pollWindowMs(allowed);
    if (window > 0) {
      this.#pollRequest = request;
      this.#pollDeadline = this.#dispatchedAt + window;
      setImmediate(this.#pollTick);
    } else {
      this.#awaitDone(request);
    }
  }

  /** Folds the time from dispatch to now into the mean service time (call at each completion). */
  serviced(): void {
    this.#serviceMs += (performance.now() - this.#dispatchedAt - this.#serviceMs) / EWMA_SHIFT;
  }

  /** How long to poll for the request just dispatched: 0 when polling would mostly miss. */
  #pollWindowMs(allowed: boolean): number {
    if (this.#pollMaxMs === 0 || !allowed || this.#serviceMs > this.#pollMaxMs / 2) return 0;
    return Math.min(this.#pollMaxMs, POLL_WINDOW_FACTOR * this.#serviceMs);
  }

  /**
   * Checks for DONE until `#pollDeadline`, then parks on waitAsync. Each event-loop turn spins
   * for at most POLL_SLICE_MS before it yields. Polling one check per turn allocated an
   * Immediate and a closure every microsecond or so (~20 KB per append); the scavenges that
   * followed (one every ~50 appends, 0.1-0.4 ms each, waking V8's helper threads, which then
   * queued ahead of this worker on the CPU it needed) were the single-writer p99. The callback
   * is bound once, and the clock is read twice a slice (each read allocates a heap number): the
   * slice is a number of checks, recalibrated from how long the last slice took.
   */
  #pollTick = (): void => {
    const request = this.#pollRequest;
    if (request === undefined || !this.#isCurrent(request)) return;
    const ctl = this.#ctl;
    const started = performance.now();
    const budget = Math.max(64, Math.floor(this.#loadsPerMs * POLL_SLICE_MS));
    for (let n = 0; n < budget; n++) {
      if (Atomics.load(ctl, STATE) === DONE) {
        this.#pollRequest = undefined;
        this.counts.polled += 1;
        this.#complete();
        return;
      }
    }
    const now = performance.now();
    if (now > started) {
      const rate = budget / (now - started);
      this.#loadsPerMs = Math.min(MAX_LOADS_PER_MS, Math.max(MIN_LOADS_PER_MS, this.#loadsPerMs + (rate - this.#loadsPerMs) / 4));
    }
    // A worker that has not even started serving by now is not running: most likely the kernel
    // woke it onto the CPU this thread spins on and keeps it queued there (seen: ~1 ms, the other
    // CPU idle). Spinning on would only hold it off, so park and let it run.
    const stalled = Atomics.load(ctl, PICKUP) === 0 && now - this.#dispatchedAt > PICKUP_GRACE_MS;
    if (now < this.#pollDeadline && !stalled) {
      setImmediate(this.#pollTick);
    } else {
      if (stalled) this.counts.stalled += 1;
      this.#pollRequest = undefined;
      this.#awaitDone(request);
    }
  };

  /** Parks on `Atomics.waitAsync` until the worker flips the slot to DONE. */
  #awaitDone(request: object): void {
    if (Atomics.load(this.#ctl, STATE) === DONE) {
      this.counts.parked += 1;
      this.#complete();
      return;
    }
    const wait = (waitAsync as WaitAsync)(this.#ctl, STATE, REQUEST);
    if (wait.async) {
      wait.value.then(
        () => this.#afterWake(request),
        () => this.#afterWake(request),
      );
    } else {
      this.#afterWake(request);
    }
  }

  #afterWake(request: object): void {
    if (!this.#isCurrent(request)) return;
    if (Atomics.load(this.#ctl, STATE) === DONE) {
      this.counts.parked += 1;
      this.#complete();
    } else {
      this.#awaitDone(request);
    }
  }
}
