/**
 * `npm run bench -- --report`: writes docs/benchmarks.md and its two charts
 * (docs/bench-latency.svg: latency percentiles of one durable vote; docs/bench-concurrency.svg:
 * votes/s against votes in flight) from what this run's scenarios emitted. Every number and
 * every sentence about who wins is generated from the results: nothing in those files is
 * typed by hand.
 *
 * Must never: write a figure that was not measured in this run, or claim a win the rows do
 * not show (a peer "wins" a row when its median beats consensus-store's on the row's measure).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { EmittedEntry } from './context.ts';
import { loadPeers } from './peers.ts';
import type { ResultRow } from './run-result.ts';
import { postgresDescription } from './systems.ts';
import { formatNumber, formatRatio, formatSpread } from './table.ts';

/** One scenario's output. */
export interface ReportSection {
  readonly name: string;
  readonly entries: readonly EmittedEntry[];
  readonly seconds: number;
  readonly skipped?: string;
}

/** What main hands the report. */
export interface ReportInput {
  readonly machine: Readonly<Record<string, unknown>>;
  readonly sections: readonly ReportSection[];
  readonly seconds: number;
  readonly quick: boolean;
  readonly reps: number;
  readonly argv: readonly string[];
}

const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));
const PEER_PREFIXES = ['sqlite', 'leveldb', 'postgres'];
const CS = 'consensus-store';

