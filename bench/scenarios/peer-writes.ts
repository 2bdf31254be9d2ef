/**
 * The write comparisons (docs/bench-notes.md, The scenarios): consensus-store against SQLite, LevelDB and PostgreSQL doing the same
 * durable work (bench/lib/peer-stores.ts), and against the raw floors (bench/floors.ts), all
 * interleaved in this process on the same disk.
 *
 * - `vote`: one durable vote at a time (p50/p99/max), then the best batched forms: 100 and
 *   1,000 votes per transaction (consensus-store: that many `appendVote` calls issued together,
 *   which its group commit writes with one or a few fdatasyncs).
 * - `voters`: 1, 8, 64, 512 votes in flight: votes/s and p99. SQLite is synchronous and LevelDB
 *   serializes its writers, so each is run two honest ways: naive (one transaction per vote,
 *   as the calls come) and queued (a careful user's queue committing whatever accumulated as
 *   one transaction: bench/lib/peer-stores.ts QueuedWriter). PostgreSQL naive is a pool of 16
 *   connections, one autocommit INSERT per vote (the server group-commits them).
 * - `block`: a validator's mix per block with 100 validators: 200 votes, a round checkpoint,
 *   4 audit events and a reward distribution; blocks/s and the time to persist a block. The
 *   peers write a block as one transaction; consensus-store issues every write of the block at
 *   once and awaits them all.
 *
 * Every row reports the main thread's event-loop delay p99 and its ratio to the floor.
 * Must never: time an open or a fill, or compare runs from different repetitions.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsensusStore } from '../../src/store.ts';
import { AsyncGroupCommit, FloorFile, SyncGroupCommit, syncBatchFloor, syncFloor } from '../floors.ts';
import type { BenchContext } from '../lib/context.ts';
import { interleave, type Contender } from '../lib/interleave.ts';
import { LatencyRecorder } from '../lib/latency.ts';
import { idleLoopDelayP99 } from '../lib/loop-delay.ts';
import { measureRun, measureSequential, runProducers, runSequential } from '../lib/measure.ts';
import { QueuedWriter, type PeerStore } from '../lib/peer-stores.ts';
import { buildRow, referenceRow, type ResultRow, type RunResult, type SystemRuns } from '../lib/run-result.ts';
import { spreadOf } from '../lib/stats.ts';
import { accountabilityOf, loadOpenStore, missingNote, openEngine, openPeers, type PeerSet } from '../lib/systems.ts';
import { makeTempDir, removeTempDir } from '../lib/temp-dir.ts';
import { AUDIT_EVENTS_PER_BLOCK, BlockFactory, VoteFactory, type BlockWork } from '../lib/workload.ts';

const VALIDATORS = 100;
const CS = 'consensus-store';
const CONCURRENCIES = [1, 8, 64, 512] as const;
const BATCH_SIZES = [100, 1000] as const;
/** Bytes of one floor record: about an encoded vote with its framing. */
const FLOOR_RECORD_BYTES = 200;

interface Sizing {
  readonly singleCount: number;
  readonly batchCalls: Readonly<Record<number, number>>;
  readonly concurrentMs: number;
  readonly blockMs: number;
  readonly idleMs: number;
  readonly warmup: number;
}

const FULL: Sizing = { singleCount: 1500, batchCalls: { 100: 40, 1000: 8 }, concurrentMs: 1000, blockMs: 1500, idleMs: 300, warmup: 1000 };
const QUICK: Sizing = { singleCount: 100, batchCalls: { 100: 5, 1000: 2 }, concurrentMs: 120, blockMs: 200, idleMs: 50, warmup: 20 };

const settle = (): Promise<void> => sleep(10);

function runsOf(results: Map<string, RunResult[]>, system: string, concurrency: number): SystemRuns {
  return { system, concurrency, runs: results.get(system) ?? [] };
}

/** Everything a write scenario runs against. */
interface Rig {
  readonly store: ConsensusStore;
  readonly storeDir: string;
  readonly peers: PeerSet;
  readonly floor: FloorFile;
  readonly floorDir: string;
  readonly payload: Uint8Array;
  readonly notes: string[];
}

async function openRig(ctx: BenchContext, label: string): Promise<Rig | string> {
  const open = await loadOpenStore();
  if (typeof open === 'string') return open;
  const storeDir = makeTempDir(`${label}-cstore`);
  const store = await openEngine(storeDir);
  const peers = await openPeers((m) => ctx.log(m), { label });
  const floorDir = makeTempDir(`${label}-floor`);
  const floor = FloorFile.create(floorDir, 'floor.dat', (ctx.quick ? 16 : 128) << 20);
  const notes: string[] = [];
  const missing = missingNote(peers.missing);
  if (missing !== undefined) notes.push(missing);
  if (peers.pgNote !== undefined) notes.push(peers.pgNote);
  return { store, storeDir, peers, floor, floorDir, payload: new Uint8Array(randomBytes(FLOOR_RECORD_BYTES)), notes };
}

