// Each simulated crash scenario, replayed from fixed run seeds: a power cut mid-write with
// concurrent writers (crash), a failed fdatasync (eio), a full disk (enospc), damage in a
// sealed segment followed by a repair that may itself be cut (corrupt), and a restore from a
// snapshot cut by a power cut and rerun (restore). Each must end with zero violations; a seed the
// fuzzer once failed on is added here as a regression.
import { describe, expect, it } from 'vitest';
import { Tally } from '../../fuzz/report.ts';
import { runOne } from '../../fuzz/sim/run.ts';

const SEEDS = [11, 12, 13];
/** The regression seeds below were found before the retention feature: they replay without it (their path as found). */
const BEFORE_RETENTION = { retention: false } as const;

describe('simulated crash scenarios replayed from fixed seeds', () => {
  it.each(['crash', 'eio', 'enospc', 'corrupt', 'restore'])('%s: every acknowledged write survives and nothing torn is visible', async (scenario) => {
    const tally = new Tally();
    for (const seed of SEEDS) {
      const problems = await runOne(seed, tally, scenario);
      expect(problems, `npm run fuzz -- --replay ${seed} --scenario ${scenario}`).toEqual([]);
    }
    expect(tally.simRuns).toBe(SEEDS.length);
    expect(tally.checks).toBeGreaterThan(0);
  });
});

describe('regression seeds of the corrupt scenario', () => {
  // Multi-byte garbage over the newest batch's commit marker after a power cut passed for a torn
  // write (the documented limit of docs/durability.md, D5): the scenario keeps to single flips
  // in the newest segment after a power cut.
  it.each([3211970345, 3100068834, 2171243421])('seed %i: no violation', async (seed) => {
    const tally = new Tally();
    const problems = await runOne(seed, tally, 'corrupt', BEFORE_RETENTION);
    expect(problems, `npm run fuzz -- --replay ${seed} --scenario corrupt --no-retention`).toEqual([]);
    expect(tally.checks).toBeGreaterThan(0);
  });
});

describe('regression seeds of local images and portable snapshots', () => {
  // 2618813370: WAL damage below an image after a clean close: the open loads the image, reads of
  // the damaged record fail CORRUPTION naming its file (counted as found on read, seed 2100969111
  // of the CI budget failed there with "check threw"), a full replay fails at open, the repair
  // drops the image. 1989319654, 326828265: a damaged image is skipped. 771277654: a damaged
  // snapshot fails its integrity check and its load.
  it.each([
    [2100969111, 'corrupt'],
    [2618813370, 'corrupt'],
    [1989319654, 'corrupt'],
    [326828265, 'corrupt'],
    [771277654, 'corrupt'],
    // Acknowledged images lost with their images/ directory (created without fsyncing the data
    // directory; fixed in src, ensureDurableDir): the open then replayed the whole log.
    [933975230, 'crash'],
    [2258110789, 'crash'],
    // The same for a snapshot: lost with snapshots/, then the directory made again by a later one.
    [3498856650, 'crash'],
    // An images/ lost again after it was made again (a .tmp of the next image survived in it).
    [3265733736, 'crash'],
    // A gap repair kept the batches after the damage; once the repair was recorded, the next
    // open loaded an image taken before the damage, holding the records the repair dropped
    // (recover() then named a vote with no record in the log). The images past the first lost
    // record are now removed before the repair is acknowledged.
    [1485004771, 'corrupt'],
    // A planned node key rotation cut between its two batches (the rotation signed by the old
    // key; the new key's NodeKeyRecorded), finished by the rerun without the second: the chain
    // had no head of the new key, and verifyIntegrity failed with it. The cut also left the
    // second batch's rejection unhandled (the process died). The rerun now writes that batch.
    [1020313969, 'crash'],
  ] as const)('seed %i (%s): no violation', async (seed, scenario) => {
    const tally = new Tally();
    const problems = await runOne(seed, tally, scenario, BEFORE_RETENTION);
    expect(problems, `npm run fuzz -- --replay ${seed} --scenario ${scenario} --no-retention`).toEqual([]);
    expect(tally.checks).toBeGreaterThan(0);
  });
});

describe('regression seeds of the restore scenario', () => {
  // A power cut while restoreFromSnapshot wrote its RESTORING marker (then a temp file and a
  // rename) left the directory holding only RESTORING.tmp: a rerun refused it as not empty, and
  // openStore opened it as a new, empty store. The marker is now written in place, so from the
  // moment its name exists the directory is an unfinished restore.
  it.each([708441251, 2148571404])('seed %i (restore): no violation', async (seed) => {
    const tally = new Tally();
    const problems = await runOne(seed, tally, 'restore', BEFORE_RETENTION);
    expect(problems, `npm run fuzz -- --replay ${seed} --scenario restore --no-retention`).toEqual([]);
  });
});

describe('the retention feature: compactions and the cold tier', () => {
  // Run seeds with the retention feature on (fuzz/sim/harness.ts, drawRetention): power cuts
  // inside compactions (a cold file's I/O among them) followed by checks after the log released
  // segments; a damaged cold file found by a read naming it; a damaged cold manifest refused at open.
  it.each([
    [2962639630, 'crash', 'crash-cold'],
    [1032503416, 'crash', 'crash-cold'],
    [1568237519, 'corrupt', 'corrupt:cold-file-found-on-read'],
    [2097495568, 'corrupt', 'corrupt:cold-file-found-on-read'],
    [2962639630, 'corrupt', 'corrupt:cold-manifest-detected'],
    [442956851, 'corrupt', 'corrupt:cold-manifest-detected'],
  ] as const)('seed %i (%s) reaches %s with no violation', async (seed, scenario, reaches) => {
    const tally = new Tally();
    const problems = await runOne(seed, tally, scenario);
    expect(problems, `npm run fuzz -- --replay ${seed} --scenario ${scenario}`).toEqual([]);
    if (reaches === 'crash-cold') {
      expect([...tally.crashKinds.keys()].filter((k) => k.startsWith('compact:cold-')).length).toBeGreaterThan(0);
      expect(tally.faultKinds.get('retention:check-after-release') ?? 0).toBeGreaterThan(0);
    } else {
      expect(tally.faultKinds.get(reaches)).toBe(1);
    }
  });
});

describe('seeds the retention feature found', () => {
  // 4111217799: a compaction after a reopen whose cut LSN equals the last one's (nothing written
  // since) named its files `<store>-<lsn>-1` again (the sequence restarted at each open), and
  // writeColdFile refused (INVALID_ARGUMENT: "votes-0000000000000164-1.cold exists"): compact()
  // failed on a healthy disk. Fixed: file names carry a random part.
  // Two known gaps the fuzzer no longer draws (docs/operations.md): 835236279, a node key
  // rotation after a compaction released the log's first segments (rotateNodeKey opens without
  // images); 680584408, a repair after a release that reaches below every image kept (the open
  // refuses with CORRUPTION: restore from a backup); 3758920219, a repair that kept the batches
  // after its damage on a compacted store, after which the audit chain across the tiers failed
  // its check (the corrupt scenario draws no repair in retention runs).
  it.each([
    [4111217799, 'crash'],
    [835236279, 'crash'],
    [680584408, 'corrupt'],
    [3758920219, 'corrupt'],
  ] as const)('seed %i (%s): no violation', async (seed, scenario) => {
    const tally = new Tally();
    const problems = await runOne(seed, tally, scenario);
    expect(problems, `npm run fuzz -- --replay ${seed} --scenario ${scenario}`).toEqual([]);
  });
});
