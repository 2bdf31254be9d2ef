/**
 * Command line of `npm run bench`: scenario names, `--quick`, `--json`, `--reps N`, `--help`.
 *
 * Must never: accept an unknown flag or scenario silently (a typo would run the full suite).
 */

/** Parsed command line. */
export interface BenchArgs {
  /** Scenario names to run; empty means all. */
  readonly scenarios: readonly string[];
  readonly quick: boolean;
  readonly json: boolean;
  /** Repetitions per measurement; undefined means the scenario's default for the mode. */
  readonly reps: number | undefined;
  readonly help: boolean;
  /** Write docs/benchmarks.md (and its SVG charts) from this run's results. */
  readonly report: boolean;
}

/** Parses `argv` (without node and the script); throws with a usage hint on anything unknown. */
export function parseArgs(argv: readonly string[], known: readonly string[]): BenchArgs {
  const scenarios: string[] = [];
  let quick = false;
  let json = false;
  let reps: number | undefined;
  let help = false;
  let report = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--quick') quick = true;
    else if (arg === '--json') json = true;
    else if (arg === '--help' || arg === '-h') help = true;
    else if (arg === '--report') report = true;
    else if (arg === '--reps' || arg.startsWith('--reps=')) {
      const raw = arg === '--reps' ? argv[++i] : arg.slice('--reps='.length);
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 1 || n > 100) throw new Error(`--reps takes an integer 1..100, got ${String(raw)}`);
      reps = n;
    } else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}`);
    else if (known.includes(arg)) scenarios.push(arg);
    else throw new Error(`unknown scenario ${arg} (known: ${known.join(', ')})`);
  }
  return { scenarios, quick, json, reps, help, report };
}

/** The usage text. */
export function usage(known: readonly string[]): string {
  return [
    'usage: npm run bench -- [scenario ...] [--quick] [--json] [--reps N] [--report]',
    `  scenarios: ${known.join(', ')} (default: all)`,
    '  --quick    short runs for CI smoke (under a minute in all)',
    '  --json     one JSON object per result row on stdout; tables go to stderr (use npm run -s to drop npm\'s banner)',
'  --report   write docs/benchmarks.md and its SVG charts (docs/bench-*.svg) from this run',
    '  --reps N   repetitions per measurement (default 5, 3 with --quick; at least 3 for a ratio worth reading)',
    '  env BENCH_DIR=/path   put the temp data directories on another disk (default os.tmpdir())',
  ].join('\n');
}
