/**
 * `npm run bench -- log`: the log engine against the disk (targets: docs/bench-notes.md, The scenarios).
 *
 * Sections, each interleaved with its references over the repetitions:
 * - single writer, 200-byte records: durable append p50/p99 vs the sync floor (target p99
 *   ratio <= 1.5, goal 1.3), with an idle loop measured alongside as the loop-delay baseline,
 *   and the same engine with its I/O worker off (what the worker buys on this machine);
 * - 1, 8, 64, 512 appends in flight: records/s and p99 vs the bare async group-commit loop
 *   (target >= 0.8x at 64 and 512) and vs the sync group-commit ceiling;
 * - batch append, 512 records per call, vs the sync floor writing 512 records per sync;
 * - CPU ceiling with durability 'none' (target >= 500,000 records/s), vs an async write loop
 *   with no sync.
 *
 * Must never: time an open, a warm-up or a preallocation; leave its data directories behind.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRealFileSystem } from '../../src/io/real-fs.ts';
import type { Log, RecordInput } from '../../src/log/types.ts';
import { openLog } from '../../src/log/wal.ts';
import { AsyncGroupCommit, FloorFile, SyncGroupCommit, syncBatchFloor, syncFloor } from '../floors.ts';
import type { BenchContext } from '../lib/context.ts';
import { interleave, type Contender } from '../lib/interleave.ts';
import { LatencyRecorder } from '../lib/latency.ts';
import { idleLoopDelayP99 } from '../lib/loop-delay.ts';
import { measureRun, measureSequential, runProducers, runSequential } from '../lib/measure.ts';
import { buildRow, referenceRow, type ResultRow, type RunResult, type SystemRuns } from '../lib/run-result.ts';
import { spreadOf } from '../lib/stats.ts';
import { makeTempDir, removeTempDir } from '../lib/temp-dir.ts';

/** Payload size of every record: about a signed vote with its envelope. */
const RECORD_BYTES = 200;
/** The log does not interpret payloads; any store kind will do. */
const BENCH_KIND = 1;
const CONCURRENCIES = [1, 8, 64, 512] as const;
const BATCH_RECORDS = 512;
const CPU_CEILING_TARGET = 500_000;
const POOL_SYSTEM = 'consensus-store (no io worker)';

interface Sizing {
  /** Appends per single-writer run. */
  readonly singleCount: number;
  /** Wall time of one concurrent run, ms. */
  readonly concurrentMs: number;
  /** Calls per batch-append run. */
  readonly batchCalls: number;
  /** Wall time of one durability-'none' run, ms. */
  readonly cpuMs: number;
  /** Idle-loop baseline run, ms. */
  readonly idleMs: number;
  /** Size of each reference file. */
  readonly floorFileBytes: number;
  /** Appends of warm-up per system before timing. */
  readonly warmup: number;
  /** Pause after the warm-up, ms, for the engine's background work after open to finish. */
  readonly settleMs: number;
}

const FULL: Sizing = {
  singleCount: 3000,
  concurrentMs: 1000,
  batchCalls: 200,
  cpuMs: 1000,
  idleMs: 300,
  floorFileBytes: 64 << 20,
  warmup: 3000,
  settleMs: 1000,
};
const QUICK: Sizing = {
  singleCount: 200,
  concurrentMs: 100,
  batchCalls: 30,
  cpuMs: 200,
  idleMs: 100,
  floorFileBytes: 16 << 20,
  warmup: 100,
  settleMs: 200,
};

/** Everything a log run needs, opened once per scenario. */
interface Rig {
  readonly sizing: Sizing;
  readonly payload: Uint8Array;
  readonly input: readonly RecordInput[];
  readonly batchInput: readonly RecordInput[];
  readonly durable: Log;
  /** The same engine with the I/O worker off (node's threadpool for every call): what the worker buys. */
  readonly durablePool: Log;
  readonly floor: FloorFile;
  readonly dirs: string[];
}

function runsOf(results: Map<string, RunResult[]>, system: string, concurrency: number): SystemRuns {
  return { system, concurrency, runs: results.get(system) ?? [] };
}

async function openRig(sizing: Sizing): Promise<Rig> {
  const logDir = makeTempDir('log-fsync');
  const poolDir = makeTempDir('log-fsync-pool');
  const floorDir = makeTempDir('log-floor');
  const payload = new Uint8Array(randomBytes(RECORD_BYTES));
  const input: RecordInput[] = [{ kind: BENCH_KIND, payload }];
  const batchInput: RecordInput[] = new Array<RecordInput>(BATCH_RECORDS).fill({ kind: BENCH_KIND, payload });
  const durable = await openLog({ dir: logDir, durability: 'fsync' });
  const durablePool = await openLog({ dir: poolDir, durability: 'fsync', fs: createRealFileSystem({ syncWorker: false }) });
  const floor = FloorFile.create(floorDir, 'floor.dat', sizing.floorFileBytes);
  return { sizing, payload, input, batchInput, durable, durablePool, floor, dirs: [logDir, poolDir, floorDir] };
}

