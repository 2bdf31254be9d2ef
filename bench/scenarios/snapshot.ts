/**
 * `npm run bench -- snapshot`: local state images and portable snapshots (docs/durability.md,
 * "Images"; docs/stores.md, "Snapshots").
 *
 * 1. open-image: a store whose local image holds 1,000,000 votes (100,000 with --quick) and an
 *    empty tail, opened until the first query is answered (the count of the last round),
 *    interleaved with a full replay of the same directory (`images: { load: false }`) and with
 *    SQLite and LevelDB opening the same votes (filled as the recovery scenario fills them).
 *    Target: <= 100 ms with the image.
 * 2. open-deep: a store of 10,000,000 votes (1,000,000 with --quick) with an image taken
 *    100,000 votes (10,000) before the end, against a store of 1,100,000 (110,000) votes with
 *    its image after 1,000,000 (100,000) and the same tail: the open (target <= 1 s for the big
 *    one) and the tail's replay, which must cost the same whatever lies before the image
 *    (ratio of the replays, target <= 1.25x). One full replay of the big store is the reference.
 * 3. restore: a portable snapshot of 100 validators x 1,000 heights of decision certificates
 *    and of 10,000 x 100 (--quick: 100 x 100 and 1,000 x 20), restored with
 *    `restoreFromSnapshot(fileSnapshotSource(...))` into a fresh directory (durable log), then
 *    `openStore` with `signer.importWatermark` at the snapshot's height: "ready to vote" is
 *    both resolved. Targets < 2 s and < 30 s.
 * 4. append-during: `appendVote` (durable, one in flight) p99 while `takeImage(store, true)`
 *    runs and while `snapshots.createSnapshot()` runs, against the same calls with nothing in
 *    the background, interleaved; only calls started while the background work was in flight
 *    are counted. Target p99 <= 1.5x.
 * 5. bytes: each restored snapshot's file size per height, per height and validator, and per
 *    certificate precommit against the signature floor (64 bytes a precommit).
 *
 * Building (never timed): votes are written as the vote store's own records through the raw
 * log with durability 'none' (bench/lib/fill.ts); a snapshot's source store registers its
 * validators through the registry, writes its precommits and finalization marks as raw
 * records, and only the tip height's precommits carry real signatures (`signVote`): the
 * restore verifies the tip certificate alone, and every other signature is 64 opaque bytes of
 * the same size.
 *
 * `BENCH_SNAPSHOT_PARTS=1,3` runs only the named parts (to profile one of them).
 *
 * Must never: time a fill, count an append that started after the background work ended, or
 * reuse a restore directory between repetitions.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { RecordKind } from '../../src/codec/kinds.ts';
import { encodeFinalizedRecord, encodeVoteRecord } from '../../src/codec/vote-record.ts';
import { publicKeyOf, randomPrivateKey, signVote } from '../../src/codec/vote-sign.ts';
import type { RecordInput } from '../../src/log/types.ts';
import type { ValidatorVote } from '../../src/model/vote.ts';
import { fileSnapshotSource, restoreFromSnapshot } from '../../src/restore.ts';
import { openStore, takeImage, writableLogOf, type ConsensusStore, type OpenStoreOptions } from '../../src/store.ts';
import { SNAPSHOTS_DIR } from '../../src/stores/snapshot-store.ts';
import type { SnapshotMetadata } from '../../src/stores/snapshot-types.ts';
import type { BenchContext } from '../lib/context.ts';
import { fillPeer } from '../lib/fill.ts';
import { interleave, type Contender } from '../lib/interleave.ts';
import { LatencyRecorder } from '../lib/latency.ts';
import { measureRun, runSequential } from '../lib/measure.ts';
import { LevelPeer, SqlitePeer, type PeerStore } from '../lib/peer-stores.ts';
import { loadPeers } from '../lib/peers.ts';
import { buildRow, referenceRow, type ResultRow, type RunResult, type SystemRuns } from '../lib/run-result.ts';
import { spreadOf } from '../lib/stats.ts';
import { CHAIN_ID } from '../lib/systems.ts';
import { formatNumber } from '../lib/table.ts';
import { makeTempDir, removeTempDir } from '../lib/temp-dir.ts';
import { VoteFactory } from '../lib/workload.ts';

const VALIDATORS = 100;
const PER_ROUND = VALIDATORS * 2;
const FILL_BATCH = 4096;
const FILL_IN_FLIGHT = 4;

interface Sizing {
  readonly openVotes: number;
  /** Votes before the image in the small and the big store of part 2. */
  readonly deepBefore: readonly [number, number];
  readonly deepTail: number;
  readonly restores: readonly { readonly validators: number; readonly heights: number; readonly targetMs: number }[];
  readonly appendsPerRun: number;
}

