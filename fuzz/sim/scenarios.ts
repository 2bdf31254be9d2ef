/**
 * The simulated scenarios. Each takes a fresh `SimRun` (its own disk and seed) and records
 * problems on it:
 * - `crash`: epochs of concurrent waves, each ended by a power cut at an armed I/O call, an
 *   explicit cut with calls in flight, or a clean close (after which some runs rotate the node
 *   key, with power cuts inside the rotation: `rotate.ts`); reopen (sometimes cut again during
 *   the open) and check, carrying the model across every epoch of the run;
 * - `eio`: an fdatasync fails (D6): the store must poison (that call and every later write
 *   reject), keep answering reads, and reopen with every acknowledged write;
 * - `enospc`: the disk fills (D6): writes reject DISK_FULL without poisoning, and work again
 *   once space is freed;
 * - `corrupt`: after a clean close or a power cut, bits flipped or bytes overwritten in a
 *   segment that holds data, the newest one and its last batch included: the open must fail
 *   with CORRUPTION naming file and offset (never return damaged data), or, where the damage
 *   fell on bytes nothing acknowledged (a torn tail), open with every acknowledged write;
 *   `repair: true` then cuts, sometimes with a power cut in the middle of the repair, and keeps
 *   everything before;
 * - `restore` (`restore.ts`): a snapshot of the run's store restored into a second directory
 *   with power cuts inside the restore, sometimes first from a source that damages a chunk.
 *
 * They must never decide anything from a clock or `Math.random`: a seed replays a run exactly.
 */
import { isStoreError } from '../../src/errors.ts';
import { Prng } from '../../src/io/prng.ts';
import { readManifest } from '../../src/log/manifest.ts';
import type { ValidatorVote } from '../../src/model/vote.ts';
import type { Lsn, RepairReport } from '../../src/log/types.ts';
import { blockHashOf, fakeSignature } from '../keys.ts';
import { coldFiles, describe, SIM_DIR, SimRun } from './harness.ts';
import { restoreScenario } from './restore.ts';
import { maybeRotateKey } from './rotate.ts';

/**
 * Every scenario, by name, with its share of runs (percent). `restore` has no share of its own:
 * it takes `RESTORE_SHARE_OF_CRASH` of the runs the table gives `crash`, by a draw of its own
 * (`scenarioOf`), so that the other run seeds keep the scenario they always had.
 */
export const SCENARIOS: ReadonlyArray<readonly [string, number, (run: SimRun) => Promise<void>]> = [
  ['crash', 70, crashScenario],
  ['eio', 10, eioScenario],
  ['enospc', 10, enospcScenario],
  ['corrupt', 10, corruptScenario],
  ['restore', 0, (run) => restoreScenario(run, { start, runWaves, crashEpoch })],
];

/** The part of the `crash` runs that run the `restore` scenario instead. */
export const RESTORE_SHARE_OF_CRASH = 0.1;

/** Opens the first store and registers the validators. */
export async function start(run: SimRun): Promise<boolean> {
  try {
    await run.open();
  } catch (err) {
    run.problems.push(`first open failed: ${describe(err)}`);
    return false;
  }
  await run.workload.registerMissing();
  return true;
}

/** Runs `waves` waves; returns true when a power cut happened during them. */
export async function runWaves(run: SimRun, waves: number, cutAfterWave?: number): Promise<boolean> {
  const crashes = run.disk.stats.crashes;
  const inflight: Promise<unknown>[] = [];
  for (let w = 0; w < waves; w++) {
    const calls = run.workload.wave();
    inflight.push(...calls);
    if (w === cutAfterWave) {
      for (let t = run.prng.int(0, 40); t > 0; t--) await Promise.resolve();
      run.cut('explicit-midflight');
      break;
    }
    await run.settle(calls, `wave ${w}`);
    if (run.disk.stats.crashes !== crashes) break;
  }
  if (run.disk.stats.crashes !== crashes && cutAfterWave === undefined) {
    run.countCut('run:other');
    run.probe.disarm();
    run.workload.model.powerCut();
  }
  await run.settle(inflight, 'in-flight calls after a cut');
  return run.disk.stats.crashes !== crashes;
}

