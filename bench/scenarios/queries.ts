/**
 * `npm run bench -- query` (docs/bench-notes.md, The scenarios): the vote store's questions asked of every
 * system holding the same 100,000 votes (4,000 with --quick; 100 validators, 200 votes a
 * round), timed with tinybench: a round's votes (200), a validator's history (up to 1,000
 * votes from a round on), a range by height (10 heights: 2,000 votes), a count of a round.
 * Each peer answers from its own indexes (SQL with the indexes of bench/lib/peer-stores.ts;
 * LevelDB index keys, then the votes by key); every answer is materialized (rows fetched).
 * Rows are compared with consensus-store (ops ratio = peer / consensus-store).
 *
 * Must never: time the fill or an open.
 */
import { Bench } from 'tinybench';
import type { BenchContext } from '../lib/context.ts';
import { fillEngine, fillPeer } from '../lib/fill.ts';
import { buildRow, type ResultRow, type RunResult } from '../lib/run-result.ts';
import { loadOpenStore, missingNote, openEngine, openPeers } from '../lib/systems.ts';
import { formatNumber } from '../lib/table.ts';
import { makeTempDir, removeTempDir } from '../lib/temp-dir.ts';
import { validatorId } from '../lib/workload.ts';
import { LevelPeer, SqlitePeer, type PeerStore } from '../lib/peer-stores.ts';

const VALIDATORS = 100;
const PER_ROUND = VALIDATORS * 2;

interface Questions {
  round(r: number): Promise<number>;
  history(id: string, fromRound: number): Promise<number>;
  heights(from: number, to: number): Promise<number>;
  count(r: number): Promise<number>;
}

function ofPeer(peer: PeerStore): Questions {
  return {
    round: (r) => peer.votesForRound(r),
    history: (id, from) => peer.validatorVotes(id, from, 1000),
    heights: (from, to) => peer.votesByHeight(from, to, 10_000),
    count: (r) => peer.countForRound(r),
  };
}

/** Runs the query scenario. */
export async function runQueryScenario(ctx: BenchContext): Promise<void> {
  const open = await loadOpenStore();
  if (typeof open === 'string') {
    ctx.emitRecord({ scenario: 'query', skipped: true, reason: open }, `\n== query: skipped: store not available (${open})`);
    return;
  }
  const votes = ctx.quick ? 4_000 : 100_000;
  const rounds = votes / PER_ROUND;
  const timeMs = ctx.quick ? 20 : 300;
  const csDir = makeTempDir('query-cs');
  ctx.log(`query: filling every system with ${formatNumber(votes)} votes`);
  await fillEngine(csDir, votes, VALIDATORS);
  const store = await openEngine(csDir, 'fsync');
  const fast = await openPeers((m) => ctx.log(m), { label: 'query', fast: true });
  const systems: [string, Questions][] = [
    [
      'consensus-store',
      {
        round: async (r) => (await store.votes.getVotesForRound(r)).length,
        history: async (id, fromRound) => (await store.votes.getValidatorVotes(id, { startRound: fromRound, limit: 1000 })).length,
        heights: async (from, to) => (await store.votes.queryVotes({ startHeight: from, endHeight: to, limit: 10_000 })).length,
        count: (r) => store.votes.countVotesForRound(r),
      },
    ],
  ];
  const reopened: PeerStore[] = [];
  try {
    for (const { peer, dir } of fast.open) {
      await fillPeer(peer, votes, VALIDATORS, peer.name === 'leveldb' ? 5000 : 10_000);
      // Reopen SQLite and LevelDB in their durable modes: a query must not benefit from a fill-only setting.
      if (peer instanceof SqlitePeer && dir !== undefined && fast.peers.Sqlite !== undefined) {
        await peer.close();
        const p = new SqlitePeer(fast.peers.Sqlite, `${dir}/votes.db`);
        reopened.push(p);
        systems.push(['sqlite', ofPeer(p)]);
      } else if (peer instanceof LevelPeer && dir !== undefined && fast.peers.Level !== undefined) {
        await peer.close();
        const p = await LevelPeer.open(fast.peers.Level, dir);
        reopened.push(p);
        systems.push(['leveldb', ofPeer(p)]);
      } else systems.push([peer.name, ofPeer(peer)]);
    }
    let i = 0;
    const someRound = (): number => (i++ * 7919) % rounds;
    const fromRound = Math.max(0, rounds - 500);
    const questions: [string, (q: Questions) => Promise<number>][] = [
      ['votes of a round (200)', (q) => q.round(someRound())],
      ['a validator from a round (<= 1,000)', (q) => q.history(validatorId(i++ % VALIDATORS), fromRound)],
      ['range of 10 heights (2,000)', (q) => {
        const h = 1 + (someRound() % Math.max(1, rounds - 10));
        return q.heights(h, h + 9);
      }],
      ['count of a round', (q) => q.count(someRound())],
    ];
    const rows: ResultRow[] = [];
    for (const [question, ask] of questions) {
      ctx.log(`query: ${question}`);
      const runs = new Map<string, RunResult>();
      for (const [name, q] of systems) {
        const bench = new Bench({ time: timeMs, warmupTime: Math.min(50, timeMs) });
        bench.add(name, () => ask(q));
        await bench.run();
        const r = bench.tasks[0]?.result;
        const latency = r !== undefined && 'latency' in r ? r.latency : undefined;
        runs.set(name, {
          latency: {
            count: latency?.samplesCount ?? 0,
            p50_us: (latency?.p50 ?? NaN) * 1000,
            p99_us: (latency?.p99 ?? NaN) * 1000,
            max_us: (latency?.max ?? NaN) * 1000,
            mean_us: (latency?.mean ?? NaN) * 1000,
          },
          opsPerS: r !== undefined && 'throughput' in r ? r.throughput.mean : NaN,
          loopDelayP99Us: NaN,
        });
      }
      const ref = { system: `consensus-store: ${question}`, concurrency: 1, runs: [runs.get('consensus-store') as RunResult] };
      for (const [name] of systems) {
        const sys = { system: `${name}: ${question}`, concurrency: 1, runs: [runs.get(name) as RunResult] };
        rows.push(buildRow({ scenario: 'query', sys, ...(name === 'consensus-store' ? {} : { reference: ref }), idleLoopDelayP99Us: NaN }));
      }
    }
    const missing = missingNote(fast.missing);
    const first = rows[0];
    if (first !== undefined) {
      rows[0] = { ...first, note: `tinybench, ${timeMs} ms per task, on ${formatNumber(votes)} votes; ratios are system / consensus-store${missing === undefined ? '' : `; ${missing}`}` };
    }
    ctx.emit(`query: on ${formatNumber(votes)} votes, every system (tinybench; ops/s = queries/s)`, rows);
  } finally {
    await store.close();
    for (const p of reopened) await p.close().catch(() => undefined);
    await fast.close();
    removeTempDir(csDir);
  }
}