const FULL: Sizing = {
  openVotes: 1_000_000,
  deepBefore: [1_000_000, 9_900_000],
  deepTail: 100_000,
  restores: [
    { validators: 100, heights: 1000, targetMs: 2000 },
    { validators: 10_000, heights: 100, targetMs: 30_000 },
  ],
  appendsPerRun: 1000,
};

const QUICK: Sizing = {
  openVotes: 100_000,
  deepBefore: [100_000, 990_000],
  deepTail: 10_000,
  restores: [
    { validators: 100, heights: 100, targetMs: 2000 },
    { validators: 1000, heights: 20, targetMs: 30_000 },
  ],
  appendsPerRun: 200,
};

function oneShot(ms: number, items: number): RunResult {
  const us = ms * 1000;
  return { latency: { count: 1, p50_us: us, p99_us: us, max_us: us, mean_us: us }, opsPerS: (items * 1000) / ms, loopDelayP99Us: NaN };
}

function collect(): void {
  globalThis.gc?.();
}

/** Options of every open of a store the scenario builds: no automatic image or snapshot behind the measurement's back. */
export function storeOptions(dir: string, extra: Partial<OpenStoreOptions> = {}): OpenStoreOptions {
  // The history's votes carry fake signatures: stored unverified (docs/stores.md, "Vote verification").
  return { dir, chainId: CHAIN_ID, voteVerification: 'off', log: { durability: 'fsync' }, snapshots: { interval: 0 }, ...extra, images: { everyRecords: 0, ...extra.images } };
}

/** Appends votes `from`..`from + count - 1` of the 100-validator history as raw Vote records (durability 'none'). */
export async function fillRange(dir: string, from: number, count: number): Promise<number> {
  const started = performance.now();
  const store = await openStore(storeOptions(dir, { log: { durability: 'none' } }));
  try {
    const factory = new VoteFactory(VALIDATORS, from);
    const recordedAt = Date.now();
    const log = writableLogOf(store);
    const inFlight = new Set<Promise<unknown>>();
    for (let first = 0; first < count; first += FILL_BATCH) {
      const batch: RecordInput[] = [];
      for (let i = first; i < Math.min(count, first + FILL_BATCH); i++) batch.push({ kind: RecordKind.Vote, payload: encodeVoteRecord(factory.next(), recordedAt) });
      const p = log.append(batch);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p)).catch(() => undefined);
      if (inFlight.size >= FILL_IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    await store.close();
  }
  return performance.now() - started;
}

/** Opens `dir` (full replay, or the image there), takes an image of all of it, closes. */
export async function imageNow(dir: string): Promise<{ lsn: number; bytes: number; ms: number; openMs: number }> {
  const t = performance.now();
  const store = await openStore(storeOptions(dir, { log: { durability: 'none' } }));
  const openMs = performance.now() - t;
  try {
    const t2 = performance.now();
    const image = await takeImage(store, false);
    if (image === undefined) throw new Error('takeImage wrote nothing');
    return { lsn: image.lsn, bytes: image.bytes, ms: performance.now() - t2, openMs };
  } finally {
    await store.close();
  }
}

/** What one timed open of the engine saw. */
interface OpenSample {
  readonly ms: number;
  readonly count: number;
  readonly replayRecords: number;
  readonly replayMs: number;
  readonly imageMs: number;
  readonly imageLoaded: boolean;
  readonly logOpenMs: number;
}

async function timeEngineOpen(dir: string, lastRound: number, load: boolean): Promise<OpenSample> {
  collect();
  const t = performance.now();
  const store = await openStore(storeOptions(dir, { images: { load, onClose: false } }));
  const count = await store.votes.countVotesForRound(lastRound);
  const ms = performance.now() - t;
  const r = store.replay;
  const sample = {
    ms,
    count,
    replayRecords: r.records,
    replayMs: r.durationMs,
    imageMs: r.image.loaded?.durationMs ?? 0,
    imageLoaded: r.image.loaded !== undefined,
    logOpenMs: store.log.openReport.durationMs,
  };
  if (r.image.rejected.length > 0) throw new Error(`an image was rejected: ${r.image.rejected.map((x) => x.reason).join('; ')}`);
  await store.close();
  return sample;
}