/** The Prng of a retention run's compaction epochs (seed + 2^46: the run's other draws stay as they were); null without retention. */
const compactionPrngs = new WeakMap<SimRun, Prng | null>();
function compactionPrng(run: SimRun): Prng | null {
  let p = compactionPrngs.get(run);
  if (p === undefined) {
    p = run.features.retention === undefined ? null : new Prng(run.seed + 2 ** 46);
    compactionPrngs.set(run, p);
  }
  return p;
}

/** Share of a retention run's epochs whose cut is armed inside a compaction. */
const COMPACTION_CUT_EPOCHS = 0.4;

/**
 * An epoch whose power cut falls inside a compaction (docs/architecture.md, "The path of a
 * compaction"): `store.compact()`, half the time beside a wave in flight, a cut armed at one of the next
 * 1..90 I/O calls (the cold files' writes, the cold manifest switch, the image, the segment
 * release; the wave's commits too); `compact:*` crash points. Reopen and check as usual.
 */
async function compactionCutEpoch(run: SimRun, p: Prng): Promise<number> {
  const store = run.store!;
  const before = run.disk.callCount;
  const crashes = run.disk.stats.crashes;
  run.probe.phase = 'compact';
  run.probe.arm(p.int(1, 90));
  // Half the time the compaction runs alone, so that every armed call is one of its own.
  const calls = p.bool(0.5) ? run.workload.wave() : [];
  calls.splice(p.int(0, calls.length), 0, store.compact().then(
    (report) => run.tally.fault(report.to.height > report.from.height ? 'compact:moved' : 'compact:nothing-new'),
    (err: unknown) => {
      if (run.disk.stats.crashes === crashes) run.problems.push(`compact() failed without a power cut: ${describe(err)}`);
    },
  ));
  await run.settle(calls, 'wave with a compaction');
  run.probe.phase = 'run';
  if (run.disk.stats.crashes !== crashes) {
    run.countCut('compact:other');
    run.probe.disarm();
    run.workload.model.powerCut();
  } else {
    run.probe.disarm();
    run.cut('after-compaction');
  }
  const used = run.disk.callCount - before;
  await run.dropStore();
  await run.reopen();
  await run.check();
  return used;
}

/** One epoch: waves, then a cut (armed, mid-flight or after the fact) or a clean close; reopen; check. */
export async function crashEpoch(run: SimRun, callsEstimate: number): Promise<number> {
  const p = compactionPrng(run);
  // Once the window has something to move (before, a compaction writes nothing to cut into).
  if (p !== null && run.store !== undefined && p.bool(COMPACTION_CUT_EPOCHS) && run.workload.height > run.features.retention!.hotHeights + 1) return compactionCutEpoch(run, p);
  const before = run.disk.callCount;
  const mode = run.prng.pick(['armed', 'armed', 'armed', 'armed', 'midflight', 'clean']);
  const waves = run.prng.int(1, 3);
  if (mode === 'armed') run.probe.arm(run.prng.int(1, Math.max(2, callsEstimate)));
  const cut = await runWaves(run, waves, mode === 'midflight' ? run.prng.int(0, waves - 1) : undefined);
  const used = run.disk.callCount - before;
  if (!cut) {
    if (mode === 'clean') {
      await run.close();
      await maybeRotateKey(run);
    } else {
      run.cut('after-waves');
    }
  }
  await run.dropStore();
  await run.reopen();
  await run.check();
  return used;
}

async function crashScenario(run: SimRun): Promise<void> {
  if (!(await start(run))) return;
  let estimate = 150;
  const epochs = run.prng.int(3, 9);
  for (let e = 0; e < epochs && run.store !== undefined && run.problems.length === 0; e++) {
    const used = await crashEpoch(run, estimate);
    estimate = Math.max(20, Math.round((estimate + used * 1.3) / 2));
  }
  await run.check(Infinity, true);
  await run.close();
}

