/**
 * `npm run bench`: the benchmark entry. Runs every scenario (or those named), each interleaved
 * with its references in the same process on the same disk, and prints a table per scenario,
 * or with `--json` one JSON object per result row (docs/bench-notes.md explains the columns).
 *
 *   npm run bench                      all scenarios, full length
 *   npm run bench -- log --reps 7      one scenario, 7 repetitions
 *   npm run bench -- single            the log's single-writer latency section alone
 *   npm run bench -- --quick --json    CI smoke: under a minute, JSON lines on stdout
 *   npm run bench -- --report          every scenario, then docs/benchmarks.md + docs/bench-*.svg
 *
 * Scenarios are imported when they run, so that one whose module does not load (a store being
 * rewired, a peer missing) prints "skipped" with the reason and the others still run.
 *
 * Must never: be imported by the library or the tests (benchmarks are not timed assertions),
 * or leave temp data behind (bench/lib/temp-dir.ts removes it on every exit path).
 */
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { parseArgs, usage } from './lib/args.ts';
import { createContext, type BenchContext, type EmittedEntry } from './lib/context.ts';
import { benchBaseDir, fileSystemTypeOf, removeRunDir } from './lib/temp-dir.ts';

type Scenario = (ctx: BenchContext) => Promise<void>;

/**
 * Every scenario, in run order: the engine's own (log, stores, audit, evidence, devnet), then
 * issue 6's comparisons with the peers (vote, voters, block, recovery, query, storage, cpu).
 */
const SCENARIOS: Readonly<Record<string, () => Promise<Scenario>>> = {
  log: async () => (await import('./scenarios/log.ts')).runLogScenario,
  single: async () => (await import('./scenarios/log.ts')).runLogSingleScenario,
  stores: async () => (await import('./scenarios/stores.ts')).runStoresScenario,
  audit: async () => {
    const { runAuditScenario } = await import('./scenarios/audit.ts');
    return async (ctx) => {
      await runAuditScenario(ctx);
    };
  },
  evidence: async () => {
    const { runEvidenceScenario } = await import('./scenarios/evidence.ts');
    return async (ctx) => {
      await runEvidenceScenario(ctx);
    };
  },
  devnet: async () => (await import('./scenarios/devnet.ts')).runDevnetScenario,
  vote: async () => (await import('./scenarios/peer-writes.ts')).runVoteScenario,
  voters: async () => (await import('./scenarios/peer-writes.ts')).runVotersScenario,
  block: async () => (await import('./scenarios/peer-writes.ts')).runBlockScenario,
  recovery: async () => (await import('./scenarios/recovery.ts')).runRecoveryScenario,
  query: async () => (await import('./scenarios/queries.ts')).runQueryScenario,
  storage: async () => (await import('./scenarios/storage.ts')).runStorageScenario,
  cpu: async () => (await import('./scenarios/cpu.ts')).runCpuScenario,
};

function describeMachine(ctx: BenchContext, names: readonly string[]): Record<string, unknown> {
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
  return record;
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
  // `single` repeats a section of `log`; it runs only when named.
  const names = args.scenarios.length > 0 ? args.scenarios : known.filter((n) => n !== 'single');
  const sections: { name: string; entries: EmittedEntry[]; seconds: number; skipped?: string }[] = [];
  let current: EmittedEntry[] = [];
  const ctx = createContext({ quick: args.quick, json: args.json, reps: args.reps ?? (args.quick ? 3 : 5) }, (entry) => current.push(entry));
  const machine = describeMachine(ctx, names);
  current = [];
  const started = performance.now();
  try {
    for (const name of names) {
      const load = SCENARIOS[name];
      if (load === undefined) continue;
      current = [];
      const t = performance.now();
      let skipped: string | undefined;
      let run: Scenario | undefined;
      try {
        run = await load();
      } catch (err) {
        skipped = `module did not load: ${err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err)}`;
        ctx.emitRecord({ scenario: name, skipped: true, reason: skipped }, `\n== ${name}: skipped: ${skipped}`);
      }
      if (run !== undefined) await run(ctx);
      sections.push({ name, entries: current, seconds: (performance.now() - t) / 1000, ...(skipped === undefined ? {} : { skipped }) });
    }
  } finally {
    removeRunDir();
  }
  const seconds = (performance.now() - started) / 1000;
  ctx.log(`\ndone in ${seconds.toFixed(1)} s`);
  if (args.report) {
    const { writeReport } = await import('./lib/report.ts');
    const written = await writeReport({ machine, sections, seconds, quick: args.quick, reps: ctx.reps, argv: process.argv.slice(2) });
    ctx.log(`report written: ${written.join(', ')}`);
  }
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
