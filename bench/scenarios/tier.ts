/**
 * `npm run bench -- tier` (docs/bench-notes.md, "Bounded history"): what the cold tier costs
 * the paths a node waits on, each against a reference measured in the same run.
 *
 * - Open: a directory of H_total heights of 100 validators' votes (prevote and precommit, a
 *   finalization mark per height), all but the last `hotHeights` cold (built in chunks, each
 *   compacted: bench/lib/tier-build.ts), against a directory holding only the last `hotHeights`
 *   heights (same retention). Each open runs in a fresh process (bench/lib/open-probe.ts),
 *   the two interleaved `reps` times; open time (median) and resident memory (RSS and heap
 *   after a GC) of each. Target: the full directory's open <= 1.2x the hot one's, and < 300 ms.
 * - Cold queries: on the full directory, a round's votes (200) of a cold round and a
 *   validator's 1,000 votes from a cold round (`getValidatorVotes` with `startRound` and limit
 *   1,000: 500 cold rounds), against SQLite (bench/lib/peer-stores.ts) holding the same votes
 *   (the same objects, reopened with synchronous=FULL), timed with tinybench; each answer's
 *   size is checked first on both systems.
 * - appendVote while a compaction runs: a store (durability 'fsync', `hotHeights` 100) with
 *   500 heights to compact; one writer appends votes of new heights one at a time while
 *   `compact()` runs, then as many without one (the order swapped every other rep, each rep on
 *   a fresh copy of the directory). Target: p99 with <= 1.5x p99 without.
 *
 * Sizes: env BENCH_TIER_HEIGHTS (default 5,000 heights: 1,000,000 votes, about 2 minutes to build on a busy 2-core machine; 800 with --quick).
 *
 * Must never: time a build, or compare answers of different sizes.
 */
import { cpSync } from 'node:fs';
import { Bench } from 'tinybench';
import type { BenchContext } from '../lib/context.ts';
import { LatencyRecorder } from '../lib/latency.ts';
import { withLoopDelay } from '../lib/loop-delay.ts';
import { probeOpen, type OpenProbe } from '../lib/open-probe.ts';
import { SqlitePeer } from '../lib/peer-stores.ts';
import { loadPeers } from '../lib/peers.ts';
import { buildRow, type ResultRow, type RunResult } from '../lib/run-result.ts';
import { spreadOf } from '../lib/stats.ts';
import { formatNumber } from '../lib/table.ts';
import { makeTempDir, removeTempDir } from '../lib/temp-dir.ts';
import { buildTierDir, openTier } from '../lib/tier-build.ts';
import { validatorId, VoteFactory } from '../lib/workload.ts';

const VALIDATORS = 100;
const PER_HEIGHT = VALIDATORS * 2;
const HEIGHTS_ENV = 'BENCH_TIER_HEIGHTS';
const MB = 2 ** 20;

function envHeights(quick: boolean): number {
  const raw = process.env[HEIGHTS_ENV];
  if (raw === undefined || raw === '') return quick ? 800 : 5_000;
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(n) || n < 200 || n > 1_000_000) throw new Error(`${HEIGHTS_ENV} must be an integer 200..1000000, got ${JSON.stringify(raw)}`);
  return n;
}