async function timePeerOpen(open: () => Promise<PeerStore>, lastRound: number): Promise<{ ms: number; count: number }> {
  const t = performance.now();
  const peer = await open();
  const count = await peer.countForRound(lastRound);
  const ms = performance.now() - t;
  await peer.close();
  return { ms, count };
}

function median(values: readonly number[]): number {
  return spreadOf(values).median;
}

// ---- 1. open with an image -------------------------------------------------------------------

/** A directory of `votes` votes with an image of all of them (an empty tail). */
async function buildImageDir(ctx: BenchContext, votes: number, dirs: string[]): Promise<{ dir: string; image: { lsn: number; bytes: number } }> {
  const dir = makeTempDir(`snapshot-image-${votes}`);
  dirs.push(dir);
  const fillMs = await fillRange(dir, 0, votes);
  const image = await imageNow(dir);
  ctx.log(
    `  snapshot: ${formatNumber(votes)} votes written in ${(fillMs / 1000).toFixed(1)} s; image at LSN ${image.lsn}, ${formatNumber(image.bytes)} bytes, ` +
      `taken in ${image.ms.toFixed(0)} ms (unpaced) after a ${image.openMs.toFixed(0)} ms full replay`,
  );
  return { dir, image };
}

async function openWithImage(ctx: BenchContext, votes: number, reps: number, dirs: string[], dir: string, image: { bytes: number }): Promise<ResultRow[]> {
  const lastRound = Math.ceil(votes / PER_ROUND) - 1;
  const peers = loadPeers((m) => ctx.log(m));
  const openers = new Map<string, () => Promise<{ ms: number; count: number }>>();
  const samples = new Map<string, OpenSample[]>();
  const IMG = 'consensus-store, image';
  const FULLR = 'consensus-store, full replay';
  for (const [name, load] of [
    [IMG, true],
    [FULLR, false],
  ] as const) {
    samples.set(name, []);
    openers.set(name, async () => {
      const s = await timeEngineOpen(dir, lastRound, load);
      samples.get(name)?.push(s);
      return s;
    });
  }
  if (peers.Sqlite !== undefined) {
    const Sqlite = peers.Sqlite;
    const pdir = makeTempDir(`snapshot-sqlite-${votes}`);
    dirs.push(pdir);
    const peer = new SqlitePeer(Sqlite, `${pdir}/votes.db`, { fast: true });
    const ms = await fillPeer(peer, votes, VALIDATORS);
    await peer.close();
    ctx.log(`  snapshot: sqlite filled in ${(ms / 1000).toFixed(1)} s`);
    openers.set('sqlite (WAL, synchronous=FULL)', () => timePeerOpen(async () => new SqlitePeer(Sqlite, `${pdir}/votes.db`), lastRound));
  }
  if (peers.Level !== undefined) {
    const Level = peers.Level;
    const pdir = makeTempDir(`snapshot-leveldb-${votes}`);
    dirs.push(pdir);
    const peer = await LevelPeer.open(Level, pdir, { fast: true });
    const ms = await fillPeer(peer, votes, VALIDATORS, 5000);
    await peer.close();
    ctx.log(`  snapshot: leveldb filled in ${(ms / 1000).toFixed(1)} s`);
    openers.set('leveldb (sync: true)', () => timePeerOpen(() => LevelPeer.open(Level, pdir), lastRound));
  }
  const counts = new Map<string, number>();
  const contenders: Contender<RunResult>[] = [...openers].map(([name, open]) => ({
    name,
    run: async () => {
      const r = await open();
      counts.set(name, r.count);
      return oneShot(r.ms, votes);
    },
  }));
  const results = await interleave(reps, contenders, () => sleep(50));
  const ref: SystemRuns = { system: IMG, concurrency: 1, runs: results.get(IMG) ?? [] };
  const rows = [...openers.keys()].map((name) => {
    const s = samples.get(name) ?? [];
    const engine = s.length > 0;
    const extra = engine
      ? {
          image_load_ms: median(s.map((x) => x.imageMs)),
          replay_ms: median(s.map((x) => x.replayMs)),
          replay_records: median(s.map((x) => x.replayRecords)),
          log_open_ms: median(s.map((x) => x.logOpenMs)),
          image_bytes: image.bytes,
          image_loaded: s.every((x) => x.imageLoaded) ? 'yes' : 'no',
        }
      : undefined;
    return buildRow({
      scenario: `snapshot.open-image-${votes}`,
      sys: { system: name, concurrency: 1, runs: results.get(name) ?? [] },
      ...(name === IMG ? {} : { reference: ref }),
      idleLoopDelayP99Us: NaN,
      ...(name === IMG ? { target: { text: '<= 100 ms', met: (r: ResultRow) => r.p50_us <= 100_000 } } : {}),
      ...(extra === undefined ? {} : { extra }),
      note: engine
        ? `open + count of the last round (${counts.get(name) ?? '?'}); image ${extra?.image_loaded}, image load ${extra?.image_load_ms.toFixed(0)} ms, ` +
          `replay ${extra?.replay_records} records in ${extra?.replay_ms.toFixed(0)} ms, log open ${extra?.log_open_ms.toFixed(0)} ms; image ${formatNumber(image.bytes)} bytes`
        : `open + count of the last round (${counts.get(name) ?? '?'}); indexes on disk; ratio vs the image open`,
    });
  });
  return rows;
}