/** A vote no one else writes, for probing whether writes are accepted. */
function probeVote(run: SimRun, n: number): ValidatorVote {
  const h = run.workload.height + 1000 + n;
  return { validatorId: 'probe-voter', height: h, round: 4_000_000 + n, voteType: 'prevote', blockHash: blockHashOf(h, 0), timestamp: 1, signature: fakeSignature(n) };
}

async function eioScenario(run: SimRun): Promise<void> {
  if (!(await start(run))) return;
  run.workload.lenient = true;
  await runWaves(run, run.prng.int(1, 3));
  const op = run.prng.pick(['writeAndSync', 'datasync'] as const);
  run.disk.injectFault(op, 'EIO');
  await runWaves(run, run.prng.int(1, 3));
  const store = run.store!;
  const delivered = run.disk.stats.faultsInjected[`${op}:EIO`] ?? 0;
  run.disk.clearFaults();
  if (store.log.status === 'poisoned') {
    run.tally.fault(`${op}:EIO->poisoned`);
    const w = run.workload.model.vote(probeVote(run, 1));
    try {
      await run.workload.model.track(w, store.votes.appendVote(w.vote), (e) => e.id);
      run.problems.push('D6: a write was acknowledged after the store was poisoned by EIO');
    } catch (err) {
      if (!isStoreError(err, 'IO_FAILED')) run.problems.push(`D6: a write after poisoning rejected with ${describe(err)}, not IO_FAILED`);
    }
    await run.check(); // reads keep working on the poisoned store
  } else {
    run.tally.fault(delivered > 0 ? `${op}:EIO->absorbed` : `${op}:EIO->not-reached`);
  }
  run.cut(run.prng.bool() ? 'after-eio' : 'after-eio-2');
  await run.dropStore();
  await run.reopen();
  await run.check(Infinity, true);
  await runWaves(run, 1);
  await run.close();
}

/** Bytes of every file on the disk now. */
function usedBytes(run: SimRun): number {
  let total = 0;
  for (const path of run.disk.listFiles()) total += run.disk.readFileNow(path)?.length ?? 0;
  return total;
}

async function enospcScenario(run: SimRun): Promise<void> {
  if (!(await start(run))) return;
  run.workload.lenient = true;
  await runWaves(run, run.prng.int(1, 2));
  const injected = run.prng.bool(0.3);
  if (injected) {
    run.disk.injectFault('writeAndSync', 'ENOSPC', run.prng.int(1, 3));
    run.tally.fault('writeAndSync:ENOSPC');
  } else {
    run.disk.setCapacity(usedBytes(run) + run.prng.int(0, run.segmentSize));
    run.tally.fault('capacity:ENOSPC');
  }
  const refusedBefore = run.workload.model.refusals;
  await runWaves(run, run.prng.int(1, 3));
  const store = run.store!;
  if (store.log.status === 'poisoned') run.problems.push('D6: a full disk poisoned the store (ENOSPC must reject with DISK_FULL only)');
  await run.check(); // nothing acknowledged was damaged; reads work
  run.disk.setCapacity(undefined);
  run.disk.clearFaults();
  if (run.workload.model.refusals > refusedBefore) run.tally.fault('DISK_FULL-rejections');
  const w = run.workload.model.vote(probeVote(run, 2));
  try {
    await run.workload.model.track(w, store.votes.appendVote(w.vote), (e) => e.id);
  } catch (err) {
    run.problems.push(`D6: after space was freed a write still failed: ${describe(err)}`);
  }
  await runWaves(run, 1);
  run.cut('after-enospc');
  await run.dropStore();
  await run.reopen();
  await run.check(Infinity, true);
  await run.close();
}

/** Flips a bit or overwrites bytes anywhere in `path`, with the run's extra Prng. */
function damageFile(run: SimRun, path: string): void {
  const size = run.disk.readFileNow(path)?.length ?? 0;
  const offset = run.extra.int(0, Math.max(0, size - 1));
  if (run.extra.bool()) {
    run.disk.flipBit(path, offset);
    run.tally.fault('bit-flip');
  } else {
    const len = Math.max(1, Math.min(run.extra.int(1, 64), size - offset));
    run.disk.overwrite(path, offset, run.extra.fill(new Uint8Array(len)));
    run.tally.fault('overwrite');
  }
  run.damageDone = true;
}