/** The open section: full directory against the hot window alone. */
async function openSection(ctx: BenchContext, full: string, hot: string, hotHeights: number, heights: number): Promise<void> {
  const runs: { full: OpenProbe[]; hot: OpenProbe[] } = { full: [], hot: [] };
  for (let rep = 0; rep < ctx.reps; rep++) {
    const order: ['full' | 'hot', string][] = rep % 2 === 0 ? [['full', full], ['hot', hot]] : [['hot', hot], ['full', full]];
    for (const [which, dir] of order) runs[which].push(await probeOpen(dir, hotHeights));
  }
  const med = (xs: OpenProbe[], get: (p: OpenProbe) => number): number => spreadOf(xs.map(get)).median;
  const fullMs = med(runs.full, (p) => p.openMs);
  const hotMs = med(runs.hot, (p) => p.openMs);
  const ratio = fullMs / hotMs;
  const met = ratio <= 1.2 && fullMs < 300;
  const spread = (xs: OpenProbe[]): string => `${Math.min(...xs.map((p) => p.openMs)).toFixed(1)}..${Math.max(...xs.map((p) => p.openMs)).toFixed(1)}`;
  const cells: string[][] = [
    ['directory', 'heights', 'votes held', 'cold heights', 'open ms (median)', 'open ms (min..max)', 'RSS MiB', 'heap used MiB', 'array buffers MiB', 'x hot-only open', 'target', 'verdict'],
    [
      'full history (nearly all cold)',
      formatNumber(heights),
      formatNumber(runs.full[0]?.votes ?? NaN),
      formatNumber(heights - hotHeights),
      fullMs.toFixed(1),
      spread(runs.full),
      (med(runs.full, (p) => p.rssBytes) / MB).toFixed(1),
      (med(runs.full, (p) => p.heapUsedBytes) / MB).toFixed(1),
      (med(runs.full, (p) => p.arrayBuffersBytes) / MB).toFixed(1),
      `${ratio.toFixed(2)}x`,
      '<= 1.2x and < 300 ms',
      met ? 'MET' : 'MISSED',
    ],
    [
      'hot window only',
      formatNumber(hotHeights),
      formatNumber(runs.hot[0]?.votes ?? NaN),
      '0',
      hotMs.toFixed(1),
      spread(runs.hot),
      (med(runs.hot, (p) => p.rssBytes) / MB).toFixed(1),
      (med(runs.hot, (p) => p.heapUsedBytes) / MB).toFixed(1),
      (med(runs.hot, (p) => p.arrayBuffersBytes) / MB).toFixed(1),
      '1.00x',
      '-',
      '-',
    ],
  ];
  ctx.emitTable('tier', `tier: open of ${formatNumber(heights)} heights (${formatNumber(heights * PER_HEIGHT)} votes, ${VALIDATORS} validators) against the hot window alone (hotHeights ${formatNumber(hotHeights)})`, cells, [
    `each open in a fresh process (durability fsync, retention.hotHeights ${hotHeights}, voteVerification off, automatic snapshots off), the two directories interleaved, ${ctx.reps} reps; RSS and heap after the open and a full GC; "votes held" = store.votes.size`,
    'both directories open from a local image (the full one\'s taken by its last compaction, the hot one\'s by takeImage after its replay) and a short hot log after it',
  ]);
}

interface Questions {
  round(r: number): Promise<number>;
  history(id: string, fromRound: number): Promise<number>;
}

/** The cold-query section: consensus-store's cold tier against SQLite on the same votes. */
async function querySection(ctx: BenchContext, full: string, sqlitePath: string | undefined, hotHeights: number, cutHeight: number, missing: string | undefined): Promise<void> {
  const store = await openTier(full, hotHeights, 'fsync', 1_000_000_000);
  const peers = loadPeers((m) => ctx.log(m));
  const sqlite = sqlitePath === undefined || peers.Sqlite === undefined ? undefined : new SqlitePeer(peers.Sqlite, sqlitePath);
  try {
    const systems: [string, Questions][] = [
      [
        'consensus-store',
        {
          round: async (r) => (await store.votes.getVotesForRound(r)).length,
          history: async (id, from) => (await store.votes.getValidatorVotes(id, { startRound: from, limit: 1000 })).length,
        },
      ],
    ];
    if (sqlite !== undefined) systems.push(['sqlite', { round: (r) => sqlite.votesForRound(r), history: (id, from) => sqlite.validatorVotes(id, from, 1000) }]);
    // Cold rounds are 0..cutHeight - 2 (height h is round h - 1); a history of 1,000 votes spans 500 rounds.
    const coldRounds = cutHeight - 1;
    if (coldRounds < 600) throw new Error(`tier: only ${coldRounds} cold rounds (need 600 for a cold history of 1,000 votes)`);
    let i = 0;
    const someRound = (): number => (i++ * 7919) % coldRounds;
    const someStart = (): number => (i++ * 7919) % (coldRounds - 500);
    const questions: [string, number, (q: Questions) => Promise<number>][] = [
      ['cold round (200 votes)', PER_HEIGHT, (q) => q.round(someRound())],
      ['validator, 1,000 cold votes', 1000, (q) => q.history(validatorId(i % VALIDATORS), someStart())],
    ];
    const timeMs = ctx.quick ? 100 : 1000;
    const rows: ResultRow[] = [];
    for (const [question, expected, ask] of questions) {
      for (const [name, q] of systems) {
        const n = await ask(q);
        if (n !== expected) throw new Error(`tier: ${name} answered ${n} votes to "${question}", expected ${expected}`);
      }
      const runs = new Map<string, RunResult>();
      for (const [name, q] of systems) {
        ctx.log(`tier: ${question}, ${name}`);
        const bench = new Bench({ time: timeMs, warmupTime: Math.min(100, timeMs) });
        bench.add(name, () => ask(q));
        await bench.run();
        const r = bench.tasks[0]?.result;
        const latency = r !== undefined && 'latency' in r ? r.latency : undefined;
        runs.set(name, {
          latency: { count: latency?.samplesCount ?? 0, p50_us: (latency?.p50 ?? NaN) * 1000, p99_us: (latency?.p99 ?? NaN) * 1000, max_us: (latency?.max ?? NaN) * 1000, mean_us: (latency?.mean ?? NaN) * 1000 },
          opsPerS: r !== undefined && 'throughput' in r ? r.throughput.mean : NaN,
          loopDelayP99Us: NaN,
        });
      }
      const ref = { system: `consensus-store: ${question}`, concurrency: 1, runs: [runs.get('consensus-store') as RunResult] };
      for (const [name] of systems) {
        const sys = { system: `${name}: ${question}`, concurrency: 1, runs: [runs.get(name) as RunResult] };
        rows.push(buildRow({ scenario: 'tier.query', sys, ...(name === 'consensus-store' ? {} : { reference: ref }), idleLoopDelayP99Us: NaN }));
      }
    }
    const first = rows[0];
    if (first !== undefined) {
      rows[0] = { ...first, note: `tinybench, ${timeMs} ms per task; rounds spread over the ${formatNumber(coldRounds)} cold rounds (the tier's block caches see many blocks); ratios are sqlite / consensus-store${missing === undefined ? '' : `; ${missing}`}` };
    }
    ctx.emit(`tier: queries on cold data, consensus-store (cold tier) and SQLite, same ${formatNumber(store.votes.size)} votes (ops/s = queries/s)`, rows);
  } finally {
    await store.close();
    await sqlite?.close();
  }
}

