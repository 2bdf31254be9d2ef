/**
 * The `restore` scenario: a new node restored from a portable snapshot on the simulated disk,
 * with power cuts inside the restore.
 *
 * The source is the run's own store in `SIM_DIR` (registered validators whose precommits are
 * really signed, finalized heights, sometimes power cuts of its own first); it makes a snapshot
 * of its last finalized height, has it attested (or the root is trusted as given), and is closed.
 * Then `restoreFromSnapshot` writes `RESTORE_DIR` on the same disk with a power cut armed at a
 * random I/O call inside it (uniform over the calls an uncut restore made in a probe directory);
 * sometimes first from a source that damages one chunk. After every cut the directory must be:
 * unfinished (`RESTORING` there: `openStore` refuses with INVALID_ARGUMENT, a rerun finishes),
 * empty or absent (a rerun finishes), or restored (it opens, no rerun). The restored store must
 * answer what the snapshot holds, record one `SnapshotRestored`, verify its audit chain, and
 * refuse a signer without a watermark at or above the snapshot's height.
 *
 * It must never decide anything from a clock or `Math.random` (a seed replays a run exactly), and
 * never count a failure as expected unless a power cut (or the damage it planted) explains it.
 */
import { isStoreError } from '../../src/errors.ts';
import { signBytes } from '../../src/codec/vote-sign.ts';
import { snapshotAttestationBytes } from '../../src/codec/snapshot-envelope.ts';
import { fileSnapshotSource, restoreFromSnapshot, type RestoreReport, type SnapshotSource, type SnapshotTrust } from '../../src/restore.ts';
import { openStore, RESTORING_FILE, type ConsensusStore } from '../../src/store.ts';
import type { FileSystem } from '../../src/io/types.ts';
import type { ConsensusSnapshot, SnapshotMetadata } from '../../src/stores/snapshot-types.ts';
import type { Validator } from '../../src/model/validator.ts';
import type { SignWatermark } from '../../src/model/sign.ts';
import { FUZZ_CHAIN_ID, hex, keyOf, OWN_ID } from '../keys.ts';
import { describe, SIM_DIR, type SimRun } from './harness.ts';

/** The restored node's data directory (beside the source's, on the same disk). */
export const RESTORE_DIR = '/restored';
/** Where the probe restore (an uncut one, to count the I/O calls of a restore) writes. */
const PROBE_DIR = '/restore-probe';
/** The restore's staging directory inside its data directory (`restore.ts`, STAGING_DIR). */
const STAGING = `${RESTORE_DIR}/restore`;
/** Most power cuts inside the reruns of one run (after the first). */
const MAX_RERUN_CUTS = 2;

/** What the restored store is checked against: read from the source before it was closed. */
interface SourceFacts {
  readonly meta: SnapshotMetadata;
  readonly path: string;
  readonly set: readonly Validator[];
  readonly content: ConsensusSnapshot;
  readonly trust: SnapshotTrust;
  readonly trustKind: 'root' | 'validators';
}

/**
 * Stands in front of a source and flips one bit of chunk `index` (its proof left as it was): the
 * restore must stop with CORRUPTION naming that chunk and keep nothing of it.
 */
function damagingSource(inner: SnapshotSource, index: number, bit: number): SnapshotSource {
  return {
    offer: () => inner.offer(),
    async *chunks(wanted) {
      for await (const c of inner.chunks(wanted)) {
        if (c.index !== index) {
          yield c;
          continue;
        }
        const bytes = c.bytes.slice();
        const at = bit % (bytes.length * 8);
        bytes[at >> 3]! ^= 1 << (at & 7);
        yield { ...c, bytes };
      }
    },
  };
}

/** Stands in front of a source and notes which chunks each `chunks()` call asked for. */
function askedFor(inner: SnapshotSource, asked: number[][]): SnapshotSource {
  return {
    offer: () => inner.offer(),
    chunks(wanted) {
      asked.push([...wanted]);
      return inner.chunks(wanted);
    },
  };
}

/** The options of a restore into `dir` on `fs` (the log's segment size is the run's: rotation happens inside). */
function restoreOptions(run: SimRun, facts: SourceFacts, fs: FileSystem, dir = RESTORE_DIR, source?: SnapshotSource) {
  return {
    dir,
    chainId: FUZZ_CHAIN_ID,
    source: source ?? fileSnapshotSource(facts.path, fs),
    trust: facts.trust,
    fs,
    log: { segmentSize: run.segmentSize },
    now: run.workload.clock.now,
  };
}