async function closeRig(rig: Rig): Promise<void> {
  await rig.store.close();
  await rig.peers.close();
  rig.floor.close();
  removeTempDir(rig.storeDir);
  removeTempDir(rig.floorDir);
}

function peerLabel(peer: PeerStore, how: string): string {
  const mode = peer.name === 'sqlite' ? 'WAL, synchronous=FULL' : peer.name === 'leveldb' ? 'sync: true' : 'synchronous_commit=on';
  return `${peer.name} ${how} (${mode})`;
}

/** Repetitions: 1 with --quick; at most `cap` otherwise (9 systems x 4 concurrencies add up on a 15-minute budget). */
async function withRig(ctx: BenchContext, label: string, body: (rig: Rig, reps: number) => Promise<void>, cap = 100): Promise<void> {
  const rig = await openRig(ctx, label);
  if (typeof rig === 'string') {
    ctx.emitRecord({ scenario: label, skipped: true, reason: rig }, `\n== ${label}: skipped: store not available (${rig})`);
    return;
  }
  try {
    await body(rig, ctx.quick ? 1 : Math.min(cap, ctx.reps));
  } finally {
    await closeRig(rig);
  }
}

// ---- 1. single durable vote, one writer; batched forms ----------------------------------------

/** `npm run bench -- vote`: one durable vote at a time, then 100 and 1,000 per transaction. */
export async function runVoteScenario(ctx: BenchContext): Promise<void> {
  const sizing = ctx.quick ? QUICK : FULL;
  await withRig(ctx, 'vote', async (rig, reps) => {
    const n = sizing.singleCount;
    const factories = new Map<string, VoteFactory>();
    const factory = (name: string): VoteFactory => {
      let f = factories.get(name);
      if (f === undefined) factories.set(name, (f = new VoteFactory(VALIDATORS)));
      return f;
    };
    const cs = factory(CS);
    const scratch = new LatencyRecorder();
    ctx.log(`vote: warm-up (${sizing.warmup} votes per system)`);
    await runSequential(scratch, sizing.warmup, () => rig.store.votes.appendVote(cs.next()));
    for (const { peer } of rig.peers.open) await runSequential(scratch, sizing.warmup, () => peer.appendVote(factory(peer.name).next()));
    await syncFloor(rig.floor, rig.payload, sizing.warmup, scratch);

    const idleRuns: number[] = [];
    const contenders: Contender<RunResult>[] = [
      { name: 'sync-floor', run: () => measureSequential(n, (rec, k) => syncFloor(rig.floor, rig.payload, k, rec)) },
      { name: CS, run: () => measureSequential(n, (rec, k) => runSequential(rec, k, () => rig.store.votes.appendVote(cs.next()))) },
      ...rig.peers.open.map(({ peer }) => ({
        name: peerLabel(peer, 'one tx per vote'),
        run: () => measureSequential(n, (rec, k) => runSequential(rec, k, () => peer.appendVote(factory(peer.name).next()))),
      })),
      {
        name: 'idle-loop',
        run: async () => {
          const p99 = await idleLoopDelayP99(sizing.idleMs);
          idleRuns.push(p99);
          return { latency: { count: 0, p50_us: NaN, p99_us: NaN, max_us: NaN, mean_us: NaN }, opsPerS: NaN, loopDelayP99Us: p99 };
        },
      },
    ];
    ctx.log('vote: single writer');
    const results = await interleave(reps, contenders, settle);
    const idle = spreadOf(idleRuns).median;
    const floor = runsOf(results, 'sync-floor', 1);
    const rows: ResultRow[] = [
      buildRow({
        scenario: 'vote.single',
        sys: runsOf(results, CS, 1),
        reference: floor,
        idleLoopDelayP99Us: idle,
        target: { text: 'p99 <= 1.5x floor', met: (r) => r.ratio_p99 <= 1.5 },
        note: `appendVote, one in flight, ${n} per run, ${VALIDATORS} validators' votes`,
      }),
      ...rig.peers.open.map(({ peer }) =>
        buildRow({ scenario: 'vote.single', sys: runsOf(results, peerLabel(peer, 'one tx per vote'), 1), reference: floor, idleLoopDelayP99Us: idle }),
      ),
      referenceRow('vote.single', floor, idle, `${FLOOR_RECORD_BYTES}-byte writeSync + fdatasyncSync`),
    ];
    const first = rows[0];
    if (first !== undefined && rig.notes.length > 0) rows[0] = { ...first, note: [first.note, ...rig.notes].join('; ') };
    ctx.emit(`vote: single durable vote, one writer (${reps} reps, median (min-max))`, rows);

    for (const size of BATCH_SIZES) {
      const calls = sizing.batchCalls[size] ?? 5;
      ctx.log(`vote: batches of ${size}`);
      const csBatch = (): Promise<unknown> => {
        const ps: Promise<unknown>[] = [];
        for (let i = 0; i < size; i++) ps.push(rig.store.votes.appendVote(cs.next()));
        return Promise.all(ps);
      };
      const batchOf = (name: string): ReturnType<VoteFactory['next']>[] => {
        const f = factory(name);
        return Array.from({ length: size }, () => f.next());
      };
      const batchContenders: Contender<RunResult>[] = [
        { name: 'sync-batch-floor', run: () => measureRun(calls, (rec) => syncBatchFloor(rig.floor, rig.payload, size, calls, rec)) },
        { name: CS, run: () => measureRun(calls, (rec) => runSequential(rec, calls, csBatch, size)) },
        ...rig.peers.open.map(({ peer }) => ({
          name: peerLabel(peer, `${size} per tx`),
          run: () => measureRun(calls, (rec) => runSequential(rec, calls, () => peer.appendVotes(batchOf(peer.name)), size)),
        })),
      ];
      const br = await interleave(reps, batchContenders, settle);
      const bfloor = runsOf(br, 'sync-batch-floor', size);
      ctx.emit(`vote: ${size} votes per transaction (${reps} reps; latency per batch, ops/s = votes/s)`, [
        buildRow({
          scenario: `vote.batch-${size}`,
          sys: runsOf(br, CS, size),
          reference: bfloor,
          idleLoopDelayP99Us: idle,
          note: `${size} appendVote calls issued together (group commit), ${calls} batches per run`,
        }),
        ...rig.peers.open.map(({ peer }) =>
          buildRow({ scenario: `vote.batch-${size}`, sys: runsOf(br, peerLabel(peer, `${size} per tx`), size), reference: bfloor, idleLoopDelayP99Us: idle }),
        ),
        referenceRow(`vote.batch-${size}`, bfloor, idle, `one blocking writev of ${size} records + fdatasyncSync`),
      ]);
    }
  });
}

