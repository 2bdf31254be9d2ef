/**
 * What a scenario receives from the harness: the mode (quick or full), the repetitions, and
 * where its results go (a table on stdout, or JSON lines on stdout with the tables on stderr).
 *
 * Must never: write anything but JSON lines to stdout in `--json` mode.
 */
import type { ResultRow } from './run-result.ts';
import { layoutTable, renderRows } from './table.ts';

/** What a scenario emitted, as the report (bench/lib/report.ts) receives it. */
export type EmittedEntry =
  | { readonly kind: 'rows'; readonly title: string; readonly rows: readonly ResultRow[] }
  | { readonly kind: 'record'; readonly record: Readonly<Record<string, unknown>>; readonly text: string }
  | { readonly kind: 'table'; readonly title: string; readonly cells: readonly (readonly string[])[]; readonly notes: readonly string[] };

/** A scenario's view of the harness. */
export interface BenchContext {
  readonly quick: boolean;
  readonly json: boolean;
  /** Repetitions per interleaved measurement. */
  readonly reps: number;
  /** Progress and notes, for a human (stderr in JSON mode). */
  log(message: string): void;
  /** Emits one table of rows (and, in JSON mode, one JSON line per row). */
  emit(title: string, rows: readonly ResultRow[]): void;
  /** Emits a free-form JSON record (JSON mode) or a line of text (table mode). */
  emitRecord(record: Record<string, unknown>, text: string): void;
  /**
   * Emits a free-form table (first row the header) with notes under it: printed, kept for the
   * report, and in JSON mode one record per body row (`scenario`, then the header's columns).
   */
  emitTable(scenario: string, title: string, cells: readonly (readonly string[])[], notes?: readonly string[]): void;
}

/**
 * Replaces NaN with null (JSON has no NaN) and rounds fractions to 3 decimals (microsecond
 * timers do not carry more).
 */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value !== 'number') return value;
  if (!Number.isFinite(value)) return null;
  return Number.isInteger(value) ? value : Math.round(value * 1000) / 1000;
}

/** A context writing to this process's stdout and stderr. */
export function createContext(
  options: { quick: boolean; json: boolean; reps: number },
  onEmit?: (entry: EmittedEntry) => void,
): BenchContext {
  const human = (text: string): void => {
    if (options.json) process.stderr.write(`${text}\n`);
    else process.stdout.write(`${text}\n`);
  };
  return {
    quick: options.quick,
    json: options.json,
    reps: options.reps,
    log: human,
    emit(title, rows) {
      onEmit?.({ kind: 'rows', title, rows });
      human(`\n${renderRows(title, rows)}\n`);
      if (options.json) for (const row of rows) process.stdout.write(`${JSON.stringify(row, jsonSafe)}\n`);
    },
    emitRecord(record, text) {
      onEmit?.({ kind: 'record', record, text });
      if (text !== '') human(text);
      if (options.json) process.stdout.write(`${JSON.stringify(record, jsonSafe)}\n`);
    },
    emitTable(scenario, title, cells, notes = []) {
      onEmit?.({ kind: 'table', title, cells, notes });
      human(`\n== ${title}\n${layoutTable(cells)}${notes.map((n) => `\n  ${n}`).join('')}\n`);
      if (!options.json) return;
      const [header, ...body] = cells;
      for (const row of body) {
        const record: Record<string, unknown> = { scenario };
        row.forEach((cell, i) => {
          record[header?.[i] ?? `col${i}`] = cell;
        });
        process.stdout.write(`${JSON.stringify(record, jsonSafe)}\n`);
      }
    },
  };
}