/** Opens the restored directory (no signer unless given). */
function openRestored(run: SimRun, fs: FileSystem, signer?: Record<string, unknown>): Promise<ConsensusStore> {
  return openStore({
    dir: RESTORE_DIR,
    fs,
    chainId: FUZZ_CHAIN_ID,
    now: run.workload.clock.now,
    images: { everyRecords: 0 },
    snapshots: { interval: 0, chunkSize: 4096 },
    log: { segmentSize: run.segmentSize },
    ...(signer === undefined ? {} : { signer: signer as never }),
  });
}

/** The entries of `dir` on the disk now (none when it is absent). */
async function entriesOf(fs: FileSystem, dir: string): Promise<string[]> {
  return (await fs.stat(dir)) === undefined ? [] : fs.readdir(dir);
}

/** Runs `p` with the run's hang watchdog; resolves with its value or its error. */
async function settled<T>(run: SimRun, p: Promise<T>, what: string): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  const out = p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  await run.settle([out], what);
  return out;
}

export async function restoreScenario(run: SimRun, helpers: { start: (run: SimRun) => Promise<boolean>; runWaves: (run: SimRun, waves: number) => Promise<boolean>; crashEpoch: (run: SimRun, estimate: number) => Promise<number> }): Promise<void> {
  if (!(await helpers.start(run))) return;
  const facts = await makeSource(run, helpers);
  if (facts === undefined) return;
  run.tally.fault(`restore:trust-${facts.trustKind}`);
  const x = run.extra;

  // The I/O calls of a whole restore, counted on an uncut one in a directory of its own.
  const before = run.disk.callCount;
  const probe = await settled(run, restoreFromSnapshot(restoreOptions(run, facts, run.disk.fs(), PROBE_DIR)), 'probe restore');
  if (!probe.ok) {
    run.problems.push(`restore (no power cut, no damage) failed: ${describe(probe.error)}`);
    return;
  }
  const calls = run.disk.callCount - before;

  // Sometimes first from a source that damages one chunk: CORRUPTION naming it, nothing of it kept.
  let keptByDamagedRun: number | undefined;
  if (x.bool(0.3)) {
    keptByDamagedRun = await damagedRun(run, facts);
    if (run.problems.length > 0) return;
  }

  // The restore with a power cut armed inside it, then reruns (sometimes cut again) until done.
  let cuts = 0;
  let armAt: number | undefined = x.int(1, Math.max(1, calls));
  for (let attempt = 0; ; attempt++) {
    const crashes = run.disk.stats.crashes;
    run.probe.phase = 'restore';
    if (armAt !== undefined) run.probe.arm(armAt);
    const fsIn = run.probe.fs();
    const asked: number[][] = [];
    const source = askedFor(fileSnapshotSource(facts.path, fsIn), asked);
    const result = await settled(run, restoreFromSnapshot(restoreOptions(run, facts, fsIn, RESTORE_DIR, source)), `restore attempt ${attempt}`);
    run.probe.phase = 'run';
    // The rerun after the damaged run resumes: it asks only for the chunks from the damaged one
    // on (a cut may fall later; what it asked for was decided before).
    if (attempt === 0 && keptByDamagedRun !== undefined && asked.length > 0) {
      const want = Array.from({ length: facts.meta.chunkCount - keptByDamagedRun }, (_, i) => keptByDamagedRun! + i);
      if (asked[0]!.join() !== want.join()) run.problems.push(`the rerun after the damaged chunk ${keptByDamagedRun} asked the source for chunks [${asked[0]!.join(', ')}], not [${want.join(', ')}] (no resume)`);
      else run.tally.fault('restore:resumed');
    }
    const cut = run.disk.stats.crashes !== crashes;
    if (cut) {
      run.countCut('restore:other');
      cuts++;
    } else {
      run.probe.disarm();
      if (!result.ok) {
        run.problems.push(`restore attempt ${attempt} failed without a power cut: ${describe(result.error)}`);
        return;
      }
      checkReport(run, facts, result.value, attempt === 0 ? keptByDamagedRun : undefined);
      if (armAt !== undefined) {
        // It finished before the armed call: the cut comes right after it (what it did must be durable).
        run.cut('after-restore');
        cuts++;
      }
    }
    const fs = run.disk.fs();
    const entries = await entriesOf(fs, RESTORE_DIR);
    const unfinished = entries.includes(RESTORING_FILE);
    if (result.ok && (unfinished || entries.length === 0)) {
      run.problems.push(`a finished restore did not survive a power cut (${unfinished ? 'RESTORING is back' : 'the directory is empty or gone'})`);
      return;
    }
    if (unfinished) {
      run.tally.fault('restore:cut-left-unfinished');
      const refused = await settled(run, openRestored(run, fs), 'open of an unfinished restore');
      if (refused.ok) {
        run.problems.push(`openStore opened a directory whose restore did not finish (RESTORING there; entries ${entries.join(', ')})`);
        await refused.value.close().catch(() => undefined);
        return;
      }
      if (!isStoreError(refused.error, 'INVALID_ARGUMENT')) {
        run.problems.push(`openStore on an unfinished restore failed with ${describe(refused.error)}, not INVALID_ARGUMENT`);
        return;
      }
    } else if (entries.length === 0) {
      run.tally.fault('restore:cut-left-nothing');
    } else if (!entries.includes('MANIFEST')) {
      // Neither unfinished, nor empty, nor a store: say what the node would meet (one violation, not the checks' flood).
      const rerun = await settled(run, restoreFromSnapshot(restoreOptions(run, facts, run.disk.fs())), 'rerun on a directory a cut restore left');
      let opened = 'is not tried (the rerun finished)';
      if (!rerun.ok) {
        const open = await settled(run, openRestored(run, run.disk.fs()), 'open of a directory a cut restore left');
        if (open.ok) await open.value.close().catch(() => undefined);
        opened = open.ok ? 'opens it as a new, empty store (no fence)' : `fails ${describe(open.error)}`;
      }
      run.problems.push(`a power cut inside the restore left ${RESTORE_DIR} holding only [${entries.join(', ')}] (no ${RESTORING_FILE}, no store): a rerun ${rerun.ok ? 'finishes' : `fails ${describe(rerun.error)}`}; openStore ${opened}`);
      return;
    } else {
      run.tally.fault(result.ok ? 'restore:finished' : 'restore:cut-after-commit');
      break;
    }
    // A rerun must finish; some are cut again (at most MAX_RERUN_CUTS of them).
    armAt = attempt < MAX_RERUN_CUTS && x.bool(0.3) ? x.int(1, Math.max(1, calls)) : undefined;
  }
  run.tally.fault(`restore:cuts-${Math.min(cuts, 3)}`);
  await checkRestored(run, facts);
}

