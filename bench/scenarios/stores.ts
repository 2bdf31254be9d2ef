/**
 * `npm run bench -- stores`: the core stores (targets: docs/bench-notes.md, The scenarios).
 *
 * - open (index rebuild) after 100,000 and 1,000,000 stored votes (50,000 only with --quick):
 *   the votes are written fast (the vote store's own records, 4,096 per log call, durability
 *   'none'), the store closed, then each open is timed, interleaved with the bare log's open
 *   and scan, with the heap used per stored vote after the rebuild;
 * - `appendVote` durable p50/p99, interleaved with the sync floor (target p99 <= 1.5x);
 * - query latencies through tinybench: a round of 100 validators, a validator's last 1,000
 *   votes, a count, an existence check.
 *
 * The store is loaded at run time: when `src/store.ts` is missing or fails to load, the
 * scenario prints "skipped" with the reason instead of failing the whole run.
 *
 * Must never: time the writing of the votes as part of the open, or let a store from one
 * measurement stay open (and hold heap) while the next is measured.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Bench } from 'tinybench';
import { RecordKind } from '../../src/codec/kinds.ts';
import { encodeVoteRecord } from '../../src/codec/vote-record.ts';
import type { Durability, RecordInput } from '../../src/log/types.ts';
import type { ValidatorVote, VoteType } from '../../src/model/vote.ts';
import { FloorFile, syncFloor } from '../floors.ts';
import type { BenchContext } from '../lib/context.ts';
import { interleave, type Contender } from '../lib/interleave.ts';
import { LatencyRecorder } from '../lib/latency.ts';
import { idleLoopDelayP99 } from '../lib/loop-delay.ts';
import { measureSequential, runSequential } from '../lib/measure.ts';
import { buildRow, referenceRow, type ResultRow, type RunResult, type SystemRuns } from '../lib/run-result.ts';
import { spreadOf } from '../lib/stats.ts';
import { formatNumber } from '../lib/table.ts';
import { makeTempDir, removeTempDir } from '../lib/temp-dir.ts';
import { writableLogOf } from '../../src/store.ts';

type OpenStore = typeof import('../../src/store.ts').openStore;
type OpenLog = typeof import('../../src/log/wal.ts').openLog;

/** The engine entry points, loaded at run time so that a missing one skips the scenario instead of failing the run. */
interface Engine {
  readonly openStore: OpenStore;
  readonly openLog: OpenLog;
}

/** Chain id of the synthetic history (votes are stored unverified, as by default). */
const CHAIN_ID = 'bench-chain';

const VALIDATORS = 100;
/** Vote types written per validator and round (a round holds 200 votes). */
const TYPES: readonly VoteType[] = ['prevote', 'precommit'];
/** Records per log call while filling (the log's default batch limit). */
const FILL_BATCH = 4096;
/** Log calls in flight while filling. */
const FILL_CALLS_IN_FLIGHT = 4;
const OPEN_TARGET_MS_PER_MILLION = 1500;

interface Sizing {
  readonly sizes: readonly number[];
  readonly appendCount: number;
  readonly queryTimeMs: number;
  readonly idleMs: number;
}

const FULL: Sizing = { sizes: [100_000, 1_000_000], appendCount: 2000, queryTimeMs: 500, idleMs: 300 };
const QUICK: Sizing = { sizes: [50_000], appendCount: 200, queryTimeMs: 50, idleMs: 50 };
/** appendVote calls before the timed runs. */
const APPEND_WARMUP = 3000;

/** Loads `openStore` (src/store.ts) and `openLog` (src/log/wal.ts), or says why it cannot. */
async function loadEngine(): Promise<Engine | string> {
  const storeUrl = new URL('../../src/store.ts', import.meta.url).href;
  const walUrl = new URL('../../src/log/wal.ts', import.meta.url).href;
  try {
    const store = (await import(storeUrl)) as { openStore?: unknown };
    const wal = (await import(walUrl)) as { openLog?: unknown };
    if (typeof store.openStore !== 'function') return 'src/store.ts does not export openStore';
    if (typeof wal.openLog !== 'function') return 'src/log/wal.ts does not export openLog';
    return { openStore: store.openStore as OpenStore, openLog: wal.openLog as OpenLog };
  } catch (err) {
    return `the store did not load: ${err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err)}`;
  }
}

function open(engine: Engine, dir: string, durability: Durability): ReturnType<OpenStore> {
  // Fake signatures, like the peers' (which verify none): unverified (docs/stores.md, "Vote verification").
  return engine.openStore({ dir, chainId: CHAIN_ID, voteVerification: 'off', log: { durability } });
}

