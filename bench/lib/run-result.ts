/**
 * What one timed run of one system produces, and how runs of a system and of its reference
 * become a result row: medians over repetitions with their spread, and paired ratios.
 *
 * Ratio conventions (the same everywhere): `ratio_p99` = system p99 / reference p99 (lower is
 * better; the log target is <= 1.5), `ratio_ops` = system ops/s / reference ops/s (higher is
 * better; the group-commit target is >= 0.8).
 *
 * Must never: pair runs from different repetitions when taking a ratio.
 */
import type { LatencySummary } from './latency.ts';
import { pairedRatios, spreadOf, type Spread } from './stats.ts';

/** One run of one system in one repetition. */
export interface RunResult {
  readonly latency: LatencySummary;
  /** Completed operations per second (records/s for the log, calls/s for queries). */
  readonly opsPerS: number;
  /** Main-thread event-loop delay p99 during the run, µs (NaN when not measured). */
  readonly loopDelayP99Us: number;
}

/** A system's runs over the repetitions, in repetition order. */
export interface SystemRuns {
  readonly system: string;
  readonly concurrency: number;
  readonly runs: readonly RunResult[];
}

/** The medians of one system, as they appear in `reference` objects. */
export interface Figures {
  readonly system: string;
  readonly concurrency: number;
  readonly p50_us: number;
  readonly p99_us: number;
  readonly ops_per_s: number;
  readonly loop_delay_p99_us: number;
}

/** A reference the row is also compared with, beyond the main one. */
export interface ExtraComparison {
  readonly reference: Figures;
  readonly ratio_p99: number;
  readonly ratio_ops: number;
}

/** One line of `--json` output and one row of a table. */
export interface ResultRow extends Figures {
  readonly scenario: string;
  readonly reps: number;
  /** [min, max] over the repetitions of each median figure. */
  readonly spread: {
    readonly p50_us: readonly [number, number];
    readonly p99_us: readonly [number, number];
    readonly ops_per_s: readonly [number, number];
    readonly loop_delay_p99_us: readonly [number, number];
    readonly ratio_p99: readonly [number, number];
    readonly ratio_ops: readonly [number, number];
  };
  readonly max_us: number;
  readonly idle_loop_delay_p99_us: number;
  readonly reference: Figures | null;
  readonly ratio_p99: number;
  readonly ratio_ops: number;
  readonly also: readonly ExtraComparison[];
  /** The target this row is held to, in words, and whether the median meets it. */
  readonly target?: string;
  readonly target_met?: boolean;
  readonly note?: string;
  /** Figures particular to a scenario (heap per vote, the split of an open), kept in the JSON. */
  readonly extra?: Readonly<Record<string, number | string>>;
}

function pick(runs: readonly RunResult[], get: (r: RunResult) => number): number[] {
  return runs.map(get);
}

function pair(s: Spread): readonly [number, number] {
  return [s.min, s.max];
}

/** The medians of `sys` over its repetitions. */
export function figuresOf(sys: SystemRuns): Figures {
  return {
    system: sys.system,
    concurrency: sys.concurrency,
    p50_us: spreadOf(pick(sys.runs, (r) => r.latency.p50_us)).median,
    p99_us: spreadOf(pick(sys.runs, (r) => r.latency.p99_us)).median,
    ops_per_s: spreadOf(pick(sys.runs, (r) => r.opsPerS)).median,
    loop_delay_p99_us: spreadOf(pick(sys.runs, (r) => r.loopDelayP99Us)).median,
  };
}

function ratiosOf(sys: SystemRuns, ref: SystemRuns): { p99: Spread; ops: Spread } {
  return {
    p99: spreadOf(pairedRatios(pick(sys.runs, (r) => r.latency.p99_us), pick(ref.runs, (r) => r.latency.p99_us))),
    ops: spreadOf(pairedRatios(pick(sys.runs, (r) => r.opsPerS), pick(ref.runs, (r) => r.opsPerS))),
  };
}

/** Options of `buildRow`. */
export interface RowOptions {
  readonly scenario: string;
  readonly sys: SystemRuns;
  readonly reference?: SystemRuns;
  readonly also?: readonly SystemRuns[];
  readonly idleLoopDelayP99Us: number;
  readonly target?: { readonly text: string; readonly met: (row: ResultRow) => boolean };
  readonly note?: string;
  readonly extra?: Readonly<Record<string, number | string>>;
}

/** Aggregates a system's runs (and its references') into one result row. */
export function buildRow(options: RowOptions): ResultRow {
  const { sys, reference } = options;
  const nan: Spread = { median: NaN, min: NaN, max: NaN };
  const ratios = reference === undefined ? { p99: nan, ops: nan } : ratiosOf(sys, reference);
  const also = (options.also ?? []).map((ref) => {
    const r = ratiosOf(sys, ref);
    return { reference: figuresOf(ref), ratio_p99: r.p99.median, ratio_ops: r.ops.median };
  });
  const row: ResultRow = {
    scenario: options.scenario,
    ...figuresOf(sys),
    reps: sys.runs.length,
    spread: {
      p50_us: pair(spreadOf(pick(sys.runs, (r) => r.latency.p50_us))),
      p99_us: pair(spreadOf(pick(sys.runs, (r) => r.latency.p99_us))),
      ops_per_s: pair(spreadOf(pick(sys.runs, (r) => r.opsPerS))),
      loop_delay_p99_us: pair(spreadOf(pick(sys.runs, (r) => r.loopDelayP99Us))),
      ratio_p99: pair(ratios.p99),
      ratio_ops: pair(ratios.ops),
    },
    max_us: spreadOf(pick(sys.runs, (r) => r.latency.max_us)).median,
    idle_loop_delay_p99_us: options.idleLoopDelayP99Us,
    reference: reference === undefined ? null : figuresOf(reference),
    ratio_p99: ratios.p99.median,
    ratio_ops: ratios.ops.median,
    also,
    ...(options.note === undefined ? {} : { note: options.note }),
    ...(options.extra === undefined ? {} : { extra: options.extra }),
  };
  if (options.target === undefined) return row;
  return { ...row, target: options.target.text, target_met: options.target.met(row) };
}

/** A row for a reference itself (no reference of its own), so that tables and JSON show it too. */
export function referenceRow(scenario: string, sys: SystemRuns, idleLoopDelayP99Us: number, note?: string): ResultRow {
  return buildRow({ scenario, sys, idleLoopDelayP99Us, ...(note === undefined ? {} : { note }) });
}
