/**
 * Per-operation latency recording for the benchmark loops: a growable buffer of samples in
 * microseconds and the percentiles of it. Exact (a sorted copy), not bucketed: the runs are
 * short enough (at most a few million samples) that sorting costs less than a histogram's
 * rounding error would cost in trust.
 *
 * Must never: allocate per sample (the recorder sits inside the timed loop), or report a
 * percentile of an empty run as a number (it is NaN, and the table prints it as "-").
 */

/** Summary of one run's latencies, in microseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly p50_us: number;
  readonly p99_us: number;
  readonly max_us: number;
  readonly mean_us: number;
}

/** Collects latency samples (microseconds) without allocating per sample. */
export class LatencyRecorder {
  #samples: Float64Array;
  #count = 0;

  /** `expected`: a capacity hint; the buffer doubles past it. */
  constructor(expected = 4096) {
    this.#samples = new Float64Array(Math.max(16, expected));
  }

  /** Number of samples recorded. */
  get count(): number {
    return this.#count;
  }

  /** Records one latency in microseconds. */
  record(us: number): void {
    if (this.#count === this.#samples.length) {
      const grown = new Float64Array(this.#samples.length * 2);
      grown.set(this.#samples);
      this.#samples = grown;
    }
    this.#samples[this.#count] = us;
    this.#count += 1;
  }

  /** Records the time since `startMs` (a `performance.now()` value). */
  recordSince(startMs: number): void {
    this.record((performance.now() - startMs) * 1000);
  }

  /** p50, p99, max and mean of what was recorded; NaN fields when nothing was. */
  summarize(): LatencySummary {
    const n = this.#count;
    if (n === 0) return { count: 0, p50_us: NaN, p99_us: NaN, max_us: NaN, mean_us: NaN };
    const sorted = this.#samples.slice(0, n).sort();
    let sum = 0;
    for (let i = 0; i < n; i++) sum += sorted[i] ?? 0;
    return {
      count: n,
      p50_us: percentileOfSorted(sorted, 50),
      p99_us: percentileOfSorted(sorted, 99),
      max_us: sorted[n - 1] ?? NaN,
      mean_us: sum / n,
    };
  }
}

/**
 * The `p`-th percentile (0..100) of ascending `sorted`, nearest-rank (the smallest sample with at
 * least p% of the samples at or below it), so that a reported p99 is a latency that occurred.
 */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const rank = Math.min(n, Math.max(1, Math.ceil((p / 100) * n)));
  return sorted[rank - 1] ?? NaN;
}
