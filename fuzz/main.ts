/**
 * `npm run fuzz`: the crash explorer (docs/fuzzing.md). Simulated power cuts over the whole store on the
 * simulated disk, then real SIGKILLs of a writer child on the real file system; a summary at
 * the end; exit code 1 on any violation.
 *
 *   npm run fuzz                               300 simulated runs + 20 real kills, fresh seed
 *   npm run fuzz -- --seed 7 --runs 1000       a given seed and run count
 *   npm run fuzz -- --minutes 60               as many runs as fit in an hour (+ kills)
 *   npm run fuzz -- --kills 500 --no-sim       real kills only
 *   npm run fuzz -- --replay 123456789         one simulated run, by its run seed (printed on failure)
 *   npm run fuzz -- --replay S --no-retention  that run without the retention feature (older seeds)
 *   npm run fuzz -- --ci                       the CI budget: fixed + fresh seeds, >= 10,000
 *                                              simulated crash points, >= 200 real kills
 *
 * It must never report success with a violation recorded, and never hide the seeds it used.
 */
import { randomBytes } from 'node:crypto';
import { runKillSession } from './kill/parent.ts';
import { Tally } from './report.ts';
import { runOne, runSimSession } from './sim/run.ts';

/** The command-line options. */
export interface FuzzArgs {
  seed: number | undefined;
  runs: number | undefined;
  minutes: number | undefined;
  kills: number | undefined;
  replay: number | undefined;
  scenario: string | undefined;
  ci: boolean;
  sim: boolean;
  /** `--no-retention`: a replayed run without the retention feature (as before bounded history). */
  retention: boolean;
}

/** Parses argv (without node and script). Throws RangeError on a bad option. */
export function parseArgs(argv: readonly string[]): FuzzArgs {
  const args: FuzzArgs = { seed: undefined, runs: undefined, minutes: undefined, kills: undefined, replay: undefined, scenario: undefined, ci: false, sim: true, retention: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new RangeError(`${a} needs a non-negative number`);
      return v;
    };
    if (a === '--seed') args.seed = Math.trunc(num());
    else if (a === '--runs') args.runs = Math.trunc(num());
    else if (a === '--minutes') args.minutes = num();
    else if (a === '--kills') args.kills = Math.trunc(num());
    else if (a === '--replay') args.replay = Math.trunc(num());
    else if (a === '--scenario') args.scenario = argv[++i];
    else if (a === '--ci') args.ci = true;
    else if (a === '--no-sim') args.sim = false;
    else if (a === '--no-retention') args.retention = false;
    else throw new RangeError(`unknown option ${a}`);
  }
  return args;
}

/** A fresh seed (printed, so any run can be replayed). */
export function freshSeed(): number {
  return randomBytes(4).readUInt32LE(0) & 0x7fffffff;
}

/** Fixed seeds of the CI budget (always run), before the fresh ones. */
export const CI_FIXED_SEEDS: readonly number[] = [1, 2, 3, 42, 20240611];
/** The CI budget. */
export const CI_BUDGET = { simCrashPoints: 10_000, kills: 200, freshSeeds: 2 } as const;

/**
 * Runs the CI budget on `tally`: the real kills in a separate process (so that their timers are
 * not starved by the simulator, and they use the second core), while this process runs the
 * fixed seeds plus fresh ones until the crash-point budget. The kill process's count and
 * violations are folded into the tally.
 */