// ---- 2. open after a deep history with a recent image ------------------------------------------

async function openDeep(ctx: BenchContext, sizing: Sizing, reps: number, dirs: string[]): Promise<ResultRow[]> {
  const tail = sizing.deepTail;
  const built: { name: string; dir: string; before: number; total: number; lastRound: number }[] = [];
  for (const before of sizing.deepBefore) {
    const dir = makeTempDir(`snapshot-deep-${before}`);
    dirs.push(dir);
    const f1 = await fillRange(dir, 0, before);
    const image = await imageNow(dir);
    const f2 = await fillRange(dir, before, tail);
    const total = before + tail;
    ctx.log(
      `  snapshot: ${formatNumber(before)} votes in ${(f1 / 1000).toFixed(1)} s, image at LSN ${image.lsn} (${formatNumber(image.bytes)} bytes, ` +
        `${image.ms.toFixed(0)} ms after a ${(image.openMs / 1000).toFixed(1)} s full replay), then ${formatNumber(tail)} more in ${(f2 / 1000).toFixed(1)} s`,
    );
    built.push({ name: `image after ${formatNumber(before)} + ${formatNumber(tail)} tail`, dir, before, total, lastRound: Math.ceil(total / PER_ROUND) - 1 });
  }
  const small = built[0];
  const big = built[built.length - 1];
  if (small === undefined || big === undefined) return [];
  const samples = new Map<string, OpenSample[]>();
  const FULLR = `full replay of ${formatNumber(big.total)} (images.load=false)`;
  const contenders: Contender<RunResult>[] = built.map((b) => ({
    name: b.name,
    run: async () => {
      const s = await timeEngineOpen(b.dir, b.lastRound, true);
      if (!s.imageLoaded) throw new Error(`${b.name}: no image loaded`);
      samples.set(b.name, [...(samples.get(b.name) ?? []), s]);
      return oneShot(s.ms, b.total);
    },
  }));
  contenders.push({
    name: FULLR,
    run: async () => {
      const s = await timeEngineOpen(big.dir, big.lastRound, false);
      samples.set(FULLR, [...(samples.get(FULLR) ?? []), s]);
      return oneShot(s.ms, big.total);
    },
  });
  // The full replay of the big store is slow: once is enough to show what the image saves.
  const results = await interleave(reps, contenders.slice(0, built.length), () => sleep(50));
  const fullRuns = await interleave(1, contenders.slice(built.length), () => sleep(50));
  const replayOf = (name: string): number[] => (samples.get(name) ?? []).map((s) => s.replayMs);
  const tailRatio = spreadOf(replayOf(big.name).map((ms, i) => ms / (replayOf(small.name)[i] ?? NaN)));
  const smallRef: SystemRuns = { system: small.name, concurrency: 1, runs: results.get(small.name) ?? [] };
  const describe = (name: string): Record<string, number> => {
    const s = samples.get(name) ?? [];
    return {
      image_load_ms: median(s.map((x) => x.imageMs)),
      replay_ms: median(s.map((x) => x.replayMs)),
      replay_records: median(s.map((x) => x.replayRecords)),
      log_open_ms: median(s.map((x) => x.logOpenMs)),
    };
  };
  const note = (name: string, x: Record<string, number>): string =>
    `open + count; image load ${x['image_load_ms']?.toFixed(0)} ms, tail replay ${x['replay_records']} records in ${x['replay_ms']?.toFixed(0)} ms, log open ${x['log_open_ms']?.toFixed(0)} ms` +
    (name === big.name ? `; tail replay vs the small store's: ${tailRatio.median.toFixed(2)}x (${tailRatio.min.toFixed(2)}-${tailRatio.max.toFixed(2)}), target <= 1.25x` : '');
  const xs = describe(small.name);
  const xb = describe(big.name);
  const xf = describe(FULLR);
  return [
    buildRow({ scenario: 'snapshot.open-deep', sys: smallRef, idleLoopDelayP99Us: NaN, extra: xs, note: note(small.name, xs) }),
    buildRow({
      scenario: 'snapshot.open-deep',
      sys: { system: big.name, concurrency: 1, runs: results.get(big.name) ?? [] },
      reference: smallRef,
      idleLoopDelayP99Us: NaN,
      extra: { ...xb, tail_replay_ratio: tailRatio.median },
      target: { text: '<= 1 s; tail replay <= 1.25x', met: (r) => r.p50_us <= 1_000_000 && tailRatio.median <= 1.25 },
      note: note(big.name, xb),
    }),
    referenceRow('snapshot.open-deep', { system: FULLR, concurrency: 1, runs: fullRuns.get(FULLR) ?? [] }, NaN, `one run; log open ${xf['log_open_ms']?.toFixed(0)} ms, replay ${xf['replay_records']} records in ${xf['replay_ms']?.toFixed(0)} ms`),
  ];
}

