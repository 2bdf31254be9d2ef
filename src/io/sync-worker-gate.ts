/**
 * The CPU-contention gate of the I/O worker (sync-worker.ts): whether spinning (the worker's,
 * for the next request) and polling (the main thread's, for a completion) may run now.
 *
 * Spinning and polling pay only when a CPU is free for them; on a saturated machine they steal
 * the time slice the other thread needs and the tail grows tenfold. So both are gated, re-checked
 * about once a second: where Linux pressure stall information is readable, they run while
 * /proc/pressure/cpu reports runnable tasks waiting less than 20% of the last 10 s (read
 * asynchronously, off the commit path); elsewhere while the 1-minute load average minus this
 * process's own CPU use leaves a CPU idle. With more than one CPU only.
 *
 * It must never block the main thread (no synchronous read, the pressure file is read in the
 * background and its verdict lands later), and never open the gate on a single CPU. Its
 * interval and threshold are tuned (docs/io-worker.md): they are not to change casually.
 */
import { readFile } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';

/** How often the CPU-contention gate is re-evaluated, in ms. */
const GATE_INTERVAL_MS = 1000;
/**
 * Busy-waiting stops when runnable tasks waited for a CPU more than this % of the last 10 s.
 * Our own spinning raises the figure to ~7-8% on an otherwise idle 2-core machine, so a lower
 * threshold switched the fast path off by itself; machines busy enough for spinning to hurt
 * (p99 x12 measured) showed 40-65%.
 */
const MAX_CPU_PRESSURE_PERCENT = 20;
const PRESSURE_FILE = '/proc/pressure/cpu';

/** `some avg10` of a /proc/pressure/cpu text, or undefined when absent. */
function cpuPressure(text: string): number | undefined {
  const match = /^some avg10=([0-9.]+)/m.exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** The gate of one worker. */
export class BusyWaitGate {
  readonly #always: boolean;
  /** Whether spinning and polling are allowed now (a CPU is free for them). */
  #allowed = true;
  #checkedAt = Number.NEGATIVE_INFINITY;
  #cpu = process.cpuUsage();
  #cpuAt = performance.now();
  #pressureReadable = true;

  /** @param always - ignore the machine and always allow (`busyWait: 'always'`, benchmarks). */
  constructor(always: boolean) {
    this.#always = always;
  }

  /** The verdict of the last check, as it stands (not re-checked; `always` aside). */
  get allowed(): boolean {
    return this.#allowed;
  }

  /** True while spinning and polling are in use: always, or the last verdict allows them. */
  get open(): boolean {
    return this.#always || this.#allowed;
  }

  /** Whether busy-waiting is allowed now; schedules a re-check when the last one is old. */
  check(): boolean {
    if (this.#always) return true;
    const now = performance.now();
    if (now - this.#checkedAt >= GATE_INTERVAL_MS) {
      this.#checkedAt = now;
      this.#recheck(now);
    }
    return this.#allowed;
  }

  #recheck(now: number): void {
    if (availableParallelism() < 2) {
      this.#allowed = false;
      return;
    }
    if (this.#pressureReadable) {
      readFile(PRESSURE_FILE, 'latin1', (err, text) => {
        const pressure = err === null ? cpuPressure(text) : undefined;
        if (pressure === undefined) this.#pressureReadable = false;
        else this.#allowed = pressure < MAX_CPU_PRESSURE_PERCENT;
      });
      return;
    }
    const cpu = process.cpuUsage(this.#cpu);
    const elapsedMs = now - this.#cpuAt;
    this.#cpu = process.cpuUsage();
    this.#cpuAt = now;
    const ownCpus = elapsedMs > 0 ? (cpu.user + cpu.system) / 1000 / elapsedMs : 0;
    this.#allowed = (loadavg()[0] ?? 0) - ownCpus < availableParallelism() - 1;
  }
}