/**
 * A damaged local image: the open must skip it (an older image or a full replay instead) and
 * answer every check; it must never load it.
 */
async function damageImage(run: SimRun, path: string): Promise<void> {
  run.tally.fault('corrupt:image');
  damageFile(run, path);
  run.damagedImages.add(path);
  try {
    await run.open();
  } catch (err) {
    // After a compaction released the log's older segments the images are the only copy of the
    // state before the log's first record: with no other image loadable the open must refuse,
    // CORRUPTION naming the damaged image (docs/architecture.md, "The path of a compaction").
    const name = path.slice(path.lastIndexOf('/') + 1);
    if ((await logReleased(run)) && isStoreError(err, 'CORRUPTION') && /older segments were released/.test(err.message) && err.message.includes(name)) {
      run.tally.fault('corrupt:image-needed-after-release');
      return;
    }
    run.problems.push(`open with a damaged image (${path}) failed: ${describe(err)}`);
    return;
  }
  await run.check(Infinity, true);
  await run.close();
}

/**
 * A damaged portable snapshot: its integrity check answers false and its load fails
 * CORRUPTION; nothing else (the store, the other snapshots) is affected.
 */
async function damageSnapshot(run: SimRun, path: string): Promise<void> {
  run.tally.fault('corrupt:snapshot');
  damageFile(run, path);
  run.damagedSnapshot = path.slice(path.lastIndexOf('/') + 1, -'.cssnap'.length);
  try {
    await run.open();
  } catch (err) {
    run.problems.push(`open with a damaged snapshot (${path}) failed: ${describe(err)}`);
    return;
  }
  await run.check(Infinity, true);
  await run.close();
}

/**
 * A damaged cold file: the open succeeds (it reads no cold file; the size is unchanged), every
 * query that reads the damaged bytes fails CORRUPTION naming the file (a correct detection,
 * `corrupt:found-on-read`), every other answer is the acknowledged data, never other data.
 */
async function damageColdFile(run: SimRun, path: string): Promise<void> {
  run.tally.fault('corrupt:cold-file');
  damageFile(run, path);
  try {
    await run.open();
  } catch (err) {
    // Only the cold manifest is read at open; a cold file found damaged there must still be named.
    if (isStoreError(err, 'CORRUPTION') && err.location?.file === path) run.tally.fault('corrupt:cold-file-found-at-open');
    else run.problems.push(`open with a damaged cold file (${path}) failed: ${describe(err)}`);
    return;
  }
  const found = run.tally.faultKinds.get('corrupt:found-on-read') ?? 0;
  await run.check(Infinity, true, path);
  await sweepCold(run, path);
  run.tally.fault((run.tally.faultKinds.get('corrupt:found-on-read') ?? 0) > found ? 'corrupt:cold-file-found-on-read' : 'corrupt:cold-file-not-read');
  await run.close();
}

/**
 * Reads every record of every store across both tiers through the public API (each store's
 * widest query), so that damage anywhere in a cold file's blocks is read: an answer, or
 * CORRUPTION naming the damaged file; anything else is a problem.
 */
async function sweepCold(run: SimRun, damaged: string): Promise<void> {
  const store = run.store;
  if (store === undefined) return;
  const reads: [string, () => Promise<unknown>][] = [
    ['votes.queryVotes', () => store.votes.queryVotes({ limit: store.votes.limits.maxQueryLimit })],
    ['audit.queryByDateRange', () => store.audit.queryByDateRange(0, Number.MAX_SAFE_INTEGER, { limit: 10_000 })],
    ['audit.verifyIntegrity', () => store.audit.verifyIntegrity()],
    ['rewards.queryDistributions', () => store.rewards.queryDistributions({ limit: 10_000 })],
    ['rounds.listRoundStates', () => store.rounds.listRoundStates({ limit: 10_000 })],
  ];
  for (const [what, read] of reads) {
    try {
      await read();
    } catch (err) {
      if (isStoreError(err, 'CORRUPTION') && err.location?.file === damaged) run.tally.fault('corrupt:found-on-read');
      else run.problems.push(`${what} with a damaged cold file (${damaged}) failed: ${describe(err)}`);
    }
  }
}