// ---- 2. concurrent voters ----------------------------------------------------------------------

/** `npm run bench -- voters`: 1, 8, 64, 512 votes in flight. */
export async function runVotersScenario(ctx: BenchContext): Promise<void> {
  const sizing = ctx.quick ? QUICK : FULL;
  await withRig(ctx, 'voters', async (rig, reps) => {
    const ms = sizing.concurrentMs;
    const asyncLoop = new AsyncGroupCommit(rig.floor, { sync: true });
    const syncLoop = new SyncGroupCommit(rig.floor);
    const factories = new Map<string, VoteFactory>();
    const next = (name: string) => {
      let f = factories.get(name);
      if (f === undefined) factories.set(name, (f = new VoteFactory(VALIDATORS)));
      return f.next();
    };
    const queued = rig.peers.open.map(({ peer }) => ({ peer, queue: new QueuedWriter(peer, 1000) }));
    const idle = await idleLoopDelayP99(sizing.idleMs);
    const rows: ResultRow[] = [];
    for (const n of CONCURRENCIES) {
      ctx.log(`voters: ${n} in flight`);
      const expected = n * 64;
      const contenders: Contender<RunResult>[] = [
        { name: CS, run: () => measureRun(expected, (rec) => runProducers(rec, n, ms, () => rig.store.votes.appendVote(next(CS)))) },
        { name: 'async-group-commit', run: () => measureRun(expected, (rec) => runProducers(rec, n, ms, () => asyncLoop.append(rig.payload))) },
        { name: 'sync-group-commit', run: () => measureRun(expected, (rec) => runProducers(rec, n, ms, () => syncLoop.append(rig.payload))) },
        ...rig.peers.open.map(({ peer }) => ({
          name: peerLabel(peer, peer.name === 'postgres' ? 'naive, pool of 16' : 'naive'),
          run: () => measureRun(expected, (rec) => runProducers(rec, n, ms, () => peer.appendVote(next(`${peer.name}-naive`)))),
        })),
        ...queued.map(({ peer, queue }) => ({
          name: peerLabel(peer, 'queued'),
          run: () => measureRun(expected, (rec) => runProducers(rec, n, ms, () => queue.append(next(`${peer.name}-queued`)))),
        })),
      ];
      const results = await interleave(reps, contenders, settle);
      const asyncRef = runsOf(results, 'async-group-commit', n);
      const syncRef = runsOf(results, 'sync-group-commit', n);
      const gated = n >= 64;
      rows.push(
        buildRow({
          scenario: 'voters',
          sys: runsOf(results, CS, n),
          reference: asyncRef,
          also: [syncRef],
          idleLoopDelayP99Us: idle,
          ...(gated ? { target: { text: 'ops >= 0.8x async loop', met: (r: ResultRow) => r.ratio_ops >= 0.8 } } : {}),
        }),
      );
      for (const { peer } of rig.peers.open) {
        for (const how of [peer.name === 'postgres' ? 'naive, pool of 16' : 'naive', 'queued']) {
          rows.push(buildRow({ scenario: 'voters', sys: runsOf(results, peerLabel(peer, how), n), reference: asyncRef, idleLoopDelayP99Us: idle }));
        }
      }
      rows.push(referenceRow('voters', asyncRef, idle), referenceRow('voters', syncRef, idle));
    }
    const notes = [
      'naive: one transaction per vote as the calls come; queued: everything queued when the previous transaction ends is committed as one (at most 1,000)',
      ...rig.notes,
    ];
    ctx.emit(`voters: votes in flight, durable (${reps} reps; ops/s = votes/s)`, rows.map((r, i) => (i === 0 ? { ...r, note: notes.join('; ') } : r)));
  }, 3);
}