async function warmUp(rig: Rig): Promise<void> {
  const scratch = new LatencyRecorder(rig.sizing.warmup);
  await runSequential(scratch, rig.sizing.warmup, () => rig.durable.append(rig.input));
  await runSequential(scratch, rig.sizing.warmup, () => rig.durablePool.append(rig.input));
  await syncFloor(rig.floor, rig.payload, rig.sizing.warmup, scratch);
  // Let the engine's background work after open (pre-creating the next segment) finish before
  // anything is timed.
  await sleep(rig.sizing.settleMs);
}

/** A short pause between runs, so that one run's leftovers (GC, writeback) fall outside the next. */
const settle = (): Promise<void> => sleep(10);

async function singleWriter(ctx: BenchContext, rig: Rig): Promise<{ rows: ResultRow[]; idle: number }> {
  const n = rig.sizing.singleCount;
  const idleRuns: number[] = [];
  const contenders: Contender<RunResult>[] = [
    { name: 'sync-floor', run: () => measureSequential(n, (rec, k) => syncFloor(rig.floor, rig.payload, k, rec)) },
    { name: 'consensus-store', run: () => measureSequential(n, (rec, k) => runSequential(rec, k, () => rig.durable.append(rig.input))) },
    { name: POOL_SYSTEM, run: () => measureSequential(n, (rec, k) => runSequential(rec, k, () => rig.durablePool.append(rig.input))) },
    {
      name: 'idle-loop',
      run: async () => {
        const p99 = await idleLoopDelayP99(rig.sizing.idleMs);
        idleRuns.push(p99);
        return { latency: { count: 0, p50_us: NaN, p99_us: NaN, max_us: NaN, mean_us: NaN }, opsPerS: NaN, loopDelayP99Us: p99 };
      },
    },
  ];
  const results = await interleave(ctx.reps, contenders, settle);
  const idle = spreadOf(idleRuns).median;
  const floor = runsOf(results, 'sync-floor', 1);
  const rows = [
    buildRow({
      scenario: 'log.single-writer',
      sys: runsOf(results, 'consensus-store', 1),
      reference: floor,
      idleLoopDelayP99Us: idle,
      target: { text: 'p99 <= 1.5x floor (goal 1.3x)', met: (r) => r.ratio_p99 <= 1.5 },
      note: `${RECORD_BYTES}-byte records, one append in flight, ${n} appends per run`,
    }),
    buildRow({
      scenario: 'log.single-writer',
      sys: runsOf(results, POOL_SYSTEM, 1),
      reference: floor,
      idleLoopDelayP99Us: idle,
      note: 'the same engine with the I/O worker off: writev and fdatasync each a threadpool round trip',
    }),
    referenceRow('log.single-writer', floor, idle, 'blocking writeSync + fdatasyncSync: its loop delay is the whole run'),
  ];
  return { rows, idle };
}

async function concurrent(ctx: BenchContext, rig: Rig, idle: number): Promise<ResultRow[]> {
  const ms = rig.sizing.concurrentMs;
  const asyncLoop = new AsyncGroupCommit(rig.floor, { sync: true });
  const syncLoop = new SyncGroupCommit(rig.floor);
  const rows: ResultRow[] = [];
  for (const n of CONCURRENCIES) {
    ctx.log(`  log: ${n} in flight`);
    const expected = n * 64;
    const contenders: Contender<RunResult>[] = [
      { name: 'consensus-store', run: () => measureRun(expected, (rec) => runProducers(rec, n, ms, () => rig.durable.append(rig.input))) },
      { name: 'async-group-commit', run: () => measureRun(expected, (rec) => runProducers(rec, n, ms, () => asyncLoop.append(rig.payload))) },
      { name: 'sync-group-commit', run: () => measureRun(expected, (rec) => runProducers(rec, n, ms, () => syncLoop.append(rig.payload))) },
    ];
    const results = await interleave(ctx.reps, contenders, settle);
    const asyncRef = runsOf(results, 'async-group-commit', n);
    const syncRef = runsOf(results, 'sync-group-commit', n);
    const gated = n >= 64;
    rows.push(
      buildRow({
        scenario: 'log.concurrent',
        sys: runsOf(results, 'consensus-store', n),
        reference: asyncRef,
        also: [syncRef],
        idleLoopDelayP99Us: idle,
        ...(gated ? { target: { text: 'ops >= 0.8x async loop', met: (r: ResultRow) => r.ratio_ops >= 0.8 } } : {}),
      }),
      referenceRow('log.concurrent', asyncRef, idle),
      referenceRow('log.concurrent', syncRef, idle, n === CONCURRENCIES[0] ? 'blocking writev + fdatasync of the queue: the physical ceiling' : undefined),
    );
  }
  return rows;
}