export async function runCiBudget(tally: Tally, log: (line: string) => void = console.log): Promise<void> {
  const fresh = Array.from({ length: CI_BUDGET.freshSeeds }, freshSeed);
  const seeds = [...CI_FIXED_SEEDS, ...fresh];
  log(`ci budget: seeds ${seeds.join(', ')} (fresh: ${fresh.join(', ')}), >= ${CI_BUDGET.simCrashPoints} simulated crash points, ${CI_BUDGET.kills} real kills`);
  const killSeed = fresh[0]!;
  const kills = runKillProcess(killSeed, CI_BUDGET.kills);
  const perSeed = Math.ceil(CI_BUDGET.simCrashPoints / seeds.length);
  for (const seed of seeds) {
    const target = tally.simCrashPoints + perSeed;
    await runSimSession({ seed, crashPoints: target }, tally);
    log(`  seed ${seed}: ${tally.simRuns} runs, ${tally.simCrashPoints} crash points so far, ${tally.violations.length} violations`);
  }
  const k = await kills;
  tally.killCycles += k.kills;
  for (let i = 0; i < k.kills; i++) tally.crash('sigkill');
  tally.ackedChecked += k.acked;
  for (const line of k.violations) tally.violate({ source: 'kill', seed: killSeed, message: line, replay: `npm run fuzz -- --kills ${CI_BUDGET.kills} --seed ${killSeed} --no-sim` });
  if (k.exitCode !== 0 && k.violations.length === 0) tally.violate({ source: 'kill', seed: killSeed, message: `kill session exited ${k.exitCode}`, replay: `npm run fuzz -- --kills ${CI_BUDGET.kills} --seed ${killSeed} --no-sim` });
  log(`  kills: ${k.kills} real kills (seed ${killSeed}), ${k.violations.length} violations`);
}

/** Runs `npm run fuzz -- --kills N --no-sim` as a child process and reads its summary. */
async function runKillProcess(seed: number, kills: number): Promise<{ kills: number; acked: number; violations: string[]; exitCode: number }> {
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const script = fileURLToPath(import.meta.url);
  const execArgv = process.execArgv.some((a) => a.includes('tsx')) ? [...process.execArgv] : ['--import', 'tsx'];
  const child = spawn(process.execPath, [...execArgv, script, '--kills', String(kills), '--no-sim', '--seed', String(seed)], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr.on('data', (d: Buffer) => (text += d.toString()));
  const exitCode = await new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  const num = (re: RegExp): number => Number(re.exec(text)?.[1] ?? 0);
  const violations = text.split('\n').filter((l) => l.startsWith('VIOLATION'));
  return { kills: num(/real kill cycles: (\d+)/), acked: num(/acknowledged writes checked: (\d+)/), violations, exitCode };
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const tally = new Tally();
  if (args.replay !== undefined) {
    console.log(`replaying simulated run seed ${args.replay}${args.scenario === undefined ? '' : ` (scenario ${args.scenario})`}`);
    await runOne(args.replay, tally, args.scenario, args.retention ? undefined : { retention: false });
  } else if (args.ci) {
    await runCiBudget(tally);
  } else {
    const seed = args.seed ?? freshSeed();
    const deadlineMs = args.minutes === undefined ? undefined : args.minutes * 60_000;
    const runs = args.runs ?? (args.minutes === undefined ? 300 : undefined);
    const kills = args.kills ?? (args.minutes === undefined ? 20 : Math.max(20, Math.round(args.minutes * 10)));
    console.log(`fuzz seed ${seed}: ${runs ?? 'unbounded'} simulated runs${args.minutes === undefined ? '' : `, ${args.minutes} minutes`}, ${kills} real kills`);
    if (args.sim) {
      const simDeadline = deadlineMs === undefined ? undefined : deadlineMs * 0.9;
      await runSimSession({ seed, ...(runs === undefined ? {} : { runs }), ...(simDeadline === undefined ? {} : { deadlineMs: simDeadline }), ...(args.scenario === undefined ? {} : { scenario: args.scenario }), progressEvery: 100 }, tally);
    }
    if (kills > 0) await runKillSession({ seed, kills, lanes: 2 }, tally);
  }
  for (const line of tally.summary()) console.log(line);
  return tally.violations.length === 0 ? 0 : 1;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/').split('/').pop() ?? '');
if (invokedDirectly) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(2);
    },
  );
}
