/**
 * `npm run bench -- recovery` (docs/bench-notes.md, The scenarios): how long until a system that was stopped
 * can serve again.
 *
 * - Open after 100,000 and 1,000,000 votes (10,000 with --quick): consensus-store's open
 *   (log recovery + every index rebuilt from the log) against SQLite's open (WAL mode; its
 *   indexes are on disk) and LevelDB's open (its log replayed into a memtable), each followed
 *   by one query (the count of the last round) so that "open" means "ready to answer". The
 *   stores were filled fast (bench/lib/fill.ts) and closed cleanly; opens are interleaved.
 *   PostgreSQL is a server: its recovery is the server's, not a library open, and is not timed.
 * - After a real SIGKILL: a child process (bench/lib/kill-child.ts) appends votes durably, 32
 *   in flight, and reports how many were acknowledged; it is killed with SIGKILL mid-write, the
 *   store is reopened here, timed, and every acknowledged vote must be there.
 *
 * Must never: time the fill, or count a vote as acknowledged before the child said so.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { BenchContext } from '../lib/context.ts';
import { fillEngine, fillPeer } from '../lib/fill.ts';
import { interleave, type Contender } from '../lib/interleave.ts';
import { LevelPeer, SqlitePeer, type PeerStore } from '../lib/peer-stores.ts';
import { loadPeers } from '../lib/peers.ts';
import { buildRow, type ResultRow, type RunResult } from '../lib/run-result.ts';
import { loadOpenStore, openEngine } from '../lib/systems.ts';
import { formatNumber } from '../lib/table.ts';
import { makeTempDir, removeTempDir } from '../lib/temp-dir.ts';

const VALIDATORS = 100;
const PER_ROUND = VALIDATORS * 2;
const CS = 'consensus-store';

function oneShot(ms: number, items: number): RunResult {
  const us = ms * 1000;
  return { latency: { count: 1, p50_us: us, p99_us: us, max_us: us, mean_us: us }, opsPerS: (items * 1000) / ms, loopDelayP99Us: NaN };
}

/** Opens a system, answers one query, closes; resolves with the open+query time and what it counted. */
type Opener = () => Promise<{ ms: number; count: number }>;

async function timeEngineOpen(dir: string, lastRound: number): Promise<{ ms: number; count: number }> {
  const t = performance.now();
  const store = await openEngine(dir, 'fsync');
  const count = await store.votes.countVotesForRound(lastRound);
  const ms = performance.now() - t;
  await store.close();
  return { ms, count };
}

async function timePeerOpen(open: () => Promise<PeerStore>, lastRound: number): Promise<{ ms: number; count: number }> {
  const t = performance.now();
  const peer = await open();
  const count = await peer.countForRound(lastRound);
  const ms = performance.now() - t;
  await peer.close();
  return { ms, count };
}

async function openAfter(ctx: BenchContext, votes: number, reps: number): Promise<ResultRow[]> {
  const peers = loadPeers((m) => ctx.log(m));
  const lastRound = Math.ceil(votes / PER_ROUND) - 1;
  const dirs: string[] = [];
  const openers = new Map<string, Opener>();
  try {
    const csDir = makeTempDir(`recovery-cs-${votes}`);
    dirs.push(csDir);
    const csMs = await fillEngine(csDir, votes, VALIDATORS);
    ctx.log(`  recovery: consensus-store filled with ${formatNumber(votes)} votes in ${(csMs / 1000).toFixed(1)} s`);
    openers.set(CS, () => timeEngineOpen(csDir, lastRound));
    if (peers.Sqlite !== undefined) {
      const Sqlite = peers.Sqlite;
      const dir = makeTempDir(`recovery-sqlite-${votes}`);
      dirs.push(dir);
      const peer = new SqlitePeer(Sqlite, `${dir}/votes.db`, { fast: true });
      const ms = await fillPeer(peer, votes, VALIDATORS);
      await peer.close();
      ctx.log(`  recovery: sqlite filled in ${(ms / 1000).toFixed(1)} s`);
      openers.set('sqlite (WAL, synchronous=FULL)', () => timePeerOpen(async () => new SqlitePeer(Sqlite, `${dir}/votes.db`), lastRound));
    }
    if (peers.Level !== undefined) {
      const Level = peers.Level;
      const dir = makeTempDir(`recovery-leveldb-${votes}`);
      dirs.push(dir);
      const peer = await LevelPeer.open(Level, dir, { fast: true });
      const ms = await fillPeer(peer, votes, VALIDATORS, 5000);
      await peer.close();
      ctx.log(`  recovery: leveldb filled in ${(ms / 1000).toFixed(1)} s`);
      openers.set('leveldb (sync: true)', () => timePeerOpen(() => LevelPeer.open(Level, dir), lastRound));
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
    const ref = { system: CS, concurrency: 1, runs: results.get(CS) ?? [] };
    return [...openers.keys()].map((name) =>
      buildRow({
        scenario: `recovery.open-${votes}`,
        sys: { system: name, concurrency: 1, runs: results.get(name) ?? [] },
        ...(name === CS ? {} : { reference: ref }),
        idleLoopDelayP99Us: NaN,
        ...(name === CS
          ? { target: { text: `<= ${formatNumber((1500 * votes) / 1_000_000)} ms`, met: (r: ResultRow) => r.p50_us <= 1.5 * votes } }
          : {}),
        note:
          name === CS
            ? `p50 = open + index rebuild + one count query; ops/s = votes made servable per second; last round counted ${counts.get(name) ?? '?'} votes`
            : `open + one count query (indexes are on disk, nothing to rebuild); ratio vs consensus-store; counted ${counts.get(name) ?? '?'}`,
      }),
    );
  } finally {
    for (const dir of dirs) removeTempDir(dir);
  }
}

/** Runs the writer child for `system` in `dir`, SIGKILLs it after `target` acks or `maxMs`; resolves with the acks seen. */
function killWriter(system: string, dir: string, target: number, maxMs: number): Promise<{ acked: number; ranMs: number }> {
  const child = fileURLToPath(new URL('../lib/kill-child.ts', import.meta.url));
  const tsx = import.meta.resolve('tsx');
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', tsx, child, system, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let acked = 0;
    let started = 0;
    let buffer = '';
    let stderr = '';
    let killed = false;
    const kill = (): void => {
      if (killed) return;
      killed = true;
      proc.kill('SIGKILL');
    };
    const timer = setTimeout(kill, maxMs + 15_000);
    proc.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line === 'ready') {
          started = performance.now();
          setTimeout(kill, maxMs);
        } else if (line.startsWith('acked ') && !killed) {
          acked = Math.max(acked, Number(line.slice(6)));
          if (acked >= target) kill();
        }
      }
    });
    proc.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve({ acked, ranMs: performance.now() - started });
      else reject(new Error(`writer child for ${system} exited with ${code} before the kill: ${stderr.split('\n').slice(-3).join(' ')}`));
    });
  });
}