// ---- 3. and 5. restore from a portable snapshot, and its bytes ---------------------------------

export interface SnapshotSourceStore {
  readonly dir: string;
  readonly path: string;
  readonly meta: SnapshotMetadata;
  readonly validators: number;
  readonly heights: number;
  readonly quorum: number;
  readonly signer: { readonly validatorId: string; readonly privateKey: Uint8Array };
  readonly createMs: number;
  readonly buildMs: number;
}

function bigValidatorId(i: number): string {
  return `validator-${String(i).padStart(5, '0')}`;
}

/**
 * A store holding `validators` validators (equal stake, registered at height 0), the precommits
 * of every validator for heights 1..`heights` (height h decided in round h - 1) and their
 * finalization marks, and a portable snapshot of it.
 */
export async function buildSnapshotSource(ctx: BenchContext, validators: number, heights: number, dirs: string[]): Promise<SnapshotSourceStore> {
  const started = performance.now();
  const dir = makeTempDir(`snapshot-src-${validators}x${heights}`);
  dirs.push(dir);
  const keys = Array.from({ length: validators }, () => randomPrivateKey());
  const ids = Array.from({ length: validators }, (_, i) => bigValidatorId(i));
  let store = await openStore(storeOptions(dir, { log: { durability: 'none' } }));
  try {
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < validators; i++) {
      pending.push(store.validators.registerValidator({ validatorId: ids[i] as string, publicKey: publicKeyOf(keys[i] as Uint8Array), stake: 1000n }, 0));
    }
    await Promise.all(pending);
    const log = writableLogOf(store);
    const filler = new Uint8Array(randomBytes(64));
    const recordedAt = Date.now();
    let batch: RecordInput[] = [];
    const inFlight = new Set<Promise<unknown>>();
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const p = log.append(batch);
      batch = [];
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p)).catch(() => undefined);
      if (inFlight.size >= FILL_IN_FLIGHT) await Promise.race(inFlight);
    };
    for (let h = 1; h <= heights; h++) {
      const blockHash = new Uint8Array(randomBytes(32));
      const timestamp = 1_700_000_000_000 + h * 1000;
      for (let i = 0; i < validators; i++) {
        // One round per height (round = height - 1), as in the synthetic history: the vote store
        // keys a vote by (validator, round, type), so a round repeated across heights would make
        // every restored precommit an equivocation.
        const unsigned = { validatorId: ids[i] as string, height: h, round: h - 1, voteType: 'precommit' as const, blockHash, timestamp };
        // Only the tip's certificate is verified by a restore; the others carry opaque bytes of the same size.
        const vote: ValidatorVote = h === heights ? signVote(unsigned, keys[i] as Uint8Array, CHAIN_ID) : { ...unsigned, signature: filler };
        batch.push({ kind: RecordKind.Vote, payload: encodeVoteRecord(vote, recordedAt) });
        if (batch.length >= FILL_BATCH) await flush();
      }
    }
    await flush();
    for (let h = 1; h <= heights; h++) {
      batch.push({ kind: RecordKind.Finalized, payload: encodeFinalizedRecord(h, h - 1, recordedAt) });
      if (batch.length >= FILL_BATCH) await flush();
    }
    await flush();
    await Promise.all(inFlight);
  } finally {
    await store.close();
  }
  // Reopened: the raw records are folded into the stores.
  store = await openStore(storeOptions(dir, { log: { durability: 'none' } }));
  let meta: SnapshotMetadata;
  let createMs: number;
  try {
    const t = performance.now();
    meta = await store.snapshots.createSnapshot();
    createMs = performance.now() - t;
  } finally {
    await store.close();
  }
  const quorum = Math.floor((2 * validators) / 3) + 1;
  if (meta.certificateCount !== heights) throw new Error(`snapshot has ${meta.certificateCount} certificates, expected ${heights}`);
  const buildMs = performance.now() - started;
  ctx.log(
    `  snapshot: source ${formatNumber(validators)} validators x ${formatNumber(heights)} heights built in ${(buildMs / 1000).toFixed(1)} s; ` +
      `snapshot ${meta.id}: ${formatNumber(meta.fileSize)} bytes, ${meta.chunkCount} chunks, created in ${createMs.toFixed(0)} ms`,
  );
  return {
    dir,
    path: `${dir}/${SNAPSHOTS_DIR}/${meta.id}.cssnap`,
    meta,
    validators,
    heights,
    quorum,
    signer: { validatorId: ids[0] as string, privateKey: keys[0] as Uint8Array },
    createMs,
    buildMs,
  };
}