function esc(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function mdTable(cells: readonly (readonly string[])[]): string {
  const [header, ...body] = cells;
  if (header === undefined) return '';
  const line = (row: readonly string[]): string => `| ${row.map(esc).join(' | ')} |`;
  return [line(header), `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...body.map(line)].join('\n');
}

function rowsTable(rows: readonly ResultRow[]): string {
  const header = ['system', 'conc', 'p50 µs', 'p99 µs', 'max µs', 'ops/s', 'loop p99 µs', 'reference', 'p99 ratio', 'ops ratio', 'target'];
  const body = rows.map((r) => [
    r.system,
    String(r.concurrency),
    formatSpread(r.p50_us, r.spread.p50_us),
    formatSpread(r.p99_us, r.spread.p99_us),
    formatNumber(r.max_us),
    formatSpread(r.ops_per_s, r.spread.ops_per_s),
    formatSpread(r.loop_delay_p99_us, r.spread.loop_delay_p99_us),
    r.reference?.system ?? '',
    r.reference === null ? '' : formatSpread(r.ratio_p99, r.spread.ratio_p99, formatRatio),
    r.reference === null ? '' : formatSpread(r.ratio_ops, r.spread.ratio_ops, formatRatio),
    r.target === undefined ? '' : `${r.target} **${r.target_met === true ? 'MET' : 'MISSED'}**`,
  ]);
  return mdTable([header, ...body]);
}

function isPeer(system: string): boolean {
  return PEER_PREFIXES.some((p) => system.startsWith(p));
}

function isEngine(system: string): boolean {
  return system.startsWith(CS) && !system.includes('(none');
}

/** The question of a query row (`system: question`), or '' for other rows. */
function questionOf(system: string): string {
  const i = system.indexOf(': ');
  return i < 0 ? '' : system.slice(i + 2);
}

/** Sentences naming every row where a peer's median beats consensus-store's. */
function peerWins(sections: readonly ReportSection[]): { wins: string[]; losses: number } {
  const wins: string[] = [];
  let losses = 0;
  for (const section of sections) {
    for (const entry of section.entries) {
      if (entry.kind === 'rows') {
        for (const row of entry.rows) {
          if (!isPeer(row.system)) continue;
          const q = questionOf(row.system);
          const cs = entry.rows.find((r) => isEngine(r.system) && r.concurrency === row.concurrency && questionOf(r.system) === q && r.scenario === row.scenario);
          if (cs === undefined || !Number.isFinite(row.ops_per_s) || !Number.isFinite(cs.ops_per_s)) continue;
          const opsWin = row.ops_per_s > cs.ops_per_s;
          const latencyOnly = row.scenario === 'vote.single' && row.p99_us < cs.p99_us;
          if (opsWin || latencyOnly) {
            wins.push(
              `**${row.scenario}${row.concurrency > 1 ? ` @${row.concurrency}` : ''}**: ${row.system} — ${formatNumber(row.ops_per_s)} ops/s against ${formatNumber(cs.ops_per_s)} ` +
                `(${(row.ops_per_s / cs.ops_per_s).toFixed(2)}x), p99 ${formatNumber(row.p99_us)} µs against ${formatNumber(cs.p99_us)} µs`,
            );
          } else losses++;
        }
      } else if (entry.kind === 'table' && section.name === 'storage') {
        const [header, ...body] = entry.cells;
        const col = header?.indexOf('GB per 100k blocks') ?? -1;
        if (col < 0) continue;
        for (const row of body) {
          if (!isPeer(row[0] ?? '')) continue;
          const cs = body.find((r) => r[0] === CS && r[1] === row[1]);
          const peerGb = Number(row[col]);
          const csGb = Number(cs?.[col]);
          if (cs !== undefined && peerGb < csGb) wins.push(`**storage, ${row[1]} validators**: ${row[0]} — ${peerGb.toFixed(3)} GB per 100k blocks against ${csGb.toFixed(3)} GB`);
          else if (cs !== undefined) losses++;
        }
      }
    }
  }
  return { wins, losses };
}

function rowsOf(sections: readonly ReportSection[], scenario: string): ResultRow[] {
  const out: ResultRow[] = [];
  for (const s of sections) for (const e of s.entries) if (e.kind === 'rows') out.push(...e.rows.filter((r) => r.scenario === scenario));
  return out;
}

const COLORS = ['#1b6ac9', '#d9480f', '#2b8a3e', '#862e9c', '#e67700', '#0b7285', '#c2255c', '#5c940d', '#495057', '#364fc7', '#a61e4d'];

function log10(v: number): number {
  return Math.log10(Math.max(v, 1e-9));
}

function svgText(x: number, y: number, text: string, opts: { anchor?: string; size?: number; rotate?: number } = {}): string {
  const rot = opts.rotate === undefined ? '' : ` transform="rotate(${opts.rotate} ${x} ${y})"`;
  const safe = text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-size="${opts.size ?? 11}" text-anchor="${opts.anchor ?? 'start'}"${rot}>${safe}</text>`;
}

/** Log-scale ticks (powers of ten) covering [lo, hi]. */
function decades(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(log10(lo)); e <= Math.ceil(log10(hi)); e++) out.push(10 ** e);
  return out;
}

/** Grouped bars of p50/p99/max per system, log scale. */
function latencyChart(rows: readonly ResultRow[], title: string): string | undefined {
  const data = rows.filter((r) => Number.isFinite(r.p50_us));
  if (data.length === 0) return undefined;
  const W = 760;
  const H = 360;
  const left = 70;
  const bottom = 110;
  const top = 40;
  const plotH = H - top - bottom;
  const values = data.flatMap((r) => [r.p50_us, r.p99_us, r.max_us]).filter(Number.isFinite);
  const ticks = decades(Math.min(...values), Math.max(...values));
  const lo = log10(ticks[0] ?? 1);
  const hi = log10(ticks[ticks.length - 1] ?? 10);
  const y = (v: number): number => top + plotH - ((log10(v) - lo) / (hi - lo || 1)) * plotH;
  const groupW = (W - left - 20) / data.length;
  const barW = Math.min(22, (groupW - 10) / 3);
  const parts: string[] = [svgText(W / 2, 20, title, { anchor: 'middle', size: 13 })];
  for (const t of ticks) {
    parts.push(`<line x1="${left}" x2="${W - 20}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#ddd"/>`, svgText(left - 6, y(t) + 4, `${formatNumber(t)} µs`, { anchor: 'end', size: 10 }));
  }
  const series: [string, (r: ResultRow) => number, string][] = [
    ['p50', (r) => r.p50_us, '#1b6ac9'],
    ['p99', (r) => r.p99_us, '#e67700'],
    ['max', (r) => r.max_us, '#c92a2a'],
  ];
  data.forEach((r, i) => {
    const x0 = left + i * groupW + (groupW - 3 * barW) / 2;
    series.forEach(([, get, color], k) => {
      const v = get(r);
      if (!Number.isFinite(v)) return;
      const yy = y(v);
      parts.push(`<rect x="${(x0 + k * barW).toFixed(1)}" y="${yy.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + plotH - yy).toFixed(1)}" fill="${color}"/>`);
    });
    const label = r.system.replace(/ \(.*\)$/, '');
    parts.push(svgText(left + i * groupW + groupW / 2, top + plotH + 14, label, { anchor: 'end', size: 10, rotate: -30 }));
  });
  series.forEach(([name, , color], k) => {
    parts.push(`<rect x="${W - 170 + k * 50}" y="28" width="10" height="10" fill="${color}"/>`, svgText(W - 156 + k * 50, 37, name, { size: 10 }));
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>\n`;
}

/** Lines of ops/s against concurrency per system, log-log. */
function concurrencyChart(rows: readonly ResultRow[], title: string): string | undefined {
  const bySystem = new Map<string, ResultRow[]>();
  for (const r of rows) if (Number.isFinite(r.ops_per_s)) bySystem.set(r.system, [...(bySystem.get(r.system) ?? []), r]);
  if (bySystem.size === 0) return undefined;
  const W = 760;
  const H = 420;
  const left = 70;
  const right = 250;
  const top = 40;
  const bottom = 40;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const xs = [...new Set(rows.map((r) => r.concurrency))].sort((a, b) => a - b);
  const ys = rows.map((r) => r.ops_per_s).filter(Number.isFinite);
  const ticks = decades(Math.min(...ys), Math.max(...ys));
  const lo = log10(ticks[0] ?? 1);
  const hi = log10(ticks[ticks.length - 1] ?? 10);
  const xlo = log10(xs[0] ?? 1);
  const xhi = log10(xs[xs.length - 1] ?? 10);
  const x = (c: number): number => left + ((log10(c) - xlo) / (xhi - xlo || 1)) * plotW;
  const y = (v: number): number => top + plotH - ((log10(v) - lo) / (hi - lo || 1)) * plotH;
  const parts: string[] = [svgText(W / 2, 20, title, { anchor: 'middle', size: 13 })];
  for (const t of ticks) parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#ddd"/>`, svgText(left - 6, y(t) + 4, formatNumber(t), { anchor: 'end', size: 10 }));
  for (const c of xs) parts.push(`<line x1="${x(c).toFixed(1)}" x2="${x(c).toFixed(1)}" y1="${top}" y2="${top + plotH}" stroke="#eee"/>`, svgText(x(c), top + plotH + 16, String(c), { anchor: 'middle', size: 10 }));
  parts.push(svgText(left + plotW / 2, H - 6, 'votes in flight', { anchor: 'middle', size: 11 }), svgText(16, top + plotH / 2, 'durable votes/s', { anchor: 'middle', size: 11, rotate: -90 }));
  [...bySystem].forEach(([system, rs], i) => {
    const color = system.startsWith(CS) ? '#000000' : (COLORS[i % COLORS.length] ?? '#333');
    const dash = system.includes('group-commit') ? ' stroke-dasharray="4 3"' : '';
    const pts = rs.sort((a, b) => a.concurrency - b.concurrency).map((r) => `${x(r.concurrency).toFixed(1)},${y(r.ops_per_s).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="${system.startsWith(CS) ? 3 : 1.5}"${dash} points="${pts.join(' ')}"/>`);
    parts.push(`<line x1="${left + plotW + 12}" x2="${left + plotW + 30}" y1="${top + 6 + i * 16}" y2="${top + 6 + i * 16}" stroke="${color}" stroke-width="2"${dash}/>`);
    parts.push(svgText(left + plotW + 34, top + 10 + i * 16, system.replace(/ \((WAL|sync:|synchronous_commit).*\)$/, ''), { size: 10 }));
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>\n`;
}

function version(path: string): string {
  try {
    return (JSON.parse(readFileSync(fileURLToPath(new URL(path, import.meta.url)), 'utf8')) as { version?: string }).version ?? '?';
  } catch {
    return '?';
  }
}

/** Writes docs/benchmarks.md and the charts; resolves with the paths written. */
export async function writeReport(input: ReportInput): Promise<string[]> {
  const m = input.machine;
  const peers = loadPeers(() => undefined);
  const load = Number(m['load_avg_1m']);
  const cores = cpus().length;
  const out: string[] = [];
  const written: string[] = [];
  out.push(
    '# Benchmarks',
    '',
    `Generated by \`npm run bench -- ${input.argv.join(' ')}\` on ${String(m['date'])}; ${input.seconds.toFixed(0)} s in all. ` +
      'Every figure, table, chart and sentence below comes from that run (bench/lib/report.ts); rerun the command to regenerate this file. ' +
      'How to read the columns and references: [bench-notes.md](bench-notes.md).',
    '',
  );
  if (Number.isFinite(load) && load > cores * 0.5) {
    out.push(
      `> **The machine was busy**: load average ${load.toFixed(2)} on ${cores} cores when the run started (other jobs shared it). ` +
        'Absolute times are inflated and noisy; the ratios, taken per repetition between runs back to back, are what to read, and a difference smaller than a row\'s spread is a tie.',
      '',
    );
  }
  if (input.quick) out.push('> This is a `--quick` run (a CI smoke): too short to quote.', '');
  out.push(
    '## Machine and versions',
    '',
    mdTable([
      ['what', 'value'],
      ['date', String(m['date'])],
      ['node', String(m['node'])],
      ['platform', String(m['platform'])],
      ['cpus', `${String(m['cpus'])} x ${String(m['cpu_model'])}`],
      ['memory', `${String(m['memory_gib'])} GiB`],
      ['load average at start (1 min / 5 min)', `${Number(m['load_avg_1m']).toFixed(2)} / ${Number(m['load_avg_5m']).toFixed(2)}`],
      ['data directory (file system)', `${String(m['data_dir'])} (${String(m['data_fs'])})`],
      ['mode, repetitions', `${String(m['mode'])}, ${input.reps} (the peer scenarios use at most 3 for opens)`],
      ['consensus-store', version('../../package.json')],
      ['better-sqlite3 (SQLite)', `${peers.versions['better-sqlite3'] ?? 'missing'} (SQLite ${peers.versions['sqlite'] ?? '?'}), WAL, synchronous=FULL`],
      ['classic-level (LevelDB)', `${peers.versions['classic-level'] ?? 'missing'}, sync: true`],
      ['pg / PostgreSQL server', `${peers.versions['pg'] ?? 'missing'} / ${postgresDescription() ?? 'not measured (did not answer)'}`],
      ['tinybench', version('../../node_modules/tinybench/package.json')],
    ]),
    '',
  );
  const latency = latencyChart(rowsOf(input.sections, 'vote.single'), 'One durable vote, one writer: latency percentiles (log scale)');
  const concurrency = concurrencyChart(rowsOf(input.sections, 'voters'), 'Durable votes/s against votes in flight (log-log)');
  if (latency !== undefined) {
    writeFileSync(`${DOCS}bench-latency.svg`, latency);
    written.push('docs/bench-latency.svg');
  }
  if (concurrency !== undefined) {
    writeFileSync(`${DOCS}bench-concurrency.svg`, concurrency);
    written.push('docs/bench-concurrency.svg');
  }

  const { wins, losses } = peerWins(input.sections);
  out.push('## Where a peer wins', '');
  if (wins.length === 0) out.push(`In no compared row does a peer beat consensus-store (${losses} rows compared).`, '');
  else {
    out.push(`A peer beats consensus-store in ${wins.length} of ${wins.length + losses} compared rows (the row's median on its measure: ops/s, or p99 for a single vote, or bytes for storage):`, '');
    for (const w of wins) out.push(`- ${w}`);
    out.push('');
  }
  const targets: string[] = [];
  for (const s of input.sections) {
    for (const e of s.entries) {
      if (e.kind !== 'rows') continue;
      for (const r of e.rows) {
        if (r.target === undefined) continue;
        const measure = r.target.includes('records/s')
          ? `${formatNumber(r.ops_per_s)} records/s`
          : r.target.includes('ops')
            ? `ops ratio ${formatRatio(r.ratio_ops)}`
            : r.target.includes('p99')
              ? `p99 ratio ${formatRatio(r.ratio_p99)}`
              : `p50 ${formatNumber(r.p50_us / 1000)} ms`;
        targets.push(`| ${esc(r.scenario)} | ${esc(r.system)} | ${r.concurrency} | ${esc(r.target)} | ${measure} | ${r.target_met === true ? 'MET' : '**MISSED**'} |`);
      }
    }
  }
  if (targets.length > 0) out.push('## Targets', '', '| scenario | system | conc | target | measured (median) | verdict |', '|---|---|---:|---|---|---|', ...targets, '');
  if (latency !== undefined) out.push('![One durable vote: latency percentiles](bench-latency.svg)', '');
  if (concurrency !== undefined) out.push('![Durable votes/s against votes in flight](bench-concurrency.svg)', '');

  for (const section of input.sections) {
    out.push(`## ${section.name}`, '', `_${section.seconds.toFixed(0)} s_`, '');
    if (section.skipped !== undefined) out.push(`Skipped: ${section.skipped}`, '');
    for (const e of section.entries) {
      if (e.kind === 'rows') {
        out.push(`### ${e.title}`, '', rowsTable(e.rows), '');
        const notes = e.rows.filter((r) => r.note !== undefined).map((r) => `- ${r.system}: ${r.note ?? ''}`);
        const also = e.rows.flatMap((r) => r.also.map((a) => `- ${r.system} @${r.concurrency} against ${a.reference.system}: p99 ratio ${formatRatio(a.ratio_p99)}, ops ratio ${formatRatio(a.ratio_ops)}`));
        const idle = e.rows[0]?.idle_loop_delay_p99_us;
        if (idle !== undefined && Number.isFinite(idle)) out.push(`Idle event loop p99 delay: ${formatNumber(idle)} µs.`, '');
        if (notes.length + also.length > 0) out.push(...notes, ...also, '');
      } else if (e.kind === 'table') {
        out.push(`### ${e.title}`, '', mdTable(e.cells), '');
        if (e.notes.length > 0) out.push(...e.notes.map((n) => `- ${n}`), '');
      } else if (e.text.trim() !== '') {
        out.push(`- ${e.text.trim().replace(/^== /, '')}`, '');
      }
    }
  }
  writeFileSync(`${DOCS}benchmarks.md`, `${out.join('\n')}\n`);
  written.unshift('docs/benchmarks.md');
  return written;
}