function validatorId(i: number): string {
  return `validator-${String(i).padStart(3, '0')}`;
}

/** The `index`-th vote of the synthetic history: round r = index / 200, one round per height. */
function makeVote(index: number, hashes: Map<number, Uint8Array>, signature: Uint8Array): ValidatorVote {
  const perRound = VALIDATORS * TYPES.length;
  const round = Math.floor(index / perRound);
  const within = index % perRound;
  let blockHash = hashes.get(round);
  if (blockHash === undefined) {
    hashes.clear();
    blockHash = new Uint8Array(randomBytes(32));
    hashes.set(round, blockHash);
  }
  return {
    validatorId: validatorId(within % VALIDATORS),
    height: round + 1,
    round,
    voteType: TYPES[Math.floor(within / VALIDATORS)] ?? 'prevote',
    blockHash,
    timestamp: 1_700_000_000_000 + round * 1000,
    signature,
  };
}

/**
 * Writes `votes` synthetic votes as the vote store itself would (kind Vote, its record codec),
 * straight into the store's log in batches of FILL_BATCH with durability 'none': the fast way
 * to a big store, without a million single-vote calls. The first open checks that the store
 * sees them.
 */
async function fill(engine: Engine, dir: string, votes: number): Promise<number> {
  const store = await open(engine, dir, 'none');
  const started = performance.now();
  try {
    const hashes = new Map<number, Uint8Array>();
    const signature = new Uint8Array(randomBytes(64));
    const recordedAt = Date.now();
    const inFlight = new Set<Promise<unknown>>();
    for (let first = 0; first < votes; first += FILL_BATCH) {
      const batch: RecordInput[] = [];
      for (let i = first; i < Math.min(votes, first + FILL_BATCH); i++) {
        batch.push({ kind: RecordKind.Vote, payload: encodeVoteRecord(makeVote(i, hashes, signature), recordedAt) });
      }
      const p = writableLogOf(store).append(batch);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p)).catch(() => undefined);
      if (inFlight.size >= FILL_CALLS_IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    await store.close();
  }
  return performance.now() - started;
}

/** Checks that an open store holds the synthetic history (a fill the store did not understand would time nothing). */
async function checkFilled(engine: Engine, dir: string, votes: number): Promise<void> {
  const store = await open(engine, dir, 'fsync');
  try {
    const count = await store.votes.countVotesForRound(0);
    const expected = Math.min(votes, VALIDATORS * TYPES.length);
    if (count !== expected) throw new Error(`the store sees ${count} votes in round 0 after the fill, expected ${expected}`);
  } finally {
    await store.close();
  }
}

/** One timed open: the time, the heap it kept, and how it split (log open, replay). */
interface OpenSample {
  readonly run: RunResult;
  readonly heapPerVote: number;
  readonly logOpenMs: number;
  readonly replayMs: number;
}

const gcExposed = (): boolean => typeof globalThis.gc === 'function';

function collect(): void {
  if (!gcExposed()) return;
  globalThis.gc?.();
  globalThis.gc?.();
}

function oneShot(ms: number, items: number): RunResult {
  const us = ms * 1000;
  return { latency: { count: 1, p50_us: us, p99_us: us, max_us: us, mean_us: us }, opsPerS: (items * 1000) / ms, loopDelayP99Us: NaN };
}

