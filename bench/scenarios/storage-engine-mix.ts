/**
 * The storage scenario's "engine mix" rows (`npm run bench -- storage`; docs/bench-notes.md,
 * The scenarios): bytes on disk per 100,000 blocks when one node stores what the reference
 * engine writes per block (bench/lib/engine-mix.ts: every validator's prevote, precommit and
 * commit vote, signed for real; the audit entries with a signed head per audit commit batch;
 * five round-state checkpoints; the node's sign-guard entries; the finalization mark; the
 * reward distribution), at 21 and 100 validators, N blocks each (env
 * `BENCH_ENGINE_MIX_BLOCKS`, default `DEFAULT_BLOCKS`; `QUICK_BLOCKS` with --quick), through
 * `openStore` with the options a node has (default images and snapshots), durability 'none'
 * (the bytes are those of fsync; only the time differs).
 *
 * The figure is read from the disk after close (bench/lib/disk-census.ts): hot segments up to
 * their last record, local images, portable snapshots and the other files, each listed; the
 * preallocated zeros of the segments are not counted. It is extrapolated linearly from N
 * blocks to 100,000, and set against the signature floor (64 bytes x 2 votes x validators per
 * block: the prevote and precommit signatures alone). LevelDB gets the same records in the
 * same run (bench/lib/engine-mix-level.ts); its directory after close is counted whole.
 *
 * Before anything is reported, the records found on disk by kind are checked against those
 * written: a mismatch fails the scenario.
 *
 * Must never: report a figure not read from the disk, count preallocated zeros, or extrapolate
 * from fewer blocks than the row says.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RecordKind } from '../../src/codec/kinds.ts';
import { COMMIT_KIND } from '../../src/codec/framing.ts';
import { AUTO_LAG } from '../../src/stores/snapshot-store.ts';
import type { BenchContext } from '../lib/context.ts';
import { diskCensus, usedBytes, type DiskCensus } from '../lib/disk-census.ts';
import { EngineMixWriter, mixValidators } from '../lib/engine-mix.ts';
import { EngineMixLevel } from '../lib/engine-mix-level.ts';
import { loadPeers } from '../lib/peers.ts';
import { CHAIN_ID, loadOpenStore } from '../lib/systems.ts';
import { formatNumber } from '../lib/table.ts';
import { makeTempDir, removeTempDir } from '../lib/temp-dir.ts';

/** Blocks per validator count, full run: about a minute at 100 validators on a busy 2-core machine. */
export const DEFAULT_BLOCKS = 300;
/** The snapshot interval `openStore` defaults to (src/store-options.ts): the first automatic snapshot is taken at this height + AUTO_LAG. */
const DEFAULT_SNAPSHOT_INTERVAL = 1_000;
/** Blocks with --quick. */
export const QUICK_BLOCKS = 30;
/** The environment variable that sets N. */
export const BLOCKS_ENV = 'BENCH_ENGINE_MIX_BLOCKS';
const PER = 100_000;
const GB = 1e9;
const SIGNATURE_BYTES = 64;

/** N from the environment (a positive integer up to 10,000,000), else the default for the mode. */
export function engineMixBlocks(env: Readonly<Record<string, string | undefined>>, quick: boolean): number {
  const raw = env[BLOCKS_ENV];
  if (raw === undefined || raw === '') return quick ? QUICK_BLOCKS : DEFAULT_BLOCKS;
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(n) || n < 1 || n > 10_000_000) throw new Error(`${BLOCKS_ENV} must be an integer 1..10000000, got ${JSON.stringify(raw)}`);
  return n;
}

