/**
 * The main thread's responsiveness during a scenario (the main thread must stay
 * responsive): `perf_hooks.monitorEventLoopDelay` sampling every millisecond while the scenario
 * runs, and the same measure over an idle loop as its baseline.
 *
 * Must never: leave a monitor enabled after the measured section (it would keep timing every
 * later scenario), or report a delay for a section too short to have a sample (NaN instead).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/** Sampling resolution in ms: node's finest. */
const RESOLUTION_MS = 1;

/** A running event-loop delay measurement. */
export class LoopDelayMonitor {
  readonly #histogram: IntervalHistogram;

  constructor() {
    this.#histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.#histogram.enable();
  }

  /**
   * Stops sampling and returns the p99 delay in microseconds (NaN without samples). Node records
   * the whole interval between timer ticks, so the 1 ms resolution is taken off: what remains is
   * how late the loop was.
   */
  stop(): number {
    this.#histogram.disable();
    if (this.#histogram.count === 0) return NaN;
    return Math.max(0, this.#histogram.percentile(99) / 1000 - RESOLUTION_MS * 1000);
  }
}

/** Runs `body` under a loop-delay monitor; resolves with its result and the p99 delay in µs. */
export async function withLoopDelay<T>(body: () => Promise<T>): Promise<{ result: T; loopDelayP99Us: number }> {
  const monitor = new LoopDelayMonitor();
  try {
    // Node's first tick only sets the histogram's baseline; let it pass, so that a body that
    // blocks from its first instruction is still measured.
    await sleep(2 * RESOLUTION_MS);
    const result = await body();
    // Let one tick fire after the body, so that a body that never yielded (the blocking
    // references) still leaves its one long sample behind instead of none.
    await sleep(2 * RESOLUTION_MS);
    return { result, loopDelayP99Us: monitor.stop() };
  } catch (err) {
    monitor.stop();
    throw err;
  }
}

/** The p99 event-loop delay (µs) of an idle loop over `durationMs`: the baseline for the others. */
export async function idleLoopDelayP99(durationMs: number): Promise<number> {
  const monitor = new LoopDelayMonitor();
  await sleep(durationMs);
  return monitor.stop();
}