async function afterKill(ctx: BenchContext, target: number, maxMs: number): Promise<string[][]> {
  const peers = loadPeers((m) => ctx.log(m));
  const cells: string[][] = [['system', 'acked before SIGKILL', 'found after reopen', 'acked votes lost', 'reopen + count ms', 'writer ran ms']];
  const systems: [string, (dir: string) => Promise<{ ms: number; count: number }>][] = [
    [
      CS,
      async (dir) => {
        const t = performance.now();
        const store = await openEngine(dir, 'fsync');
        const count = store.votes.size;
        const ms = performance.now() - t;
        await store.close();
        return { ms, count };
      },
    ],
  ];
  if (peers.Sqlite !== undefined) {
    const Sqlite = peers.Sqlite;
    systems.push([
      'sqlite',
      async (dir) => {
        const t = performance.now();
        const peer = new SqlitePeer(Sqlite, `${dir}/votes.db`);
        const count = Number(peer.db.prepare('SELECT count(*) FROM votes').pluck().get());
        const ms = performance.now() - t;
        await peer.close();
        return { ms, count };
      },
    ]);
  }
  if (peers.Level !== undefined) {
    const Level = peers.Level;
    systems.push([
      'leveldb',
      async (dir) => {
        const t = performance.now();
        const peer = await LevelPeer.open(Level, dir);
        const count = (await peer.db.keys({ gte: new Uint8Array([0x76]), lt: new Uint8Array([0x77]) }).all()).length;
        const ms = performance.now() - t;
        await peer.close();
        return { ms, count };
      },
    ]);
  }
  for (const [system, reopen] of systems) {
    const dir = makeTempDir(`kill-${system}`);
    try {
      ctx.log(`recovery: ${system} writer child, SIGKILL after ${target} acknowledged votes`);
      const { acked, ranMs } = await killWriter(system, dir, target, maxMs);
      const { ms, count } = await reopen(dir);
      const lost = Math.max(0, acked - count);
      cells.push([system, String(acked), String(count), lost === 0 ? '0' : `${lost} LOST`, ms.toFixed(1), ranMs.toFixed(0)]);
      if (system === CS && readdirSync(dir).length === 0) throw new Error('the writer child left no files');
    } finally {
      removeTempDir(dir);
    }
  }
  return cells;
}

/** Runs the recovery scenario. */
export async function runRecoveryScenario(ctx: BenchContext): Promise<void> {
  const open = await loadOpenStore();
  if (typeof open === 'string') {
    ctx.emitRecord({ scenario: 'recovery', skipped: true, reason: open }, `\n== recovery: skipped: store not available (${open})`);
    return;
  }
  const sizes = ctx.quick ? [10_000] : [100_000, 1_000_000];
  const reps = ctx.quick ? 1 : Math.min(ctx.reps, 3);
  for (const votes of sizes) {
    ctx.log(`recovery: open after ${formatNumber(votes)} votes`);
    ctx.emit(`recovery: open after ${formatNumber(votes)} votes, ready to answer (${reps} reps)`, await openAfter(ctx, votes, reps));
  }
  const cells = await afterKill(ctx, ctx.quick ? 100 : 3000, ctx.quick ? 800 : 5000);
  ctx.emitTable('recovery.sigkill', 'recovery: reopen after a real SIGKILL of the writer child (32 votes in flight, durable mode)', cells, [
    'acked: the child printed the count after those votes were acknowledged; lost must be 0',
  ]);
}