// ---- 3. a validator's real mix per block --------------------------------------------------------

/** `npm run bench -- block`: 100 validators' votes, a checkpoint, audit events and a reward per block. */
export async function runBlockScenario(ctx: BenchContext): Promise<void> {
  const sizing = ctx.quick ? QUICK : FULL;
  await withRig(ctx, 'block', async (rig, reps) => {
    const acc = await accountabilityOf(rig.store);
    const factories = new Map<string, BlockFactory>();
    const block = (name: string): BlockWork => {
      let f = factories.get(name);
      if (f === undefined) factories.set(name, (f = new BlockFactory(VALIDATORS, 1_000_000)));
      return f.next();
    };
    const csBlock = async (): Promise<void> => {
      const b = block(CS);
      const ps: Promise<unknown>[] = b.votes.map((v) => rig.store.votes.appendVote(v));
      ps.push(rig.store.rounds.saveRoundState(b.checkpoint));
      for (const e of b.audit) ps.push(acc.logEvent(e));
      ps.push(acc.recordDistribution(b.reward));
      await Promise.all(ps);
    };
    const recordsPerBlock = VALIDATORS * 2 + 1 + AUDIT_EVENTS_PER_BLOCK + 1;
    const ms = sizing.blockMs;
    const idle = await idleLoopDelayP99(sizing.idleMs);
    await runSequential(new LatencyRecorder(), 5, csBlock);
    for (const { peer } of rig.peers.open) await runSequential(new LatencyRecorder(), 5, () => peer.appendBlock(block(peer.name)));
    const contenders: Contender<RunResult>[] = [
      { name: CS, run: () => measureRun(256, (rec) => runProducers(rec, 1, ms, csBlock)) },
      {
        name: 'sync-batch-floor',
        run: () =>
          measureRun(256, async (rec) => {
            const deadline = performance.now() + ms;
            let blocks = 0;
            while (performance.now() < deadline) {
              await syncBatchFloor(rig.floor, rig.payload, recordsPerBlock, 1, rec);
              blocks++;
            }
            return blocks;
          }),
      },
      ...rig.peers.open.map(({ peer }) => ({
        name: peerLabel(peer, 'one tx per block'),
        run: () => measureRun(256, (rec) => runProducers(rec, 1, ms, () => peer.appendBlock(block(peer.name)))),
      })),
    ];
    ctx.log('block: blocks of 100 validators');
    const results = await interleave(reps, contenders, settle);
    const floor = runsOf(results, 'sync-batch-floor', 1);
    const rows: ResultRow[] = [
      buildRow({
        scenario: 'block',
        sys: runsOf(results, CS, 1),
        reference: floor,
        idleLoopDelayP99Us: idle,
        note:
          `per block: ${VALIDATORS * 2} votes, 1 round checkpoint, ${AUDIT_EVENTS_PER_BLOCK} audit events (hash-chained, head signed per commit batch), 1 reward distribution (${VALIDATORS + 1} lines); ` +
          `all issued at once and awaited; audit and rewards: ${acc.source}`,
      }),
      ...rig.peers.open.map(({ peer }) => buildRow({ scenario: 'block', sys: runsOf(results, peerLabel(peer, 'one tx per block'), 1), reference: floor, idleLoopDelayP99Us: idle })),
      referenceRow('block', floor, idle, `${recordsPerBlock} records of ${FLOOR_RECORD_BYTES} bytes, one writev + fdatasyncSync per block`),
    ];
    const head = rows[0];
    if (head !== undefined && rig.notes.length > 0) rows[0] = { ...head, note: [head.note, ...rig.notes].join('; ') };
    ctx.emit(`block: a validator's mix per block, ${VALIDATORS} validators (${reps} reps; p50/p99 = time to persist a block, ops/s = blocks/s)`, rows);
  }, 3);
}
