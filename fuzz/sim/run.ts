/**
 * The simulator loop: run seeds derived from the session seed, one scenario per run (chosen
 * from the run's seed, so `--replay <run seed>` reproduces it alone), until the run count or
 * the time budget is reached. Every problem becomes a violation with its replay command.
 */
import { Prng } from '../../src/io/prng.ts';
import type { Tally } from '../report.ts';
import { describe, type FeatureOverrides, SimRun } from './harness.ts';
import { RESTORE_SHARE_OF_CRASH, SCENARIOS } from './scenarios.ts';

/** The seed of run `index` of a session seeded `seed` (below 2^32, printable, replayable). */
export function runSeed(seed: number, index: number): number {
  return (new Prng(seed * 4096 + (index % 4096)).nextU32() ^ Math.floor(index / 4096)) >>> 0;
}

/** The scenario a run seed selects. */
export function scenarioOf(seed: number, only?: string): (typeof SCENARIOS)[number] {
  if (only !== undefined) {
    const found = SCENARIOS.find(([name]) => name === only);
    if (found === undefined) throw new RangeError(`unknown scenario ${only} (${SCENARIOS.map(([n]) => n).join(', ')})`);
    return found;
  }
  const total = SCENARIOS.reduce((s, [, w]) => s + w, 0);
  let x = new Prng(seed + 2 ** 40).int(0, total - 1);
  let chosen = SCENARIOS[0]!;
  for (const entry of SCENARIOS) {
    if (x < entry[1]) {
      chosen = entry;
      break;
    }
    x -= entry[1];
  }
  // A draw of its own (older run seeds keep their scenario unless it picks them).
  if (chosen[0] === 'crash' && new Prng(seed + 2 ** 43).float() < RESTORE_SHARE_OF_CRASH) return SCENARIOS.find(([n]) => n === 'restore')!;
  return chosen;
}

/**
 * Runs one simulated run; returns its problems (also recorded on the tally). `overrides` turn
 * features off (`{ retention: false }`: the run as it was before bounded history).
 */
export async function runOne(seed: number, tally: Tally, only?: string, overrides?: FeatureOverrides): Promise<string[]> {
  const [name, , scenario] = scenarioOf(seed, only);
  const run = new SimRun(seed, tally, name, overrides);
  tally.scenario(name);
  try {
    await scenario(run);
  } catch (err) {
    run.problems.push(`scenario ${name} threw: ${describe(err)}${err instanceof Error && err.stack ? `\n${err.stack.split('\n').slice(1, 4).join('\n')}` : ''}`);
  }
  tally.simRuns++;
  const replay = `npm run fuzz -- --replay ${seed}${only === undefined ? '' : ` --scenario ${only}`}${overrides?.retention === false ? ' --no-retention' : ''}`;
  for (const message of run.problems) tally.violate({ source: 'sim', seed, message: `[${name}] ${message}`, replay });
  return run.problems;
}

/** Options of a simulator session. */
export interface SimSessionOptions {
  readonly seed: number;
  /** Most runs (default unbounded). */
  readonly runs?: number;
  /** Stop starting runs after this many ms. */
  readonly deadlineMs?: number;
  /** Stop once this many simulated crash points were explored. */
  readonly crashPoints?: number;
  /** Only this scenario. */
  readonly scenario?: string;
  /** Stop at the first violating run. */
  readonly stopOnViolation?: boolean;
  /** Progress line every this many runs (0: none). */
  readonly progressEvery?: number;
}

/** Runs simulated runs until one of the limits is reached. */
export async function runSimSession(options: SimSessionOptions, tally: Tally): Promise<void> {
  const started = performance.now();
  const runs = options.runs ?? Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    if (options.deadlineMs !== undefined && performance.now() - started >= options.deadlineMs) break;
    if (options.crashPoints !== undefined && tally.simCrashPoints >= options.crashPoints) break;
    const problems = await runOne(runSeed(options.seed, i), tally, options.scenario);
    if (problems.length > 0 && options.stopOnViolation === true) break;
    const every = options.progressEvery ?? 0;
    if (every > 0 && (i + 1) % every === 0) {
      console.log(`  sim: ${i + 1} runs, ${tally.simCrashPoints} crash points, ${tally.ackedChecked} acknowledged writes checked, ${tally.violations.length} violations, ${((performance.now() - started) / 1000).toFixed(0)} s`);
    }
  }
}