/** Memory the store's indexes can hold: the JS heap plus ArrayBuffer backing stores (the columnar vote index lives in typed arrays, outside heapUsed). */
function storeMemory(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function timeStoreOpen(engine: Engine, dir: string, votes: number): Promise<OpenSample> {
  collect();
  const before = storeMemory();
  const t = performance.now();
  const store = await open(engine, dir, 'fsync');
  const ms = performance.now() - t;
  collect();
  const after = storeMemory();
  const sample = {
    run: oneShot(ms, votes),
    heapPerVote: (after - before) / votes,
    logOpenMs: store.log.openReport.durationMs,
    replayMs: store.replay.durationMs,
  };
  await store.close();
  return sample;
}

/** The reference of an open: the log alone, opened and scanned with a visitor that does nothing. */
async function timeLogScan(engine: Engine, dir: string, votes: number): Promise<RunResult> {
  collect();
  const t = performance.now();
  const log = await engine.openLog({ dir, durability: 'fsync' });
  let seen = 0;
  await log.scan(() => {
    seen++;
  });
  const ms = performance.now() - t;
  await log.close();
  if (seen < votes) throw new Error(`log scan saw ${seen} records, expected at least ${votes}`);
  return oneShot(ms, votes);
}

async function openAfter(ctx: BenchContext, engine: Engine, votes: number, dir: string): Promise<ResultRow[]> {
  const fillMs = await fill(engine, dir, votes);
  ctx.log(`  stores: wrote ${formatNumber(votes)} votes in ${(fillMs / 1000).toFixed(1)} s (durability 'none', ${FILL_BATCH} per log call)`);
  await checkFilled(engine, dir, votes);
  const samples: OpenSample[] = [];
  const storeName = `open ${formatNumber(votes)} votes`;
  const logName = `log open + scan ${formatNumber(votes)}`;
  const contenders: Contender<RunResult>[] = [
    {
      name: storeName,
      run: async () => {
        const sample = await timeStoreOpen(engine, dir, votes);
        samples.push(sample);
        return sample.run;
      },
    },
    { name: logName, run: () => timeLogScan(engine, dir, votes) },
  ];
  const results = await interleave(ctx.reps, contenders, () => sleep(50));
  const ref: SystemRuns = { system: logName, concurrency: 1, runs: results.get(logName) ?? [] };
  const heap = spreadOf(samples.map((s) => s.heapPerVote));
  const method = gcExposed()
    ? 'heapUsed + arrayBuffers after forced gc (--expose-gc)'
    : 'heapUsed + arrayBuffers delta without gc (noisy: run with NODE_OPTIONS=--expose-gc)';
  const logOpen = spreadOf(samples.map((s) => s.logOpenMs)).median;
  const replay = spreadOf(samples.map((s) => s.replayMs)).median;
  const targetMs = (OPEN_TARGET_MS_PER_MILLION * votes) / 1_000_000;
  const row = buildRow({
    scenario: 'stores.open',
    extra: { heap_bytes_per_vote: heap.median, heap_method: gcExposed() ? 'gc' : 'delta-no-gc', log_open_ms: logOpen, replay_ms: replay },
    sys: { system: storeName, concurrency: 1, runs: results.get(storeName) ?? [] },
    reference: ref,
    idleLoopDelayP99Us: NaN,
    target: { text: `<= ${formatNumber(targetMs)} ms`, met: (r) => r.p50_us <= targetMs * 1000 },
    note:
      `p50 = open time, ops/s = votes rebuilt per second; of it log open ${logOpen.toFixed(0)} ms, replay into indexes ${replay.toFixed(0)} ms; ` +
      `memory ${heap.median.toFixed(0)} (${heap.min.toFixed(0)}-${heap.max.toFixed(0)}) bytes per vote, ${method}`,
  });
  return [
    row,
    referenceRow('stores.open', ref, NaN, 'the log alone: open (torn-tail check) and a scan with a no-op visitor'),
  ];
}

async function appendDurable(ctx: BenchContext, engine: Engine, dir: string, rounds: number, sizing: Sizing): Promise<ResultRow[]> {
  const floorDir = makeTempDir('stores-floor');
  const floor = FloorFile.create(floorDir, 'floor.dat', 16 << 20);
  const store = await open(engine, dir, 'fsync');
  const payload = new Uint8Array(randomBytes(200));
  const signature = new Uint8Array(randomBytes(64));
  const blockHash = new Uint8Array(randomBytes(32));
  let next = rounds + 10;
  const vote = (): ValidatorVote => {
    next += 1;
    return { validatorId: 'validator-bench', height: next, round: next, voteType: 'prevote', blockHash, timestamp: Date.now(), signature };
  };
  const n = sizing.appendCount;
  const idleRuns: number[] = [];
  const system = 'consensus-store appendVote';
  try {
    // Long enough for the JIT to settle: V8 compiles on helper threads, which compete with the
    // I/O worker for the CPU and would otherwise show in the first run's tail.
    await runSequential(new LatencyRecorder(), APPEND_WARMUP, () => store.votes.appendVote(vote()));
    const contenders: Contender<RunResult>[] = [
      { name: 'sync-floor', run: () => measureSequential(n, (rec, k) => syncFloor(floor, payload, k, rec)) },
      { name: system, run: () => measureSequential(n, (rec, k) => runSequential(rec, k, () => store.votes.appendVote(vote()))) },
      {
        name: 'idle-loop',
        run: async () => {
          const p99 = await idleLoopDelayP99(sizing.idleMs);
          idleRuns.push(p99);
          return { latency: { count: 0, p50_us: NaN, p99_us: NaN, max_us: NaN, mean_us: NaN }, opsPerS: NaN, loopDelayP99Us: p99 };
        },
      },
    ];
    const results = await interleave(ctx.reps, contenders, () => sleep(10));
    const idle = spreadOf(idleRuns).median;
    const ref: SystemRuns = { system: 'sync-floor', concurrency: 1, runs: results.get('sync-floor') ?? [] };
    return [
      buildRow({
        scenario: 'stores.append-vote',
        sys: { system, concurrency: 1, runs: results.get(system) ?? [] },
        reference: ref,
        idleLoopDelayP99Us: idle,
        target: { text: 'p99 <= 1.5x floor', met: (r) => r.ratio_p99 <= 1.5 },
        note: `one vote in flight, ${n} per run, on the store holding the votes above`,
      }),
      referenceRow('stores.append-vote', ref, idle, '200-byte writeSync + fdatasyncSync'),
    ];
  } finally {
    await store.close();
    floor.close();
    removeTempDir(floorDir);
  }
}

async function queries(engine: Engine, dir: string, rounds: number, sizing: Sizing): Promise<ResultRow[]> {
  const store = await open(engine, dir, 'fsync');
  try {
    const bench = new Bench({ time: sizing.queryTimeMs, warmupTime: Math.min(100, sizing.queryTimeMs) });
    let i = 0;
    const someRound = (): number => (i++ * 7919) % rounds;
    const fromRound = Math.max(0, rounds - 500);
    const tasks: [string, () => Promise<unknown>][] = [
      [`getVotesForRound (${VALIDATORS} validators x ${TYPES.length} types)`, () => store.votes.getVotesForRound(someRound())],
      ["getValidatorVotes (last 1,000 of one)", () => store.votes.getValidatorVotes(validatorId(i++ % VALIDATORS), { startRound: fromRound, limit: 1000 })],
      ['countVotesForRound', () => store.votes.countVotesForRound(someRound())],
      ['voteExists', () => store.votes.voteExists(validatorId(i % VALIDATORS), someRound(), 'prevote')],
    ];
    for (const [name, fn] of tasks) bench.add(name, fn);
    await bench.run();
    return bench.tasks.map((task) => {
      const r = task.result;
      const latency = 'latency' in r ? r.latency : undefined;
      const run: RunResult = {
        latency: {
          count: latency?.samplesCount ?? 0,
          p50_us: (latency?.p50 ?? NaN) * 1000,
          p99_us: (latency?.p99 ?? NaN) * 1000,
          max_us: (latency?.max ?? NaN) * 1000,
          mean_us: (latency?.mean ?? NaN) * 1000,
        },
        opsPerS: 'throughput' in r ? r.throughput.mean : NaN,
        loopDelayP99Us: NaN,
      };
      return buildRow({ scenario: 'stores.query', sys: { system: task.name, concurrency: 1, runs: [run] }, idleLoopDelayP99Us: NaN });
    });
  } finally {
    await store.close();
  }
}

/** Runs the stores scenario and emits its tables (or a skip line when the store is absent). */
export async function runStoresScenario(ctx: BenchContext): Promise<void> {
  const engine = await loadEngine();
  if (typeof engine === 'string') {
    ctx.emitRecord({ scenario: 'stores', skipped: true, reason: engine }, `\n== stores: skipped: store not available (${engine})`);
    return;
  }
  const sizing = ctx.quick ? QUICK : FULL;
  const perRound = VALIDATORS * TYPES.length;
  const openRows: ResultRow[] = [];
  const dirs: string[] = [];
  let largest: { dir: string; rounds: number } | undefined;
  try {
    for (const votes of sizing.sizes) {
      ctx.log(`stores: open after ${formatNumber(votes)} votes`);
      const dir = makeTempDir(`stores-${votes}`);
      if (largest !== undefined) removeTempDir(largest.dir);
      dirs.push(dir);
      openRows.push(...(await openAfter(ctx, engine, votes, dir)));
      largest = { dir, rounds: Math.ceil(votes / perRound) };
    }
    ctx.emit(`stores: open (index rebuild), ${ctx.reps} opens each, interleaved with the bare log scan`, openRows);
    if (largest === undefined) return;
    const held = formatNumber(sizing.sizes[sizing.sizes.length - 1] ?? 0);
    ctx.log('stores: queries (tinybench)');
    ctx.emit(`stores: queries on ${held} votes (tinybench; no reference)`, await queries(engine, largest.dir, largest.rounds, sizing));
    ctx.log('stores: appendVote durable');
    ctx.emit(`stores: appendVote, durable, on ${held} votes (${ctx.reps} reps)`, await appendDurable(ctx, engine, largest.dir, largest.rounds, sizing));
  } finally {
    for (const dir of dirs) removeTempDir(dir);
  }
}
