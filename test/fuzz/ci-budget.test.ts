// The crash-fuzzing CI budget (docs/fuzzing.md, CI): simulated power cuts over the whole store and real
// SIGKILLs of a writer child, zero violations allowed. With CI set (.ci/run exports CI=true) it
// runs the full budget: fixed seeds plus fresh ones (printed) until at least 10,000 simulated
// crash points, and 200 real kills in a parallel process. Without CI it runs a short smoke
// budget so that `npm test` stays quick; `npm run fuzz -- --ci` runs the full budget by hand.
import { describe, expect, it } from 'vitest';
import { runKillSession } from '../../fuzz/kill/parent.ts';
import { CI_BUDGET, CI_FIXED_SEEDS, runCiBudget } from '../../fuzz/main.ts';
import { Tally } from '../../fuzz/report.ts';
import { runSimSession } from '../../fuzz/sim/run.ts';

const full = process.env['CI'] !== undefined && process.env['CI'] !== '' && process.env['CI'] !== 'false';

describe('crash fuzzing budget', () => {
  it.runIf(full)('explores at least 10,000 simulated crash points and 200 real kills with zero violations', async () => {
    const tally = new Tally();
    await runCiBudget(tally);
    for (const line of tally.summary()) console.log(line);
    expect(tally.violations.map((v) => `${v.message} (${v.replay})`)).toEqual([]);
    expect(tally.simCrashPoints).toBeGreaterThanOrEqual(CI_BUDGET.simCrashPoints);
    expect(tally.killCycles).toBeGreaterThanOrEqual(CI_BUDGET.kills);
  }, 1_800_000);

  it.runIf(!full)('smoke: fixed seeds survive 300 simulated crash points and 6 real kills with zero violations', async () => {
    const tally = new Tally();
    for (const seed of CI_FIXED_SEEDS.slice(0, 2)) await runSimSession({ seed, crashPoints: tally.simCrashPoints + 150 }, tally);
    await runKillSession({ seed: 1, kills: 6, lanes: 2 }, tally);
    for (const line of tally.summary()) console.log(line);
    expect(tally.violations.map((v) => `${v.message} (${v.replay})`)).toEqual([]);
    expect(tally.simCrashPoints).toBeGreaterThanOrEqual(300);
    expect(tally.killCycles).toBe(6);
  }, 300_000);
});
