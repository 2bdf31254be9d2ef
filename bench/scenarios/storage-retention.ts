/**
 * The storage scenario's "bounded history" rows (`npm run bench -- storage`; docs/bench-notes.md,
 * "Bounded history"): the engine mix (bench/lib/engine-mix.ts) written through `openStore` with
 * retention on (`hotHeights` H, default 100, compacting as it goes: `compactEvery` at its default,
 * a quarter of H), N blocks (env `BENCH_RETENTION_BLOCKS`, default 1,100: most of the run cold),
 * at 21 and 100 validators, durability 'none', default images. Automatic portable snapshots are
 * off: the compactor never cuts into the heights they read (`certificateHeights + interval +
 * lag`, over 2,000 heights at the defaults: docs/architecture.md, "The path of a compaction"),
 * so with them on a window of 100 heights keeps over 2,000 hot and nothing goes cold at N 1,100.
 *
 * Counted from the disk after close (bench/lib/disk-census.ts): hot segments up to their last
 * record, cold files, the cold manifest, images and snapshots on their own columns, the other
 * files; never the preallocated zeros. The cold files are broken down by the store that wrote
 * them, with their record counts from the cold manifest. LevelDB gets the same records in the
 * same run (every record: LevelDB has no tier) and is counted whole.
 *
 * Before anything is reported, the records written are checked to be on disk, hot or cold, at
 * least as many times as they must be (`checkTiers`; a record can be in both while its segment
 * waits for release: the hot copy is then counted too, as it is on disk), and the cut to have
 * moved.
 *
 * Must never: report a figure not read from the disk, or count preallocated zeros.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RecordKind } from '../../src/codec/kinds.ts';
import { COLD_DIR_NAME, COLD_MANIFEST_NAME, decodeColdManifest } from '../../src/cold/cold-manifest.ts';
import type { BenchContext } from '../lib/context.ts';
import { diskCensus, usedBytes, type DiskCensus } from '../lib/disk-census.ts';
import { EngineMixWriter, mixValidators } from '../lib/engine-mix.ts';
import { EngineMixLevel } from '../lib/engine-mix-level.ts';
import { loadPeers } from '../lib/peers.ts';
import { CHAIN_ID, loadOpenStore } from '../lib/systems.ts';
import { formatNumber } from '../lib/table.ts';
import { makeTempDir, removeTempDir } from '../lib/temp-dir.ts';
import { signatureFloor } from './storage-engine-mix.ts';
import { readFileSync } from 'node:fs';

/** Blocks per validator count, full run. */
export const DEFAULT_RETENTION_BLOCKS = 1_100;
/** Blocks with --quick. */
export const QUICK_RETENTION_BLOCKS = 60;
/** The environment variables that set N and H. */
export const RETENTION_BLOCKS_ENV = 'BENCH_RETENTION_BLOCKS';
export const RETENTION_HOT_ENV = 'BENCH_RETENTION_HOT';
const DEFAULT_HOT = 100;
const QUICK_HOT = 10;
const PER = 100_000;
const GB = 1e9;

function envInt(env: Readonly<Record<string, string | undefined>>, name: string, def: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(n) || n < 1 || n > max) throw new Error(`${name} must be an integer 1..${max}, got ${JSON.stringify(raw)}`);
  return n;
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    n += entry.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

const KIND_NAMES = new Map<number, string>(Object.entries(RecordKind).map(([name, kind]) => [kind, name] as [number, string]));

interface RetentionRun {
  readonly census: DiskCensus;
  readonly ms: number;
  readonly cutHeight: number;
  readonly written: EngineMixWriter['written'];
  readonly level: { bytes: number; records: number } | string;
}

/**
 * Kinds written that are on disk (hot + cold) fewer times than they must be: a list of
 * mismatches. Votes, audit entries, finalization marks and reward distributions are each kept
 * (hot or cold); a height keeps at least its last round-state checkpoint (the earlier ones of
 * a height may go with a released segment: the round store holds the latest); the validator
 * registrations live in the images once their segment is released, so they are not counted.
 */