/** One run of appendVote latencies: `count` votes (or until `until` settles), one at a time. */
async function appendRun(store: Awaited<ReturnType<typeof openTier>>, factory: VoteFactory, next: { index: number }, opts: { count?: number; until?: Promise<unknown> }): Promise<LatencyRecorder> {
  const rec = new LatencyRecorder(4096);
  let done = false;
  void opts.until?.then(
    () => (done = true),
    () => (done = true),
  );
  while (opts.count !== undefined ? rec.count < opts.count : !done) {
    const v = factory.at(next.index++);
    const t = performance.now();
    const r = await store.votes.appendVote(v);
    rec.recordSince(t);
    if (r.outcome !== 'stored') throw new Error(`tier: appendVote ${r.outcome}`);
  }
  return rec;
}

/** The appendVote section: p99 while a compaction runs against without one. */
async function appendSection(ctx: BenchContext): Promise<void> {
  const hotHeights = ctx.quick ? 50 : 100;
  const toCompact = ctx.quick ? 100 : 500;
  const heights = hotHeights + toCompact;
  const template = makeTempDir('tier-append-template');
  try {
    ctx.log(`tier: building the appendVote directory (${formatNumber(heights)} heights, ${formatNumber(heights * PER_HEIGHT)} votes)`);
    await buildTierDir(template, { validators: VALIDATORS, fromHeight: 1, toHeight: heights, chunk: heights, hotHeights, compact: false });
    const withRuns: RunResult[] = [];
    const withoutRuns: RunResult[] = [];
    let moved = 0;
    let compactMs = 0;
    let samples = 1000;
    for (let rep = 0; rep < ctx.reps; rep++) {
      const dir = makeTempDir(`tier-append-${rep}`);
      try {
        cpSync(template, dir, { recursive: true });
        const store = await openTier(dir, hotHeights, 'fsync', 1_000_000_000);
        try {
          const factory = new VoteFactory(VALIDATORS);
          const next = { index: heights * PER_HEIGHT };
          const asRun = (rec: LatencyRecorder, ms: number, loop: number): RunResult => ({ latency: rec.summarize(), opsPerS: (rec.count / ms) * 1000, loopDelayP99Us: loop });
          const withCompaction = async (): Promise<void> => {
            const t = performance.now();
            const { result, loopDelayP99Us } = await withLoopDelay(async () => {
              const compaction = store.compact();
              const rec = await appendRun(store, factory, next, { until: compaction });
              return { rec, report: await compaction };
            });
            const ms = performance.now() - t;
            moved = result.report.records['votes'] ?? 0;
            compactMs = result.report.durationMs;
            samples = result.rec.count;
            withRuns.push(asRun(result.rec, ms, loopDelayP99Us));
          };
          const without = async (): Promise<void> => {
            const t = performance.now();
            const { result, loopDelayP99Us } = await withLoopDelay(() => appendRun(store, factory, next, { count: samples }));
            withoutRuns.push(asRun(result, performance.now() - t, loopDelayP99Us));
          };
          if (rep % 2 === 0) {
            await withCompaction();
            await without();
          } else {
            await without();
            await withCompaction();
          }
        } finally {
          await store.close();
        }
      } finally {
        removeTempDir(dir);
      }
    }
    const sys = { system: 'consensus-store: appendVote during compaction', concurrency: 1, runs: withRuns };
    const ref = { system: 'consensus-store: appendVote, no compaction', concurrency: 1, runs: withoutRuns };
    ctx.emit(`tier: appendVote (durability fsync, one writer) while a compaction of ${formatNumber(toCompact)} heights runs, against without one`, [
      buildRow({
        scenario: 'tier.append',
        sys,
        reference: ref,
        idleLoopDelayP99Us: NaN,
        target: { text: 'p99 ratio <= 1.5', met: (row) => row.ratio_p99 <= 1.5 },
        note: `hotHeights ${hotHeights}, ${formatNumber(heights)} heights of ${VALIDATORS} validators' votes; the last compaction moved ${formatNumber(moved)} votes in ${formatNumber(compactMs)} ms (capture, cold files, manifest, eviction, image, release); the writer appends until it resolves, then as many votes without one (order swapped every other rep, a fresh copy each rep); "loop p99": the event loop's delay over each run`,
      }),
      buildRow({ scenario: 'tier.append', sys: ref, idleLoopDelayP99Us: NaN }),
    ]);
  } finally {
    removeTempDir(template);
  }
}