interface RestoreSample {
  readonly restoreMs: number;
  readonly openMs: number;
  readonly replayRecords: number;
  readonly votes: number;
}

async function timeRestore(src: SnapshotSourceStore): Promise<RestoreSample> {
  const dir = makeTempDir(`snapshot-restore-${src.validators}x${src.heights}`);
  try {
    collect();
    const t = performance.now();
    const report = await restoreFromSnapshot({ dir, chainId: CHAIN_ID, source: fileSnapshotSource(src.path), trust: { root: src.meta.merkleRoot } });
    const t2 = performance.now();
    const store = await openStore({
      dir,
      chainId: CHAIN_ID,
      signer: { ...src.signer, importWatermark: { height: src.meta.height, round: src.meta.round, step: 'precommit' } },
    });
    const t3 = performance.now();
    const replayRecords = store.replay.records;
    const last = await store.votes.getLastFinalized();
    await store.close();
    if (last?.height !== src.meta.height) throw new Error(`restored store's last finalized height is ${String(last?.height)}, expected ${src.meta.height}`);
    return { restoreMs: t2 - t, openMs: t3 - t2, replayRecords, votes: report.votes };
  } finally {
    removeTempDir(dir);
  }
}

async function restores(ctx: BenchContext, sizing: Sizing, reps: number, dirs: string[]): Promise<{ rows: ResultRow[]; bytes: string[][] }> {
  const rows: ResultRow[] = [];
  const bytes: string[][] = [
    [
      'snapshot',
      'file bytes',
      'heights',
      'validators',
      'precommits in certificates',
      'bytes / height',
      'bytes / (height x validator)',
      'bytes / certificate precommit',
      'floor (64 B / precommit)',
      'x floor',
    ],
  ];
  for (const r of sizing.restores) {
    const src = await buildSnapshotSource(ctx, r.validators, r.heights, dirs);
    const samples: RestoreSample[] = [];
    const name = `restore ${formatNumber(r.validators)} x ${formatNumber(r.heights)}`;
    const n = r.validators >= 10_000 ? Math.min(reps, 2) : reps;
    const results = await interleave(
      n,
      [
        {
          name,
          run: async () => {
            const s = await timeRestore(src);
            samples.push(s);
            return oneShot(s.restoreMs + s.openMs, s.votes);
          },
        },
      ],
      () => sleep(50),
    );
    const restoreMs = median(samples.map((s) => s.restoreMs));
    const openMs = median(samples.map((s) => s.openMs));
    const precommits = src.heights * src.quorum;
    rows.push(
      buildRow({
        scenario: `snapshot.restore-${r.validators}x${r.heights}`,
        sys: { system: name, concurrency: 1, runs: results.get(name) ?? [] },
        idleLoopDelayP99Us: NaN,
        extra: {
          restore_ms: restoreMs,
          open_ms: openMs,
          replay_records: median(samples.map((s) => s.replayRecords)),
          votes_written: median(samples.map((s) => s.votes)),
          snapshot_bytes: src.meta.fileSize,
          create_ms: src.createMs,
        },
        target: { text: `< ${formatNumber(r.targetMs / 1000)} s`, met: (row) => row.p50_us < r.targetMs * 1000 },
        note:
          `p50 = restoreFromSnapshot (file source, trusted root, durable log) ${restoreMs.toFixed(0)} ms + openStore with importWatermark ${openMs.toFixed(0)} ms ` +
          `(replayed ${median(samples.map((s) => s.replayRecords))} records); ops/s = certificate precommits restored per second; ` +
          `snapshot ${formatNumber(src.meta.fileSize)} bytes in ${src.meta.chunkCount} chunks, created in ${src.createMs.toFixed(0)} ms`,
      }),
    );
    const size = src.meta.fileSize;
    bytes.push([
      `${formatNumber(r.validators)} x ${formatNumber(r.heights)}`,
      String(size),
      String(src.heights),
      String(src.validators),
      String(precommits),
      (size / src.heights).toFixed(0),
      (size / (src.heights * src.validators)).toFixed(1),
      (size / precommits).toFixed(1),
      String(64 * precommits),
      (size / (64 * precommits)).toFixed(2),
    ]);
    removeTempDir(src.dir);
    dirs.splice(dirs.indexOf(src.dir), 1);
  }
  return { rows, bytes };
}