async function batchAppend(ctx: BenchContext, rig: Rig, idle: number): Promise<ResultRow[]> {
  const calls = rig.sizing.batchCalls;
  const contenders: Contender<RunResult>[] = [
    {
      name: 'consensus-store',
      run: () => measureRun(calls, (rec) => runSequential(rec, calls, () => rig.durable.append(rig.batchInput), BATCH_RECORDS)),
    },
    { name: 'sync-batch-floor', run: () => measureRun(calls, (rec) => syncBatchFloor(rig.floor, rig.payload, BATCH_RECORDS, calls, rec)) },
  ];
  const results = await interleave(ctx.reps, contenders, settle);
  const floor = runsOf(results, 'sync-batch-floor', 1);
  const note = `${BATCH_RECORDS} records per call, one call in flight; latency is per call, ops/s is records/s`;
  return [
    buildRow({ scenario: 'log.batch', sys: runsOf(results, 'consensus-store', 1), reference: floor, idleLoopDelayP99Us: idle, note }),
    referenceRow('log.batch', floor, idle, 'blocking writev of the batch + fdatasyncSync'),
  ];
}

async function cpuCeiling(ctx: BenchContext, rig: Rig, idle: number): Promise<ResultRow[]> {
  const dir = makeTempDir('log-none');
  rig.dirs.push(dir);
  const fast = await openLog({ dir, durability: 'none' });
  const ms = rig.sizing.cpuMs;
  const inFlight = CONCURRENCIES[CONCURRENCIES.length - 1] ?? 512;
  const writeLoop = new AsyncGroupCommit(rig.floor, { sync: false, maxBatchRecords: BATCH_RECORDS });
  try {
    await runSequential(new LatencyRecorder(), rig.sizing.warmup, () => fast.append(rig.batchInput));
    const contenders: Contender<RunResult>[] = [
      { name: 'consensus-store (none)', run: () => measureRun(1 << 16, (rec) => runProducers(rec, inFlight, ms, () => fast.append(rig.input))) },
      {
        name: 'consensus-store (none, batch)',
        run: () => measureRun(1 << 12, (rec) => runProducers(rec, 1, ms, () => fast.append(rig.batchInput), BATCH_RECORDS)),
      },
      { name: 'async-write-loop (no sync)', run: () => measureRun(1 << 16, (rec) => runProducers(rec, inFlight, ms, () => writeLoop.append(rig.payload))) },
    ];
    const results = await interleave(ctx.reps, contenders, settle);
    const ref = runsOf(results, 'async-write-loop (no sync)', inFlight);
    const target = { text: `>= ${CPU_CEILING_TARGET / 1000}k records/s`, met: (r: ResultRow) => r.ops_per_s >= CPU_CEILING_TARGET };
    return [
      buildRow({
        scenario: 'log.cpu-ceiling',
        sys: runsOf(results, 'consensus-store (none)', inFlight),
        reference: ref,
        idleLoopDelayP99Us: idle,
        target,
        note: `durability 'none' (no fdatasync): ${inFlight} single-record appends in flight`,
      }),
      buildRow({
        scenario: 'log.cpu-ceiling',
        sys: runsOf(results, 'consensus-store (none, batch)', 1),
        reference: ref,
        idleLoopDelayP99Us: idle,
        target,
        note: `durability 'none': ${BATCH_RECORDS} records per call, one call in flight`,
      }),
      referenceRow('log.cpu-ceiling', ref, idle, 'callback writev of the queue, no fdatasync'),
    ];
  } finally {
    await fast.close();
  }
}

/** `npm run bench -- single`: the log's single-writer section alone (warm-up included), for quick latency checks. */
export function runLogSingleScenario(ctx: BenchContext): Promise<void> {
  return runLog(ctx, false);
}

/** Runs the log scenario and emits its tables. */
export function runLogScenario(ctx: BenchContext): Promise<void> {
  return runLog(ctx, true);
}

async function runLog(ctx: BenchContext, everySection: boolean): Promise<void> {
  const sizing = ctx.quick ? QUICK : FULL;
  const rig = await openRig(sizing);
  try {
    ctx.log(`log: warm-up (${sizing.warmup} appends per system)`);
    await warmUp(rig);
    ctx.log('log: single writer');
    const single = await singleWriter(ctx, rig);
    ctx.emit(`log: single writer, durable (${ctx.reps} reps, median (min-max))`, single.rows);
    if (!everySection) return;
    ctx.log('log: concurrent appends');
    ctx.emit(`log: appends in flight, durable (${ctx.reps} reps)`, await concurrent(ctx, rig, single.idle));
    ctx.log('log: batch append');
    ctx.emit(`log: batch append, durable (${ctx.reps} reps)`, await batchAppend(ctx, rig, single.idle));
    ctx.log('log: CPU ceiling');
    ctx.emit(`log: CPU ceiling, durability 'none' (${ctx.reps} reps)`, await cpuCeiling(ctx, rig, single.idle));
  } finally {
    await rig.durable.close();
    await rig.durablePool.close();
    rig.floor.close();
    for (const dir of rig.dirs) removeTempDir(dir);
  }
}
