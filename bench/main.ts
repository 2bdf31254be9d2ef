/**
 * `npm run bench`: the benchmark entry. Runs every scenario (or those named), each interleaved
 * with its references in the same process on the same disk, and prints a table per scenario,
 * or with `--json` one JSON object per result row (docs/bench-notes.md explains the columns).
 *
 *   npm run bench                      all scenarios, full length
 *   npm run bench -- log --reps 7      one scenario, 7 repetitions
 *   npm run bench -- --quick --json    CI smoke: under a minute, JSON lines on stdout
 *
 * Must never: be imported by the library or the tests (benchmarks are not timed assertions),
 * or leave temp data behind (bench/lib/temp-dir.ts removes it on every exit path).
 */
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { parseArgs, usage } from './lib/args.ts';
import { createContext, type BenchContext } from './lib/context.ts';
import { benchBaseDir, fileSystemTypeOf, removeRunDir } from './lib/temp-dir.ts';
import { runLogScenario } from './scenarios/log.ts';
import { runStoresScenario } from './scenarios/stores.ts';

const SCENARIOS: Readonly<Record<string, (ctx: BenchContext) => Promise<void>>> = {
  log: runLogScenario,
  stores: runStoresScenario,
};

function describeMachine(ctx: BenchContext, names: readonly string[]): void {
  const cpu = cpus();
  const base = benchBaseDir();
  const [l1, l5] = loadavg();
  const record = {
    scenario: 'machine',
    node: process.version,
    platform: `${platform()} ${release()}`,
    cpus: cpu.length,
    cpu_model: cpu[0]?.model ?? 'unknown',
    memory_gib: Math.round(totalmem() / 2 ** 30),
    load_avg_1m: l1,
    load_avg_5m: l5,
    data_dir: base,
    data_fs: fileSystemTypeOf(base),
    gc_exposed: typeof globalThis.gc === 'function',
    mode: ctx.quick ? 'quick' : 'full',
    reps: ctx.reps,
    scenarios: names,
    date: new Date().toISOString(),
  };
  const text = [
    `consensus-store bench: ${names.join(', ')} (${record.mode}, ${ctx.reps} reps, interleaved)`,
    `  node ${record.node} on ${record.platform}, ${record.cpus} x ${record.cpu_model}, ${record.memory_gib} GiB`,
    `  load average ${l1?.toFixed(2) ?? '?'} / ${l5?.toFixed(2) ?? '?'}; data in ${base} (${record.data_fs})`,
    record.data_fs === 'tmpfs' ? '  WARNING: tmpfs ignores fdatasync; set BENCH_DIR to a real disk' : '',
  ]
    .filter((line) => line !== '')
    .join('\n');
  ctx.emitRecord(record, text);
}

async function main(): Promise<number> {
  const known = Object.keys(SCENARIOS);
  let args;
  try {
    args = parseArgs(process.argv.slice(2), known);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage(known)}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${usage(known)}\n`);
    return 0;
  }
  const names = args.scenarios.length > 0 ? args.scenarios : known;
  const ctx = createContext({ quick: args.quick, json: args.json, reps: args.reps ?? (args.quick ? 3 : 5) });
  describeMachine(ctx, names);
  const started = performance.now();
  try {
    for (const name of names) {
      const run = SCENARIOS[name];
      if (run !== undefined) await run(ctx);
    }
  } finally {
    removeRunDir();
  }
  ctx.log(`\ndone in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
