/**
 * Readable tables of result rows: one table per scenario, each figure as "median (min-max)"
 * over the repetitions, each system next to its reference and the ratio to it.
 *
 * Must never: print a NaN as a number ("-" instead), or round a ratio so far that 1.46 and 1.54
 * (either side of a target) look the same.
 */
import type { ResultRow } from './run-result.ts';

/** Formats a count or a latency compactly: 182, 1.2k, 3.4M; "-" for NaN. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '-';
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${(value / 1e6).toFixed(abs >= 1e7 ? 1 : 2)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toFixed(abs >= 1e5 ? 0 : 1)}k`;
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** Formats a ratio with two decimals, "-" for NaN. */
export function formatRatio(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}x` : '-';
}

/** "median (min-max)", or just the median when there is one repetition or no spread. */
export function formatSpread(median: number, range: readonly [number, number], fmt = formatNumber): string {
  const [lo, hi] = range;
  if (!Number.isFinite(median)) return '-';
  const m = fmt(median);
  const l = fmt(lo);
  const h = fmt(hi);
  return l === h ? m : `${m} (${l}-${h})`;
}

/** Lays out `cells` (first row the header) as an aligned text table. */
export function layoutTable(cells: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of cells) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  const line = (row: readonly string[]): string =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  const [header, ...body] = cells;
  if (header === undefined) return '';
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...body.map(line)].join('\n');
}

/** The table of one scenario's rows (a reference's own figures are on its own row, below the engine's). */
export function renderRows(title: string, rows: readonly ResultRow[]): string {
  const header = [
    'system',
    'conc',
    'p50 us',
    'p99 us',
    'ops/s',
    'loop p99 us',
    'reference',
    'p99 ratio',
    'ops ratio',
    'target',
  ];
  const body = rows.map((r) => [
    r.system,
    String(r.concurrency),
    formatSpread(r.p50_us, r.spread.p50_us),
    formatSpread(r.p99_us, r.spread.p99_us),
    formatSpread(r.ops_per_s, r.spread.ops_per_s),
    formatSpread(r.loop_delay_p99_us, r.spread.loop_delay_p99_us),
    r.reference?.system ?? '',
    r.reference === null ? '' : formatSpread(r.ratio_p99, r.spread.ratio_p99, formatRatio),
    r.reference === null ? '' : formatSpread(r.ratio_ops, r.spread.ratio_ops, formatRatio),
    r.target === undefined ? '' : `${r.target} ${r.target_met === true ? 'MET' : 'MISSED'}`,
  ]);
  const extras = rows.flatMap((r) =>
    r.also.map(
      (a) =>
        `  ${r.system} @${r.concurrency} vs ${a.reference.system}: p99 ratio ${formatRatio(a.ratio_p99)}, ops ratio ${formatRatio(a.ratio_ops)} (ref ${formatNumber(a.reference.ops_per_s)} ops/s, p99 ${formatNumber(a.reference.p99_us)} us)`,
    ),
  );
  const notes = rows.filter((r) => r.note !== undefined).map((r) => `  note (${r.system}): ${r.note ?? ''}`);
  const idle = rows[0]?.idle_loop_delay_p99_us;
  const parts = [`== ${title}`, layoutTable([header, ...body])];
  if (idle !== undefined && Number.isFinite(idle)) parts.push(`  idle event loop p99 delay: ${formatNumber(idle)} us`);
  if (extras.length > 0) parts.push(...extras);
  if (notes.length > 0) parts.push(...notes);
  return parts.join('\n');
}
