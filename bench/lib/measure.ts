/**
 * The timed loops shared by the engine runs and the references: a run wrapper that records
 * per-operation latency, throughput and the event-loop delay, and N concurrent producers that
 * keep N operations in flight until a deadline.
 *
 * Must never: start the clock before the setup it does not mean to time, or let a producer
 * start an operation after the deadline (the tail would then measure the drain, not the load).
 */
import { LatencyRecorder } from './latency.ts';
import { withLoopDelay } from './loop-delay.ts';
import type { RunResult } from './run-result.ts';

/**
 * Times `body`, which performs operations, records each one's latency in `rec` and resolves
 * with the number of operations it completed (records, for the log). Throughput is that
 * number over the body's wall time; the loop delay is sampled throughout.
 */
export async function measureRun(expected: number, body: (rec: LatencyRecorder) => Promise<number>): Promise<RunResult> {
  const rec = new LatencyRecorder(expected);
  let elapsedMs = 0;
  const { result: ops, loopDelayP99Us } = await withLoopDelay(async () => {
    const start = performance.now();
    const done = await body(rec);
    elapsedMs = performance.now() - start;
    return done;
  });
  return { latency: rec.summarize(), opsPerS: elapsedMs > 0 ? (ops * 1000) / elapsedMs : NaN, loopDelayP99Us };
}

/**
 * Runs `producers` concurrent loops, each calling `op` one at a time until `durationMs` has
 * passed, recording every call's latency; resolves with the operations completed, weighted by
 * `weight` (records per call).
 */
export async function runProducers(
  rec: LatencyRecorder,
  producers: number,
  durationMs: number,
  op: () => Promise<unknown>,
  weight = 1,
): Promise<number> {
  const deadline = performance.now() + durationMs;
  let completed = 0;
  const producer = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const t = performance.now();
      await op();
      rec.recordSince(t);
      completed += weight;
    }
  };
  const loops: Promise<void>[] = [];
  for (let i = 0; i < producers; i++) loops.push(producer());
  await Promise.all(loops);
  return completed;
}

/**
 * Untimed operations at the start of every single-writer run, for every contender alike. The
 * runs of different contenders alternate in one process, and a run that follows another
 * workload starts with its threads where that workload left them: an I/O worker woken onto the
 * CPU the main thread uses, say, until the scheduler spreads them again (measured: ~100-200
 * appends after a run of the synchronous floor). The lead-in lets each run measure its own
 * steady state rather than the switch.
 */
export const RUN_LEAD_IN = 300;

/**
 * One single-writer run: `ops(scratch, RUN_LEAD_IN)` untimed, then `ops(rec, n)` timed as
 * `measureRun` does. `ops` performs `count` operations one at a time, recording each in `rec`.
 */
export async function measureSequential(n: number, ops: (rec: LatencyRecorder, count: number) => Promise<number>): Promise<RunResult> {
  await ops(new LatencyRecorder(RUN_LEAD_IN), RUN_LEAD_IN);
  return measureRun(n, (rec) => ops(rec, n));
}

/** Runs `op` `count` times, one at a time, recording each latency; resolves with `count * weight`. */
export async function runSequential(rec: LatencyRecorder, count: number, op: () => Promise<unknown>, weight = 1): Promise<number> {
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await op();
    rec.recordSince(t);
  }
  return count * weight;
}