/** Bytes of the prevote and precommit signatures of `validators` validators over `blocks` blocks. */
export function signatureFloor(validators: number, blocks: number): number {
  return SIGNATURE_BYTES * 2 * validators * blocks;
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    n += entry.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

const KIND_NAMES = new Map<number, string>([...Object.entries(RecordKind).map(([name, kind]) => [kind, name] as [number, string]), [COMMIT_KIND, 'commit marker'], [0, 'segment header']]);

/** What one run found. */
interface MixRun {
  readonly census: DiskCensus;
  readonly ms: number;
  readonly written: EngineMixWriter['written'];
  readonly nodeProposals: number;
  readonly level: { bytes: number; records: number } | string;
}

/** The census's record counts against what was written: a list of mismatches (empty when all agree). */
function checkCensus(c: DiskCensus, w: EngineMixWriter['written'], validators: number): string[] {
  const count = (kind: number): number => c.kinds.get(kind)?.count ?? 0;
  const expect: [string, number, number][] = [
    ['votes', count(RecordKind.Vote), w.votes],
    ['round-state checkpoints', count(RecordKind.RoundState), w.checkpoints],
    // + the NodeKeyRecorded entry the audit log writes at its first batch.
    ['audit entries', count(RecordKind.AuditEvent), w.auditEntries + 1],
    ['sign-guard entries', count(RecordKind.SignGuardEntry), w.signGuardEntries],
    ['finalization marks', count(RecordKind.Finalized), w.finalized],
    ['reward distributions', count(RecordKind.RewardDistribution), w.rewards],
    ['validator registrations', count(RecordKind.ValidatorRegistered), validators],
  ];
  return expect.filter(([, found, wrote]) => found !== wrote).map(([what, found, wrote]) => `${what}: ${found} on disk, ${wrote} written`);
}

async function mixRun(validators: number, blocks: number, log: (m: string) => void): Promise<MixRun> {
  const open = await loadOpenStore();
  if (typeof open === 'string') throw new Error(open);
  const keys = mixValidators(validators);
  const node = keys[0];
  if (node === undefined) throw new Error('no validator');
  const dir = makeTempDir(`storage-mix-cs-${validators}`);
  const Level = loadPeers(log).Level;
  const levelDir = Level === undefined ? undefined : makeTempDir(`storage-mix-leveldb-${validators}`);
  try {
    const db = Level === undefined || levelDir === undefined ? undefined : new Level(levelDir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db?.open();
    const sink = db === undefined ? undefined : new EngineMixLevel(db, CHAIN_ID);
    const store = await open({ dir, chainId: CHAIN_ID, signer: { validatorId: node.validatorId, privateKey: node.privateKey, state: 'new-key' }, log: { durability: 'none' } });
    let ms: number;
    let writer: EngineMixWriter;
    try {
      writer = new EngineMixWriter(store, CHAIN_ID, keys, sink);
      await writer.registerValidators();
      const t = performance.now();
      for (let i = 0; i < blocks; i++) await writer.writeBlock();
      ms = performance.now() - t;
    } finally {
      await store.close();
      await db?.close();
    }
    const census = diskCensus(dir);
    const problems = checkCensus(census, writer.written, validators);
    if (problems.length > 0) throw new Error(`engine mix, ${validators} validators: the disk does not hold what was written: ${problems.join('; ')}`);
    const level = sink === undefined || levelDir === undefined ? 'classic-level not installed (bench/peers)' : { bytes: dirBytes(levelDir), records: sink.records };
    let nodeProposals = 0;
    for (let r = 0; r < blocks; r++) if (writer.set.proposerOf(r).validatorId === node.validatorId) nodeProposals++;
    return { census, ms, written: writer.written, nodeProposals, level };
  } finally {
    removeTempDir(dir);
    if (levelDir !== undefined) removeTempDir(levelDir);
  }
}

function gb100k(bytes: number, blocks: number): string {
  return ((bytes / blocks) * PER / GB).toFixed(3);
}

/** Emits the engine-mix table of the storage scenario. */
export async function runEngineMixStorage(ctx: BenchContext): Promise<void> {
  const blocks = engineMixBlocks(process.env, ctx.quick);
  const what = 'hot segments to their last record + images + snapshots + MANIFEST, LOCK, SIGNSTATE, node.key; not the preallocated zeros';
  const cells: string[][] = [
    ['system', 'validators', 'blocks measured', 'bytes used', 'bytes per block', 'GB per 100k blocks', 'hot segments GB/100k', 'images GB/100k', 'snapshots GB/100k', 'other files (bytes)', 'signature floor GB/100k', 'x floor', 'counted'],
  ];
  const notes: string[] = [];
  for (const validators of [21, 100]) {
    ctx.log(`storage: engine mix, ${validators} validators, ${blocks} blocks (consensus-store and LevelDB)`);
    const run = await mixRun(validators, blocks, (m) => ctx.log(m));
    const c = run.census;
    const used = usedBytes(c);
    const floor = signatureFloor(validators, blocks);
    cells.push([
      'consensus-store',
      String(validators),
      String(blocks),
      formatNumber(used),
      formatNumber(used / blocks),
      gb100k(used, blocks),
      gb100k(c.segments, blocks),
      gb100k(c.images, blocks),
      gb100k(c.snapshots, blocks),
      formatNumber(c.other),
      gb100k(floor, blocks),
      `${(used / floor).toFixed(2)}x`,
      `engine mix: ${what} (${c.segmentFiles} segments, ${c.imageFiles} image files, ${c.snapshotFiles} snapshot files; preallocated, unwritten: ${formatNumber(c.preallocated)})`,
    ]);
    if (typeof run.level === 'string') notes.push(`leveldb ${validators} validators: not measured (${run.level})`);
    else {
      cells.push([
        'leveldb (engine mix, same records)',
        String(validators),
        String(blocks),
        formatNumber(run.level.bytes),
        formatNumber(run.level.bytes / blocks),
        gb100k(run.level.bytes, blocks),
        '-',
        '-',
        '-',
        '-',
        gb100k(floor, blocks),
        `${(run.level.bytes / floor).toFixed(2)}x`,
        `engine mix: the directory after close, every file (${formatNumber(run.level.records)} values, keys as the LevelDB peer's)`,
      ]);
    }
    const per = (n: number): string => (n / blocks).toFixed(2);
    const kinds = [...c.kinds]
      .sort((a, b) => b[1].bytes - a[1].bytes)
      .map(([kind, k]) => `${KIND_NAMES.get(kind) ?? `kind ${kind}`} ${per(k.count)} x, ${formatNumber(k.bytes / blocks)} B`)
      .join('; ');
    const w = run.written;
    notes.push(
      `consensus-store ${validators} validators: ${blocks} blocks in ${(run.ms / 1000).toFixed(1)} s (durability none, signing and verifying included); ` +
        `per block on disk, by record kind (count, bytes with headers and padding): ${kinds}`,
      `consensus-store ${validators} validators: per block written: ${per(w.votes)} votes, ${per(w.auditEntries)} audit entries (${per(w.voteReceived)} VoteReceived) in ${per(c.kinds.get(RecordKind.AuditHead)?.count ?? 0)} signed heads, ` +
        `${per(w.checkpoints)} checkpoints, ${per(w.signGuardEntries)} sign-guard entries (the node proposed ${run.nodeProposals} of ${blocks} blocks), ${per(w.finalized)} finalization mark, ${per(w.rewards)} reward distribution of ${per(w.rewardLines)} lines; records on disk match these counts`,
      `consensus-store ${validators} validators, on disk after ${blocks} blocks: hot segments ${formatNumber(c.segments)} B in ${c.segmentFiles} files, images ${formatNumber(c.images)} B in ${c.imageFiles}, snapshots ${formatNumber(c.snapshots)} B in ${c.snapshotFiles}, other ${formatNumber(c.other)} B (${c.otherFiles.join(', ')})`,
    );
  }
  notes.push(
    'engine mix: per block, what the reference engine (src/consensus/engine.ts) writes on one node of a healthy chain, one round per height: every validator\'s prevote, precommit and commit vote (ed25519-signed by its key; the node\'s own through the sign guard, the others\' as VerifiedVotes), ' +
      'RoundStarted, ProposalReceived (when another validator proposed), 3 PhaseChanged, one VoteReceived per other validator\'s prevote and precommit, RoundCompleted, the audit log\'s signed head per commit batch, ' +
      'checkpoints at propose, prevote, precommit, commit and finalize, the finalization mark, the reward distribution (the proposer, the validators of the first quorum of precommits, at which the engine decides, and each validator\'s staking share); validator ids as the block mix\'s (validator-000...)',
    `engine mix: extrapolated linearly from the blocks measured to 100,000; signature floor = 64 B x 2 votes x validators x blocks; "x floor" = bytes used / floor; N from env ${BLOCKS_ENV} (default ${formatNumber(DEFAULT_BLOCKS)}, ${QUICK_BLOCKS} with --quick)`,
  );
  notes.push(
    'engine mix: images and snapshots are extrapolated linearly like the log, which fits neither exactly: an image holds the stores\' in-memory state at one LSN (one every 1,000,000 records and one at close, 2 kept), ' +
      'so at 100,000 blocks two images of the state may be on disk, up to twice the extrapolated figure; a portable snapshot holds the validator registry and at most 1,000 heights of decision certificates (one every 1,000 heights, 3 kept), ' +
      'so its share at 100,000 blocks is about 3 snapshots of the size measured, far below the extrapolated figure',
  );
  const firstSnapshot = DEFAULT_SNAPSHOT_INTERVAL + AUTO_LAG;
  if (blocks < firstSnapshot) {
    notes.push(`engine mix: no portable snapshot on disk: the store takes its first automatic one at height ${formatNumber(firstSnapshot)} (every 1,000 heights, ${AUTO_LAG} heights late); ${BLOCKS_ENV}=${firstSnapshot + 1} or more includes one`);
  }
  if (ctx.quick) notes.push(`--quick: engine mix extrapolated from ${blocks} blocks only`);
  ctx.emitTable('storage', `storage: engine mix, bytes on disk per 100,000 blocks`, cells, notes);
}