// ---- 4. appendVote while an image or a snapshot is written --------------------------------------

/**
 * Prepares the store of part 1 for snapshots: `VALIDATORS` validators (the ids of the synthetic
 * history) registered at height 0 and the last 1,000 heights of that history marked finalized
 * (each has 100 precommits for its block).
 */
export async function prepareForSnapshots(dir: string, votes: number): Promise<void> {
  const store = await openStore(storeOptions(dir, { log: { durability: 'none' } }));
  try {
    const ids = new VoteFactory(VALIDATORS);
    await Promise.all(
      Array.from({ length: VALIDATORS }, (_, i) =>
        store.validators.registerValidator({ validatorId: ids.at(i).validatorId, publicKey: publicKeyOf(randomPrivateKey()), stake: 1000n }, 0),
      ),
    );
    const rounds = Math.floor(votes / PER_ROUND);
    for (let round = Math.max(0, rounds - 1000); round < rounds; round++) await store.votes.markFinalized(round + 1, round);
  } finally {
    await store.close();
  }
}

async function appendDuring(ctx: BenchContext, dir: string, votes: number, sizing: Sizing): Promise<ResultRow[]> {
  await prepareForSnapshots(dir, votes);
  const store: ConsensusStore = await openStore(storeOptions(dir));
  const signature = new Uint8Array(randomBytes(64));
  const blockHash = new Uint8Array(randomBytes(32));
  let next = Math.ceil(votes / PER_ROUND) + 10;
  const vote = (): ValidatorVote => {
    next += 1;
    return { validatorId: 'validator-bench', height: next, round: next, voteType: 'prevote', blockHash, timestamp: Date.now(), signature };
  };
  const n = sizing.appendsPerRun;
  const background = new Map<string, { ops: number; ms: number[] }>();
  /** One run: `n` appends, one in flight; with `work`, only those started while it runs, restarting it as often as needed. */
  const run = (label: string, work: (() => Promise<unknown>) | undefined) => async (): Promise<RunResult> => {
    const result = await measureRun(n, async (rec) => {
      if (work === undefined) return runSequential(rec, n, () => store.votes.appendVote(vote()));
      let done = 0;
      while (done < n) {
        let busy = true;
        const t = performance.now();
        const p = work().finally(() => {
          busy = false;
          const b = background.get(label) ?? { ops: 0, ms: [] };
          b.ops++;
          b.ms.push(performance.now() - t);
          background.set(label, b);
        });
        while (busy && done < n) {
          const s = performance.now();
          await store.votes.appendVote(vote());
          rec.recordSince(s);
          done++;
        }
        await p;
      }
      return done;
    });
    await store.snapshots.pruneSnapshots(1);
    return result;
  };
  const ALONE = 'appendVote, nothing in the background';
  const IMAGE = 'appendVote during takeImage(store, true)';
  const SNAP = 'appendVote during createSnapshot()';
  try {
    // Warm-up: the JIT, the first image and snapshot.
    await runSequential(new LatencyRecorder(), 2000, () => store.votes.appendVote(vote()));
    await takeImage(store, true);
    await store.snapshots.createSnapshot();
    const contenders: Contender<RunResult>[] = [
      { name: ALONE, run: run(ALONE, undefined) },
      { name: IMAGE, run: run(IMAGE, () => takeImage(store, true)) },
      { name: SNAP, run: run(SNAP, () => store.snapshots.createSnapshot()) },
    ];
    const results = await interleave(ctx.reps, contenders, () => sleep(20));
    const ref: SystemRuns = { system: ALONE, concurrency: 1, runs: results.get(ALONE) ?? [] };
    const bg = (label: string): string => {
      const b = background.get(label);
      return b === undefined ? '' : `; ${b.ops} background operations, each ${spreadOf(b.ms).median.toFixed(0)} ms (${spreadOf(b.ms).min.toFixed(0)}-${spreadOf(b.ms).max.toFixed(0)})`;
    };
    return [
      referenceRow('snapshot.append-during', ref, NaN, `one vote in flight, ${n} per run, durable, on the ${formatNumber(votes)}-vote store`),
      ...[IMAGE, SNAP].map((name) =>
        buildRow({
          scenario: 'snapshot.append-during',
          sys: { system: name, concurrency: 1, runs: results.get(name) ?? [] },
          reference: ref,
          idleLoopDelayP99Us: NaN,
          target: { text: 'p99 <= 1.5x', met: (r) => r.ratio_p99 <= 1.5 },
          note: `only appends started while the background work was in flight; ${n} per run${bg(name)}`,
        }),
      ),
    ];
  } finally {
    await store.close();
  }
}