/**
 * The source: the run's store, sometimes through power cuts of its own first, then waves until a
 * snapshot of the last finalized height is made; attested by validators (or its root trusted);
 * what the restored store must answer is read; then it is closed cleanly.
 */
async function makeSource(run: SimRun, helpers: { runWaves: (run: SimRun, waves: number) => Promise<boolean>; crashEpoch: (run: SimRun, estimate: number) => Promise<number> }): Promise<SourceFacts | undefined> {
  const x = run.extra;
  for (let e = x.int(0, 2), estimate = 150; e > 0 && run.store !== undefined && run.problems.length === 0; e--) {
    const used = await helpers.crashEpoch(run, estimate);
    estimate = Math.max(20, Math.round((estimate + used * 1.3) / 2));
  }
  if (run.store === undefined || run.problems.length > 0) return undefined;
  await run.workload.registerMissing();
  await helpers.runWaves(run, x.int(1, 4));
  let meta: SnapshotMetadata | undefined;
  for (let tries = 0; meta === undefined; tries++) {
    try {
      meta = await run.store!.snapshots.createSnapshot();
    } catch (err) {
      // Nothing finalized yet, or no quorum of precommits at the last finalized height (nil votes).
      if (!isStoreError(err, 'NOT_FOUND') && !isStoreError(err, 'CONFLICT')) {
        run.problems.push(`source: createSnapshot failed: ${describe(err)}`);
        return undefined;
      }
      if (tries >= 4) {
        run.tally.fault('restore:no-snapshot');
        await run.close();
        return undefined;
      }
      await helpers.runWaves(run, 1);
    }
  }
  const store = run.store!;
  const h = meta.height;
  const set = (await store.validators.getValidatorsAtHeight(h)).validators;
  let trust: SnapshotTrust;
  const trustKind = x.bool(0.4) ? 'root' : 'validators';
  if (trustKind === 'root') {
    trust = { root: meta.merkleRoot };
  } else {
    const active = set.filter((v) => v.status === 'active');
    trust = { validators: active.map((v) => ({ validatorId: v.validatorId, publicKey: v.publicKey, stake: v.stake })) };
    const total = active.reduce((s, v) => s + v.stake, 0n);
    const order = [...active];
    for (let i = order.length - 1; i > 0; i--) {
      const j = x.int(0, i);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const bytes = snapshotAttestationBytes(FUZZ_CHAIN_ID, h, meta.merkleRoot);
    const attest = async (v: Validator): Promise<void> => {
      meta = await store.snapshots.addAttestation(meta!.id, { validatorId: v.validatorId, signature: signBytes(bytes, keyOf(v.validatorId).privateKey) });
    };
    let attested = 0n;
    let i = 0;
    // Not enough first (at most a third of the stake): the restore must refuse before any chunk, and create nothing.
    while (i < order.length && (attested + order[i]!.stake) * 3n <= total) {
      await attest(order[i]!);
      attested += order[i]!.stake;
      i++;
    }
    if (x.bool(0.3)) {
      const weak = await settled(run, restoreFromSnapshot({ dir: RESTORE_DIR, chainId: FUZZ_CHAIN_ID, source: fileSnapshotSource(`${SIM_DIR}/snapshots/${meta.id}.cssnap`, run.disk.fs()), trust, fs: run.disk.fs() }), 'restore with too few attestations');
      if (weak.ok || !isStoreError(weak.error, 'INVALID_ARGUMENT')) run.problems.push(`restore attested by ${attested} of ${total} stake: ${weak.ok ? 'finished' : describe(weak.error)}, not INVALID_ARGUMENT`);
      if ((await run.disk.fs().stat(RESTORE_DIR)) !== undefined) run.problems.push('a restore refused for its trust created its directory');
      run.tally.fault('restore:too-few-attestations-refused');
    }
    // Then more than a third, sometimes everyone.
    const upTo = x.bool(0.3) ? order.length : i + 1;
    for (; i < Math.min(upTo, order.length); i++) await attest(order[i]!);
  }
  const content = await store.snapshots.loadFromSnapshot(meta.id);
  await run.close();
  run.tally.fault('restore:source-snapshot');
  return { meta, path: `${SIM_DIR}/snapshots/${meta.id}.cssnap`, set, content, trust, trustKind };
}

/**
 * A restore from a source that damages one chunk: it must fail CORRUPTION naming the chunk, keep
 * nothing of it, and leave a directory that refuses to open. Returns how many chunks it kept (the
 * ones before the damaged one), which a rerun with no cut between must not fetch again.
 */
async function damagedRun(run: SimRun, facts: SourceFacts): Promise<number | undefined> {
  const x = run.extra;
  const index = x.int(0, facts.meta.chunkCount - 1);
  const fs = run.disk.fs();
  run.tally.fault('restore:damaged-chunk');
  const r = await settled(run, restoreFromSnapshot(restoreOptions(run, facts, fs, RESTORE_DIR, damagingSource(fileSnapshotSource(facts.path, fs), index, x.int(0, 2 ** 30)))), 'restore from a damaging source');
  if (r.ok) {
    run.problems.push(`restore from a source that damaged chunk ${index} finished`);
    return undefined;
  }
  const err = r.error;
  const named = isStoreError(err) && (err.details as { chunk?: unknown } | undefined)?.chunk === index && new RegExp(`chunk ${index} `).test(err.message);
  if (!isStoreError(err, 'CORRUPTION') || !named) {
    run.problems.push(`restore from a source that damaged chunk ${index} failed with ${describe(err)}, not CORRUPTION naming that chunk`);
    return undefined;
  }
  const staged = await entriesOf(fs, STAGING);
  const kept = staged.filter((n) => n === `chunk-${index}` || n.startsWith(`chunk-${index}.`));
  if (kept.length > 0) run.problems.push(`the damaged chunk ${index} was kept (${kept.join(', ')})`);
  const missing = [];
  for (let i = 0; i < index; i++) if (!staged.includes(`chunk-${i}`)) missing.push(i);
  if (missing.length > 0) run.problems.push(`chunks ${missing.join(', ')} (before the damaged ${index}) were not kept for a resume`);
  const open = await settled(run, openRestored(run, fs), 'open after a damaged restore');
  if (open.ok) {
    run.problems.push('openStore opened a directory whose restore failed on a damaged chunk');
    await open.value.close().catch(() => undefined);
  } else if (!isStoreError(open.error, 'INVALID_ARGUMENT')) {
    run.problems.push(`openStore after a damaged restore failed with ${describe(open.error)}, not INVALID_ARGUMENT`);
  }
  run.tally.fault('restore:damage-detected');
  return index;
}

/** A finished restore's report: the snapshot's numbers; a resume fetched only what was not kept. */
function checkReport(run: SimRun, facts: SourceFacts, report: RestoreReport, kept: number | undefined): void {
  const { meta } = facts;
  if (report.height !== meta.height || report.round !== meta.round || hex(report.root) !== hex(meta.merkleRoot) || report.chunks !== meta.chunkCount) {
    run.problems.push(`restore report ${JSON.stringify({ height: report.height, round: report.round, chunks: report.chunks })} does not match the snapshot (${meta.height}, ${meta.round}, ${meta.chunkCount} chunks)`);
  }
  if (report.certificates !== facts.content.decisions.length) run.problems.push(`restore wrote ${report.certificates} certificates, the snapshot has ${facts.content.decisions.length}`);
  if (kept !== undefined && report.chunksFetched !== meta.chunkCount - kept) run.problems.push(`resumed restore fetched ${report.chunksFetched} chunks; ${kept} of ${meta.chunkCount} were kept by the damaged run`);
}

const norm = (v: Validator): string => JSON.stringify({ ...v, publicKey: hex(v.publicKey), stake: String(v.stake), totalSlashed: String(v.totalSlashed) });

/**
 * The restored directory: the snapshot's height finalized, the registry's set there the source's,
 * every certificate's precommits stored as votes, one `SnapshotRestored`, a whole audit chain; a
 * signer refused without a watermark at or above the height (and let in with one, above it only).
 */
async function checkRestored(run: SimRun, facts: SourceFacts): Promise<void> {
  const x = run.extra;
  const { meta } = facts;
  const h = meta.height;
  // Sometimes the first open of the restored directory is cut too; the next must succeed.
  if (x.bool(0.2)) {
    run.probe.phase = 'restored-open';
    run.probe.arm(x.int(1, 60));
    const crashes = run.disk.stats.crashes;
    const r = await settled(run, openRestored(run, run.probe.fs()), 'open of the restored directory (cut)');
    run.probe.phase = 'run';
    if (run.disk.stats.crashes !== crashes) {
      run.countCut('restored-open:other');
      if (r.ok) await r.value.close().catch(() => undefined);
    } else {
      run.probe.disarm();
      if (r.ok) await r.value.close();
      else run.problems.push(`open of the restored directory failed without a power cut: ${describe(r.error)}`);
    }
  }
  const fs = run.disk.fs();
  if ((await fs.stat(`${RESTORE_DIR}/${RESTORING_FILE}`)) !== undefined) run.problems.push('the restored directory still holds RESTORING');
  let store: ConsensusStore;
  try {
    store = await openRestored(run, fs);
  } catch (err) {
    run.problems.push(`the restored directory does not open: ${describe(err)}`);
    return;
  }
  try {
    const last = await store.votes.getLastFinalized();
    if (last?.height !== h || last.round !== meta.round) run.problems.push(`restored: last finalized ${JSON.stringify(last && { height: last.height, round: last.round })}, the snapshot's is (${h}, ${meta.round})`);
    const set = (await store.validators.getValidatorsAtHeight(h)).validators;
    const want = facts.set.map(norm).join('\n');
    const got = set.map(norm).join('\n');
    if (want !== got) run.problems.push(`restored: the registry's set at height ${h} differs from the source's:\n  source   ${want.replaceAll('\n', '\n           ')}\n  restored ${got.replaceAll('\n', '\n           ')}`);
    let votes = 0;
    for (const d of facts.content.decisions) {
      const entries = await store.votes.getVotesForRound(d.round);
      for (const p of d.precommits) {
        const e = entries.find((v) => v.vote.validatorId === p.validatorId && v.vote.voteType === 'precommit' && v.vote.height === d.height);
        const v = e?.vote;
        if (v === undefined || v.blockHash === null || hex(v.blockHash) !== hex(d.blockHash) || v.timestamp !== p.timestamp || hex(v.signature) !== hex(p.signature)) {
          run.problems.push(`restored: the precommit of ${p.validatorId} at height ${d.height} round ${d.round} (certificate) is ${v === undefined ? 'missing' : 'not the certificate\'s'}`);
        }
        votes++;
      }
    }
    run.tally.ackedChecked += votes;
    const restored = (await store.audit.queryByHeight(h)).filter((e) => e.event.type === 'SnapshotRestored');
    if (restored.length !== 1) run.problems.push(`restored: ${restored.length} SnapshotRestored audit entries, not 1`);
    else {
      const ev = restored[0]!.event as { height: number; round: number; root: Uint8Array };
      if (ev.height !== h || ev.round !== meta.round || hex(ev.root) !== hex(meta.merkleRoot)) run.problems.push(`restored: SnapshotRestored names (${ev.height}, ${ev.round}, ${hex(ev.root)}), not the snapshot`);
    }
    const integrity = await store.audit.verifyIntegrity();
    if (!integrity.ok) run.problems.push(`restored: audit.verifyIntegrity failed: ${JSON.stringify(integrity.firstBad)}`);
    // The restored node makes the same snapshot (same root) of what it restored.
    if (x.bool(0.3)) {
      const again = await store.snapshots.createSnapshot({ height: h });
      if (hex(again.merkleRoot) !== hex(meta.merkleRoot)) run.problems.push(`restored: a snapshot of height ${h} has root ${hex(again.merkleRoot)}, the source's is ${hex(meta.merkleRoot)}`);
      else run.tally.fault('restore:same-root');
    }
  } catch (err) {
    run.problems.push(`restored: a check threw: ${describe(err)}`);
  }
  await store.close();
  run.tally.checks++;
  await checkFence(run, facts);
}

/** The sign guard's fence: a signer without a watermark at or above the snapshot's height is refused; with one, it signs above it only. */
async function checkFence(run: SimRun, facts: SourceFacts): Promise<void> {
  const x = run.extra;
  const { meta } = facts;
  const h = meta.height;
  const id = x.bool() ? OWN_ID : x.pick(facts.set).validatorId;
  const identity = { validatorId: id, privateKey: keyOf(id).privateKey };
  const below: SignWatermark | undefined = h > 1 ? { height: h - 1, round: meta.round, step: 'precommit' } : undefined;
  const variants: Record<string, unknown>[] = [{}, { state: 'new-key' }, { allowFreshState: true }, { state: 'existing-key' }, ...(below === undefined ? [] : [{ importWatermark: below }, { importWatermark: below, allowFreshState: true }])];
  const variant = x.pick(variants);
  const fs = run.disk.fs();
  const r = await settled(run, openRestored(run, fs, { ...identity, ...variant }), 'open with a signer');
  if (r.ok) {
    run.problems.push(`restored at height ${h}: an open with signer ${JSON.stringify(variant)} was not refused`);
    await r.value.close().catch(() => undefined);
    return;
  }
  if (!isStoreError(r.error, 'FRESH_SIGN_STATE')) run.problems.push(`restored at height ${h}: an open with signer ${JSON.stringify(variant)} failed with ${describe(r.error)}, not FRESH_SIGN_STATE`);
  run.tally.fault('restore:fence-refused');
  if (!x.bool(0.5)) return;
  let store: ConsensusStore;
  try {
    store = await openRestored(run, fs, { ...identity, importWatermark: { height: h, round: meta.round, step: 'precommit' } });
  } catch (err) {
    run.problems.push(`restored at height ${h}: an open importing the watermark (${h}, ${meta.round}, precommit) failed: ${describe(err)}`);
    return;
  }
  try {
    const at = store.signGuard.signVote({ validatorId: id, height: h, round: meta.round, voteType: 'precommit', blockHash: new Uint8Array(32).fill(7), timestamp: 1 });
    const refused = await at.then(() => false, (err: unknown) => isStoreError(err, 'CONFLICT'));
    if (!refused) run.problems.push(`restored at height ${h}: signed a precommit at (${h}, ${meta.round}) at the fence`);
    const next = await store.signGuard.signVote({ validatorId: id, height: h + 1, round: meta.round + 1, voteType: 'prevote', blockHash: new Uint8Array(32).fill(8), timestamp: 2 });
    if (next.height !== h + 1) run.problems.push(`restored at height ${h}: a prevote at ${h + 1} came back at ${next.height}`);
    run.tally.fault('restore:fence-signed-above');
  } catch (err) {
    run.problems.push(`restored at height ${h}: signing above the fence failed: ${describe(err)}`);
  }
  await store.close();
}