/** A damaged cold manifest: the open must fail CORRUPTION naming it (never open without the cold tier). */
async function damageColdManifest(run: SimRun, path: string): Promise<void> {
  run.tally.fault('corrupt:cold-manifest');
  damageFile(run, path);
  try {
    await run.open();
    run.problems.push(`the open succeeded with a damaged cold manifest (${path})`);
    await run.close();
  } catch (err) {
    if (!isStoreError(err, 'CORRUPTION')) run.problems.push(`open with a damaged cold manifest failed with ${describe(err)}, not CORRUPTION`);
    else if (err.location?.file !== path) run.problems.push(`open with a damaged cold manifest: CORRUPTION names ${err.location?.file ?? 'no file'}, not ${path}: ${describe(err)}`);
    else run.tally.fault('corrupt:cold-manifest-detected');
  }
}

/** True when a compaction released the log's first segments (its first LSN is above 1). */
async function logReleased(run: SimRun): Promise<boolean> {
  const manifest = await readManifest(run.disk.fs(), SIM_DIR);
  return (manifest?.sealed[0]?.firstLsn ?? manifest?.baseLsn ?? 1) > 1;
}

/** Segment files holding data, oldest first, with their data end (the last one is the newest). */
function dataSegments(run: SimRun): { path: string; end: number }[] {
  const segs = run.disk.listFiles().filter((p) => p.startsWith(`${SIM_DIR}/wal/`) && p.endsWith('.wal')).sort();
  const withData = segs.map((path) => {
    const bytes = run.disk.readDurableNow(path) ?? new Uint8Array();
    let end = bytes.length;
    while (end > 0 && bytes[end - 1] === 0) end--;
    return { path, end };
  });
  return withData.filter((s) => s.end > 32);
}

