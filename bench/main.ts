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
 * Each scenario runs in a child process of its own (this file again, with the hidden flag
 * `--child` and `--expose-gc`), which sends what it emits back over IPC: one scenario's heap
 * (a million-vote store, gigabytes of garbage from a fill), JIT state, threads and dirty pages
 * must not become the next one's GC pauses. Measured: run in one process after the others,
 * `appendVote` on a million votes had a p99 2.3x the floor and the idle loop a 2.6 ms p99; run
 * alone, 1.4x and 0.2 ms.
 *
 * Must never: be imported by the library or the tests (benchmarks are not timed assertions),
 * or leave temp data behind (bench/lib/temp-dir.ts removes it on every exit path).
 */
import { fork } from 'node:child_process';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs, usage } from './lib/args.ts';
import { createContext, type BenchContext, type EmittedEntry } from './lib/context.ts';
import { benchBaseDir, fileSystemTypeOf, removeRunDir } from './lib/temp-dir.ts';

type Scenario = (ctx: BenchContext) => Promise<void>;

/**
 * Every scenario, in run order: the engine's own (log, stores, audit, evidence, devnet), then
 * the comparisons with the peers (vote, voters, block, recovery, query, storage, cpu).
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
  pg: async () => (await import('./scenarios/pg.ts')).runPgScenario,
  snapshot: async () => (await import('./scenarios/snapshot.ts')).runSnapshotScenario,
  tier: async () => (await import('./scenarios/tier.ts')).runTierScenario,
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
    // Scenarios run in child processes started with --expose-gc (see runInChild).
    gc_exposed: true,
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

/** Hidden flag: this process is a child running the named scenarios for a parent (see the top comment). */
const CHILD_FLAG = '--child';

/** What a child sends its parent: each emitted entry, then how the scenario ended. */
type ChildMessage = { readonly entry: EmittedEntry } | { readonly done: true; readonly skipped?: string };

/** Runs one scenario in a child process; resolves with its entries (and why it was skipped, if it was). */
function runInChild(name: string, argv: readonly string[]): Promise<{ entries: EmittedEntry[]; skipped?: string }> {
  const flags = argv.filter((a, i) => a.startsWith('-') || argv[i - 1] === '--reps').filter((a) => a !== '--report');
  return new Promise((resolve) => {
    const entries: EmittedEntry[] = [];
    let skipped: string | undefined;
    let finished = false;
    const child = fork(fileURLToPath(import.meta.url), [name, ...flags, CHILD_FLAG], {
      execArgv: [...process.execArgv, '--expose-gc'],
      serialization: 'advanced',
      stdio: 'inherit',
    });
    child.on('message', (message: ChildMessage) => {
      if ('entry' in message) entries.push(message.entry);
      else {
        finished = true;
        skipped = message.skipped;
      }
    });
    child.on('exit', (code, signal) => {
      if (!finished) skipped = `the scenario's process ended without finishing (${signal ?? `exit code ${String(code)}`})`;
      resolve({ entries, ...(skipped === undefined ? {} : { skipped }) });
    });
  });
}

/** The child side: runs the named scenario(s) here and sends every entry to the parent. */
async function runAsChild(names: readonly string[], ctx: BenchContext): Promise<void> {
  const send = (message: ChildMessage): Promise<void> => new Promise((resolve) => process.send?.(message, () => resolve()));
  for (const name of names) {
    let skipped: string | undefined;
    const load = SCENARIOS[name];
    let run: Scenario | undefined;
    try {
      run = await load?.();
    } catch (err) {
      skipped = `module did not load: ${err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err)}`;
      ctx.emitRecord({ scenario: name, skipped: true, reason: skipped }, `\n== ${name}: skipped: ${skipped}`);
    }
    try {
      if (run !== undefined) await run(ctx);
    } finally {
      removeRunDir();
    }
    await send({ done: true, ...(skipped === undefined ? {} : { skipped }) });
  }
}

async function main(): Promise<number> {
  const known = Object.keys(SCENARIOS);
  const isChild = process.argv.includes(CHILD_FLAG);
  const argv = process.argv.slice(2).filter((a) => a !== CHILD_FLAG);
  let args;
  try {
    args = parseArgs(argv, known);
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
  const reps = args.reps ?? (args.quick ? 3 : 5);
  if (isChild) {
    const send = (entry: EmittedEntry): void => void process.send?.({ entry } satisfies ChildMessage);
    await runAsChild(names, createContext({ quick: args.quick, json: args.json, reps }, send));
    // The IPC channel keeps a child alive: let go of it once everything is sent.
    process.disconnect?.();
    return 0;
  }
  const sections: { name: string; entries: EmittedEntry[]; seconds: number; skipped?: string }[] = [];
  const ctx = createContext({ quick: args.quick, json: args.json, reps });
  const machine = describeMachine(ctx, names);
  const started = performance.now();
  try {
    for (const name of names) {
      const t = performance.now();
      const { entries, skipped } = await runInChild(name, argv);
      if (skipped !== undefined && !entries.some((e) => e.kind === 'record' && e.record['skipped'] === true)) {
        ctx.emitRecord({ scenario: name, skipped: true, reason: skipped }, `\n== ${name}: skipped: ${skipped}`);
      }
      sections.push({ name, entries, seconds: (performance.now() - t) / 1000, ...(skipped === undefined ? {} : { skipped }) });
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