function checkTiers(c: DiskCensus, w: EngineMixWriter['written'], blocks: number): string[] {
  const count = (kind: number): number => (c.kinds.get(kind)?.count ?? 0) + (c.coldKinds.get(kind) ?? 0);
  const expect: [string, number, number][] = [
    ['votes', count(RecordKind.Vote), w.votes],
    ['round-state checkpoints (one per height at least)', count(RecordKind.RoundState), blocks],
    ['audit entries', count(RecordKind.AuditEvent), w.auditEntries + 1],
    ['finalization marks', count(RecordKind.Finalized), w.finalized],
    ['reward distributions', count(RecordKind.RewardDistribution), w.rewards],
  ];
  return expect.filter(([, found, wrote]) => found < wrote).map(([what, found, wrote]) => `${what}: ${found} on disk (hot + cold), ${wrote} expected`);
}

async function retentionRun(validators: number, blocks: number, hotHeights: number, log: (m: string) => void): Promise<RetentionRun> {
  const open = await loadOpenStore();
  if (typeof open === 'string') throw new Error(open);
  const keys = mixValidators(validators);
  const node = keys[0];
  if (node === undefined) throw new Error('no validator');
  const dir = makeTempDir(`storage-retention-cs-${validators}`);
  const Level = loadPeers(log).Level;
  const levelDir = Level === undefined ? undefined : makeTempDir(`storage-retention-leveldb-${validators}`);
  try {
    const db = Level === undefined || levelDir === undefined ? undefined : new Level(levelDir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db?.open();
    const sink = db === undefined ? undefined : new EngineMixLevel(db, CHAIN_ID);
    const store = await open({
      dir,
      chainId: CHAIN_ID,
      signer: { validatorId: node.validatorId, privateKey: node.privateKey, state: 'new-key' },
      log: { durability: 'none' },
      snapshots: { interval: 0 },
      retention: { hotHeights },
    });
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
    const manifestPath = join(dir, COLD_DIR_NAME, COLD_MANIFEST_NAME);
    const cutHeight = decodeColdManifest(readFileSync(manifestPath), manifestPath).cut.height;
    const problems = checkTiers(census, writer.written, blocks);
    if (cutHeight === 0) problems.push('nothing went cold (the cut is at height 0)');
    if (problems.length > 0) throw new Error(`bounded history, ${validators} validators: ${problems.join('; ')}`);
    const level = sink === undefined || levelDir === undefined ? 'classic-level not installed (bench/peers)' : { bytes: dirBytes(levelDir), records: sink.records };
    return { census, ms, cutHeight, written: writer.written, level };
  } finally {
    removeTempDir(dir);
    if (levelDir !== undefined) removeTempDir(levelDir);
  }
}

function gb100k(bytes: number, blocks: number): string {
  return ((bytes / blocks) * PER / GB).toFixed(3);
}

/**
 * The directory at 100,000 blocks: the cold files grow with the cold heights (their bytes per
 * cold height, `cutHeight - 1` of them, times 100,000), the rest (hot window, images, manifest,
 * other files) does not grow with N and is counted once.
 */
function projected(c: DiskCensus, cutHeight: number): string {
  const coldPerHeight = cutHeight > 1 ? c.cold / (cutHeight - 1) : NaN;
  return ((coldPerHeight * PER + usedBytes(c) - c.cold) / GB).toFixed(3);
}

/** Emits the bounded-history table of the storage scenario. */
export async function runRetentionStorage(ctx: BenchContext): Promise<void> {
  const blocks = envInt(process.env, RETENTION_BLOCKS_ENV, ctx.quick ? QUICK_RETENTION_BLOCKS : DEFAULT_RETENTION_BLOCKS, 10_000_000);
  const hot = envInt(process.env, RETENTION_HOT_ENV, ctx.quick ? QUICK_HOT : DEFAULT_HOT, 1_000_000);
  const cells: string[][] = [
    ['system', 'validators', 'blocks measured', 'hotHeights', 'bytes used', 'GB per 100k blocks', 'GB at 100k blocks (projected)', 'hot segments GB/100k', 'cold files GB/100k', 'cold manifest (bytes)', 'images GB/100k', 'snapshots GB/100k', 'other files (bytes)', 'signature floor GB/100k', 'x floor', 'counted'],
  ];
  const notes: string[] = [];
  for (const validators of [21, 100]) {
    ctx.log(`storage: bounded history, ${validators} validators, ${blocks} blocks, hotHeights ${hot} (consensus-store and LevelDB)`);
    const run = await retentionRun(validators, blocks, hot, (m) => ctx.log(m));
    const c = run.census;
    const used = usedBytes(c);
    const floor = signatureFloor(validators, blocks);
    cells.push([
      'consensus-store (retention)',
      String(validators),
      String(blocks),
      String(hot),
      formatNumber(used),
      gb100k(used, blocks),
      projected(c, run.cutHeight),
      gb100k(c.segments, blocks),
      gb100k(c.cold, blocks),
      formatNumber(c.coldManifest),
      gb100k(c.images, blocks),
      gb100k(c.snapshots, blocks),
      formatNumber(c.other),
      gb100k(floor, blocks),
      `${(used / floor).toFixed(2)}x`,
      `bounded history: hot segments to their last record (${c.segmentFiles}) + cold files (${c.coldFiles}) + cold manifest + images (${c.imageFiles}) + other files; cut at height ${run.cutHeight} of ${blocks}; preallocated, unwritten: ${formatNumber(c.preallocated)}`,
    ]);
    if (typeof run.level === 'string') notes.push(`leveldb ${validators} validators: not measured (${run.level})`);
    else {
      cells.push([
        'leveldb (engine mix, same records)',
        String(validators),
        String(blocks),
        '-',
        formatNumber(run.level.bytes),
        gb100k(run.level.bytes, blocks),
        gb100k(run.level.bytes, blocks),
        '-',
        '-',
        '-',
        '-',
        '-',
        '-',
        gb100k(floor, blocks),
        `${(run.level.bytes / floor).toFixed(2)}x`,
        `bounded history: the directory after close, every file (${formatNumber(run.level.records)} values; all history, LevelDB has no tier)`,
      ]);
    }
    const byStore = [...c.coldByStore]
      .sort((a, b) => b[1].bytes - a[1].bytes)
      .map(([store, s]) => `${store} ${formatNumber(s.bytes)} B (${String(s.records)} records, ${(s.bytes / Math.max(1, s.records)).toFixed(1)} B each, ${s.files} files)`)
      .join('; ');
    const coldKinds = [...c.coldKinds].map(([kind, n]) => `${KIND_NAMES.get(kind) ?? `kind ${kind}`} ${String(n)}`).join(', ');
    const coldVotes = c.coldKinds.get(RecordKind.Vote) ?? 0;
    const voteBytes = c.coldByStore.get('votes')?.bytes ?? 0;
    notes.push(
      `consensus-store (retention) ${validators} validators: ${blocks} blocks in ${(run.ms / 1000).toFixed(1)} s (compactions in the background included); cold files by store: ${byStore}`,
      `consensus-store (retention) ${validators} validators: records in the cold files by kind: ${coldKinds}; ` +
        `the votes store's files: ${coldVotes === 0 ? '-' : `${(voteBytes / coldVotes).toFixed(1)} B per vote (${(voteBytes / coldVotes / 64).toFixed(2)}x its 64-byte signature)`}; ` +
        `hot segments ${formatNumber(c.segments)} B (records of the hot window, and of heights already cold whose segments wait for the oldest image kept), images ${formatNumber(c.images)} B in ${c.imageFiles}`,
    );
  }
  notes.push(
    `bounded history: the engine mix (as the rows above) through openStore({ retention: { hotHeights: ${hot} } }), compactEvery at its default (${Math.max(1, Math.floor(hot / 4))}), default images, automatic snapshots off (with them on, the window is never under their ${'>'}2,000 heights); N from env ${RETENTION_BLOCKS_ENV}, H from ${RETENTION_HOT_ENV}; "GB per 100k blocks" extrapolates every byte linearly (the hot part and the images do not grow with N: it overstates them); "GB at 100k blocks (projected)" = cold bytes per cold height x 100,000 + every other byte once (LevelDB: linear)`,
  );
  ctx.emitTable('storage', `storage: bounded history (engine mix, retention on), bytes on disk per 100,000 blocks`, cells, notes);
}