/** Runs the snapshot scenario. */
export async function runSnapshotScenario(ctx: BenchContext): Promise<void> {
  const sizing = ctx.quick ? QUICK : FULL;
  const reps = ctx.quick ? 1 : Math.min(ctx.reps, 3);
  const parts = new Set((process.env['BENCH_SNAPSHOT_PARTS'] ?? '1,2,3,4').split(',').map((p) => p.trim()));
  const dirs: string[] = [];
  try {
    let imageDir: string | undefined;
    if (parts.has('1') || parts.has('4')) {
      ctx.log(`snapshot: open with an image of ${formatNumber(sizing.openVotes)} votes`);
      const { dir, image } = await buildImageDir(ctx, sizing.openVotes, dirs);
      imageDir = dir;
      if (parts.has('1')) {
        const rows = await openWithImage(ctx, sizing.openVotes, reps, dirs, dir, image);
        ctx.emit(`snapshot: open with an image of ${formatNumber(sizing.openVotes)} votes and an empty tail, ready to answer (${reps} reps)`, rows);
      }
    }
    if (parts.has('4') && imageDir !== undefined) {
      ctx.log('snapshot: appendVote while an image / a snapshot is written');
      ctx.emit(`snapshot: appendVote p99 while an image or a snapshot is written (${ctx.reps} reps)`, await appendDuring(ctx, imageDir, sizing.openVotes, sizing));
    }
    for (const d of dirs.splice(0)) removeTempDir(d);
    if (parts.has('2')) {
      ctx.log('snapshot: open after a deep history with a recent image');
      const [a, b] = sizing.deepBefore;
      ctx.emit(
        `snapshot: open with an image after ${formatNumber(a)} and after ${formatNumber(b)} votes, ${formatNumber(sizing.deepTail)}-vote tail each (${reps} reps)`,
        await openDeep(ctx, sizing, reps, dirs),
      );
      for (const d of dirs.splice(0)) removeTempDir(d);
    }
    if (parts.has('3')) {
      ctx.log('snapshot: restore from a portable snapshot');
      const { rows, bytes } = await restores(ctx, sizing, reps, dirs);
      ctx.emit(`snapshot: restore from a portable snapshot, ready to vote (${reps} reps)`, rows);
      ctx.emitTable('snapshot.bytes', 'snapshot: portable snapshot size against the signature floor', bytes, [
        'a certificate holds the first validators (id order) whose stake passes 2/3: with equal stakes floor(2n/3)+1 precommits per height',
        'floor: 64 bytes (one ed25519 signature) per certificate precommit; the file also holds ids, keys, stakes, the registry history and per-height headers',
      ]);
    }
  } finally {
    for (const d of dirs) removeTempDir(d);
  }
}