async function corruptScenario(run: SimRun): Promise<void> {
  if (!(await start(run))) return;
  for (let i = run.prng.int(3, 6); i > 0; i--) await runWaves(run, 1);
  // A retention run compacts once more before the damage, so that cold files are there to damage.
  if (run.features.retention !== undefined) await run.store?.compact().catch((err: unknown) => run.problems.push(`compact() before the damage failed: ${describe(err)}`));
  const cleanClose = run.prng.bool();
  if (cleanClose) {
    await run.close();
    run.tally.fault('corrupt:after-clean-close');
  } else {
    // A power cut with the last wave's batches possibly in flight: the newest batch on disk
    // may be whole (acknowledged or not) or torn.
    const calls = run.workload.wave();
    for (let t = run.prng.int(0, 40); t > 0; t--) await Promise.resolve();
    run.cut('before-corrupt');
    await run.settle(calls, 'wave cut before the damage');
    await run.dropStore();
    run.tally.fault('corrupt:after-power-cut');
  }
  // Images and snapshots the run made are targets too (drawn apart from the run's Prng, so a
  // run without them damages what it always did).
  const images = run.disk.listFiles().filter((p) => p.startsWith(`${SIM_DIR}/images/`) && p.endsWith('.csimg'));
  const snapshots = run.disk.listFiles().filter((p) => p.startsWith(`${SIM_DIR}/snapshots/`) && p.endsWith('.cssnap'));
  // A retention run's cold files and cold manifest are targets too (docs/format.md, "Cold files").
  const cold = coldFiles(run.disk);
  if (run.features.retention !== undefined && cold.length > 0 && run.extra.bool(0.5)) {
    const manifest = `${SIM_DIR}/cold/MANIFEST`;
    return run.extra.bool(0.25) ? damageColdManifest(run, manifest) : damageColdFile(run, run.extra.pick(cold));
  }
  if (images.length > 0 && run.extra.bool(0.35)) return damageImage(run, run.extra.pick(images));
  if (snapshots.length > 0 && run.extra.bool(0.4)) return damageSnapshot(run, run.extra.pick(snapshots));
  const segments = dataSegments(run);
  if (segments.length === 0) {
    run.tally.fault('corrupt:no-data-segment');
    return;
  }
  const newest = segments[segments.length - 1]!;
  // Half the time the newest segment's last batch (its last 600 bytes), where a torn write can
  // also be: rot there must not pass for a tear.
  const inTail = run.prng.bool();
  const target = inTail ? newest : run.prng.pick(segments);
  const offset = inTail ? run.prng.int(Math.max(0, newest.end - 600), newest.end - 1) : run.prng.int(0, target.end - 1);
  if (inTail) run.tally.fault('corrupt:newest-batch');
  const manifest = await readManifest(run.disk.fs(), SIM_DIR);
  const segId = Number(target.path.slice(-20, -4));
  const sealedEntry = manifest?.sealed.find((s) => s.id === segId);
  const lastSealed = manifest?.sealed[manifest.sealed.length - 1];
  const segFirstLsn = sealedEntry?.firstLsn ?? (lastSealed === undefined ? (manifest?.baseLsn ?? 1) : lastSealed.lastLsn + 1);
  // Garbage over several bytes of the newest batch after a power cut can destroy its commit
  // marker and pass for a torn write (docs/durability.md, D5): only single flips in the newest
  // segment then (a random offset there may fall in its last batch too: seed 3211970345 put
  // two bytes over the marker).
  if (run.prng.bool() || (target === newest && !cleanClose)) {
    run.disk.flipBit(target.path, offset);
    run.tally.fault('bit-flip');
  } else {
    const len = Math.min(run.prng.int(1, 64), target.end - offset);
    run.disk.overwrite(target.path, offset, run.prng.fill(new Uint8Array(len)));
    run.tally.fault('overwrite');
  }
  run.damageDone = true;
  let failure: unknown;
  try {
    const store = await run.open();
    // An image past the damaged record lets the open skip it: a read of that record must then
    // fail CORRUPTION naming the file (never return the damaged bytes), everything else must
    // read back right; a full replay (images not loaded) must then find the damage at open.
    const covered = store.replay.image.loaded !== undefined;
    await run.check(Infinity, true, covered ? target.path : undefined);
    await run.close();
    if (!covered) {
      // The damage fell where no check could see it (e.g. alignment padding): nothing may differ.
      run.tally.fault('corrupt:undetected-harmless?');
      return;
    }
    run.tally.fault('corrupt:covered-by-image');
    if (await logReleased(run)) {
      // Released segments: a full replay is impossible by design, the open must say so.
      const err = await run.open(false, false).then(() => undefined, (e: unknown) => e);
      if (!isStoreError(err, 'CORRUPTION') || !/older segments were released/.test(err.message)) run.problems.push(`a released log opened without images: ${err === undefined ? 'it opened' : describe(err)}`);
      else run.tally.fault('corrupt:no-full-replay-after-release');
      await run.dropStore();
      return;
    }
    await run.open(false, false);
    run.tally.fault('corrupt:undetected-harmless?');
    await run.check();
    await run.close();
    return;
  } catch (err) {
    failure = err;
  }
  {
    const err = failure;
    if (!isStoreError(err, 'CORRUPTION')) run.problems.push(`damaged segment: open failed with ${describe(err)}, not CORRUPTION`);
    else if (err.location === undefined || !err.location.file.endsWith('.wal')) {
      run.problems.push(`CORRUPTION without the damaged file's location: ${describe(err)} (damage in ${target.path} at ${offset})`);
    } else if (err.location.file !== target.path) {
      run.problems.push(`CORRUPTION names ${err.location.file}, damage is in ${target.path}`);
    }
  }
  // A known gap of bounded history (docs/operations.md, "A repair after a compaction"): a repair
  // of a compacted store is not drawn until it is fixed (seed 3758920219: after a repair that kept
  // the batches after its damage, the audit chain across the tiers fails its check; 680584408:
  // a repair below every image refuses). The damage was found above, naming its file.
  if (run.features.retention !== undefined) {
    run.tally.fault('corrupt:repair-skipped-retention');
    return;
  }
  let lostFrom = segFirstLsn;
  // A repair that kept the batches after its damage: exactly its LSNs are missing (checkLog).
  let gap: { first: number; last: number } | undefined;
  const noteRepair = (report: RepairReport | undefined): void => {
    if (report === undefined) return;
    if (report.gapEnd !== undefined && report.firstLostLsn !== undefined && report.lastLostLsn !== undefined) {
      gap = { first: report.firstLostLsn, last: report.lastLostLsn };
      run.tally.fault('corrupt:repair-gap');
      if (report.recordsDropped !== report.lastLostLsn - report.firstLostLsn + 1 || report.bytesDropped !== report.gapEnd - report.offset) {
        run.problems.push(`repair report not exact: ${JSON.stringify(report)}`);
      }
    } else {
      run.tally.fault('corrupt:repair-cut');
    }
  };
  run.allowFresh = true;
  if (run.prng.bool(0.5)) {
    run.probe.phase = 'repair';
    run.probe.arm(run.prng.int(1, 80));
    const crashes = run.disk.stats.crashes;
    try {
      const store = await run.open(true);
      lostFrom = Math.min(lostFrom, store.log.openReport.repair?.firstLostLsn ?? Infinity);
      noteRepair(store.log.openReport.repair);
    } catch {
      // the cut fell inside the repair
    }
    run.probe.phase = 'run';
    if (run.disk.stats.crashes > crashes) {
      run.countCut('repair:other');
      run.workload.model.powerCut();
    } else {
      run.probe.disarm();
      run.cut('after-repair');
    }
    await run.dropStore();
  }
  let store;
  try {
    store = await run.open(true);
  } catch (err) {
    // A known gap of bounded history (docs/operations.md, "A repair after a compaction"): a repair
    // that reaches below every image kept cannot rebuild a log whose older segments were
    // released; the open must refuse with CORRUPTION saying so (restore from a backup), never
    // open with less.
    if (run.features.retention !== undefined && isStoreError(err, 'CORRUPTION') && /older segments were released/.test(err.message)) {
      run.tally.fault('corrupt:repair-needs-backup');
      await run.dropStore();
      return;
    }
    run.problems.push(`open with repair: true failed: ${describe(err)}`);
    return;
  }
  const report = store.log.openReport.repair;
  if (report !== undefined) {
    if (report.firstLostLsn !== undefined && report.firstLostLsn < segFirstLsn) {
      run.problems.push(`repair cut from LSN ${report.firstLostLsn}, before the damaged segment (first LSN ${segFirstLsn})`);
    }
    lostFrom = Math.min(lostFrom, report.firstLostLsn ?? Infinity);
    noteRepair(report);
  }
  // A repair finished by this open (an earlier one was cut after its commit point) reports
  // nothing new; its gap is in the pending repairs the open found.
  for (const pending of store.log.openReport.pendingRepairs) {
    if (gap === undefined && pending.gapEnd !== undefined) noteRepair(pending);
    if (pending.firstLostLsn !== undefined) lostFrom = Math.min(lostFrom, pending.firstLostLsn);
  }
  // An open that repaired and recorded the repair, then refused (the watermark import) and was
  // retried (SimRun.open): the StoreRepaired entry is what says so.
  if (gap === undefined) {
    for (const entry of await store.audit.queryByDateRange(0, Number.MAX_SAFE_INTEGER, { limit: 1000 }).catch(() => [])) {
      const e = entry.event;
      if (e.type !== 'StoreRepaired' || e.gapEnd == null || e.firstLostLsn === null || e.lastLostLsn == null) continue;
      noteRepair({ file: e.file, offset: e.offset, brokenCopy: e.brokenCopy, firstLostLsn: e.firstLostLsn as Lsn, lastLostLsn: e.lastLostLsn as Lsn, recordsDropped: e.recordsDropped ?? undefined, segmentsDropped: 0, bytesDropped: e.bytesDropped, gapEnd: e.gapEnd });
      lostFrom = Math.min(lostFrom, e.firstLostLsn);
    }
  }
  await run.check(lostFrom, false, undefined, gap);
  await store.close();
  run.store = undefined;
  try {
    await run.open();
    await run.check(lostFrom, true, undefined, gap);
    await run.close();
  } catch (err) {
    run.problems.push(`open after a repair failed: ${describe(err)}`);
  }
}