/** Runs the tier scenario. */
export async function runTierScenario(ctx: BenchContext): Promise<void> {
  const heights = envHeights(ctx.quick);
  const hotHeights = ctx.quick ? 100 : 1000;
  const chunk = ctx.quick ? 200 : 1000;
  const full = makeTempDir('tier-full');
  const hot = makeTempDir('tier-hot');
  const peers = loadPeers((m) => ctx.log(m));
  const sqliteDir = peers.Sqlite === undefined ? undefined : makeTempDir('tier-sqlite');
  const sqlitePath = sqliteDir === undefined ? undefined : `${sqliteDir}/votes.db`;
  const missing = peers.Sqlite === undefined ? `not measured: sqlite (${peers.missing['sqlite'] ?? 'missing'})` : undefined;
  try {
    ctx.log(`tier: building ${formatNumber(heights)} heights (${formatNumber(heights * PER_HEIGHT)} votes) in chunks of ${chunk}, each compacted (hotHeights ${hotHeights}); SQLite gets the same votes`);
    const sqliteFill = sqlitePath === undefined || peers.Sqlite === undefined ? undefined : new SqlitePeer(peers.Sqlite, sqlitePath, { fast: true });
    let build;
    try {
      build = await buildTierDir(full, {
        validators: VALIDATORS,
        fromHeight: 1,
        toHeight: heights,
        chunk,
        hotHeights,
        compact: true,
        ...(sqliteFill === undefined ? {} : { sink: (votes) => sqliteFill.appendVotes(votes) }),
        progress: (m) => ctx.log(m),
      });
    } finally {
      await sqliteFill?.close();
    }
    ctx.log(`tier: built in ${(build.ms / 1000).toFixed(1)} s (SQLite's fill included), ${build.compactions} compactions, cut at height ${build.cutHeight}`);
    const hotBuild = await buildTierDir(hot, { validators: VALIDATORS, fromHeight: heights - hotHeights + 1, toHeight: heights, chunk: hotHeights, hotHeights, compact: false });
    ctx.log(`tier: hot-only directory built in ${(hotBuild.ms / 1000).toFixed(1)} s`);
    await openSection(ctx, full, hot, hotHeights, heights);
    await querySection(ctx, full, sqlitePath, hotHeights, build.cutHeight, missing);
  } finally {
    removeTempDir(full);
    removeTempDir(hot);
    if (sqliteDir !== undefined) removeTempDir(sqliteDir);
  }
  await appendSection(ctx);
}
