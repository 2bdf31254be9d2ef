/**
 * Aggregation across repetitions: each figure is reported as the median of its repetitions with
 * the spread (min and max), and ratios are taken per repetition (engine and reference measured
 * back to back) before their median, so that drift on a shared machine cancels within a pair.
 *
 * Must never: average ratios (the median is the honest centre of 3-7 noisy pairs), or hide a
 * NaN (a missing figure stays NaN and prints as "-").
 */

/** The median and the spread of one figure over repetitions. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/** Median, min and max of `values`, ignoring NaN; all NaN when none is a number. */
export function spreadOf(values: readonly number[]): Spread {
  const finite = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  const n = finite.length;
  if (n === 0) return { median: NaN, min: NaN, max: NaN };
  const mid = Math.floor(n / 2);
  const median = n % 2 === 1 ? (finite[mid] ?? NaN) : ((finite[mid - 1] ?? NaN) + (finite[mid] ?? NaN)) / 2;
  return { median, min: finite[0] ?? NaN, max: finite[n - 1] ?? NaN };
}

/** Per-repetition ratios `a[i] / b[i]` (pairs with a missing side are NaN). */
export function pairedRatios(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.min(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[i] ?? NaN;
    const y = b[i] ?? NaN;
    out.push(y === 0 ? NaN : x / y);
  }
  return out;
}
