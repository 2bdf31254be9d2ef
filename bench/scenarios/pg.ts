/**
 * `npm run bench -- pg`: the PostgreSQL backend (openPostgresStore) against the raw `pg` peer on
 * the same server in the same run (docs/postgres.md, "Measured"). PostgreSQL at PG_BENCH_URL
 * (default postgres://postgres@127.0.0.1:5432/test); the scenario is skipped when none answers.
 *
 * - durable vote, one at a time: `votes.appendVote` vs one INSERT per transaction (BEGIN, INSERT,
 *   COMMIT) on one connection; p50 / p99 in ms, the two interleaved in rounds;
 * - votes at 64 in flight: the store (its group commit: one transaction per batch) vs the naive
 *   writer (a pool of 16 connections, one autocommit INSERT per vote); votes/s;
 * - a guarded signature (`signGuard.signVote`, advancing steps) with 1 process, and with 4 signer
 *   processes racing on one key (each asks for every step; a refused request counts too):
 *   p50 / p99 of each call in ms.
 *
 * Must never: time an open, or leave its schemas behind.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { signVote } from '../../src/codec/vote-sign.ts';
import { openPostgresStore } from '../../src/pg/open.ts';
import type { ValidatorVote } from '../../src/model/vote.ts';
import type { BenchContext } from '../lib/context.ts';

const URL = process.env['PG_BENCH_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const CHAIN = 'bench-pg';
const NODE_KEY = { privateKey: new Uint8Array(32).fill(7) };

function pct(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

const fmt = (n: number): string => n.toFixed(2);

function votesOf(n: number, offset: number): ValidatorVote[] {
  const key = new Uint8Array(32).fill(9);
  return Array.from({ length: n }, (_, i) =>
    signVote({ validatorId: `val-${i % 100}`, height: offset + i, round: offset + i, voteType: 'prevote', blockHash: randomBytes(32), timestamp: 1_700_000_000_000 + i }, key, CHAIN),
  );
}

const PEER_TABLE = `CREATE TABLE IF NOT EXISTS %s.peer_votes (id bigserial PRIMARY KEY, validator_id text NOT NULL, height bigint NOT NULL, round bigint NOT NULL,
  vote_type smallint NOT NULL, block_hash bytea, ts bigint NOT NULL, signature bytea NOT NULL, recorded_at bigint NOT NULL)`;

function peerInsert(schema: string): string {
  return `INSERT INTO ${schema}.peer_votes (validator_id, height, round, vote_type, block_hash, ts, signature, recorded_at) VALUES ($1, $2, $3, 1, $4, $5, $6, $7)`;
}

function peerArgs(v: ValidatorVote): unknown[] {
  return [v.validatorId, v.height, v.round, Buffer.from(v.blockHash as Uint8Array), v.timestamp, Buffer.from(v.signature), Date.now()];
}

/** One signer child: `node --import tsx bench/scenarios/pg.ts --signer <schema> <steps>` prints its latencies as JSON. */
async function signerChild(schema: string, steps: number): Promise<void> {
  const store = await openPostgresStore({ connectionString: URL, schema, chainId: CHAIN, voteVerification: 'off', audit: { nodeKey: NODE_KEY }, signer: { validatorId: 'me', privateKey: new Uint8Array(32).fill(42), allowFreshState: true }, poolSize: 2 });
  const lat: number[] = [];
  for (let h = 1; h <= steps; h++) {
    const t = performance.now();
    await store.signGuard.signVote({ validatorId: 'me', height: h, round: h, voteType: 'prevote', blockHash: randomBytes(32), timestamp: h }).catch(() => undefined);
    lat.push(performance.now() - t);
  }
  process.stdout.write(`${JSON.stringify(lat)}\n`);
  await store.close();
}

function runSignerChildren(schema: string, n: number, steps: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, () =>
      new Promise<number[]>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'bench/scenarios/pg.ts', '--signer', schema, String(steps)], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim()) as number[]) : reject(new Error(`signer exited ${code}`))));
      }),
    ),
  ).then((all) => all.flat());
}

export async function runPgScenario(ctx: BenchContext): Promise<void> {
  const admin = new pg.Pool({ connectionString: URL, max: 17 });
  admin.on('error', () => undefined);
  try {
    await admin.query('SELECT 1');
  } catch (err) {
    ctx.emitRecord({ scenario: 'pg', skipped: true, reason: (err as Error).message }, `\n== pg: skipped: no PostgreSQL at ${URL}`);
    await admin.end();
    return;
  }
  const tag = randomBytes(4).toString('hex');
  const schema = `bench_pg_${tag}`;
  const peerSchema = `bench_peer_${tag}`;
  const signSchema = `bench_sign_${tag}`;
  const n = ctx.quick ? 300 : 2_000;
  try {
    await admin.query(`CREATE SCHEMA ${peerSchema}`);
    await admin.query(PEER_TABLE.replace('%s', peerSchema));
    const store = await openPostgresStore({ connectionString: URL, schema, chainId: CHAIN, voteVerification: 'off', audit: { nodeKey: NODE_KEY }, poolSize: 4 });
    const peer = await admin.connect();
    // 1. One durable vote at a time, interleaved in rounds of 50.
    const votes = votesOf(n, 1);
    const peerVotes = votesOf(n, 1);
    const storeLat: number[] = [];
    const peerLat: number[] = [];
    for (let i = 0; i < n; i += 50) {
      for (const v of votes.slice(i, i + 50)) {
        const t = performance.now();
        await store.votes.appendVote(v);
        storeLat.push(performance.now() - t);
      }
      for (const v of peerVotes.slice(i, i + 50)) {
        const t = performance.now();
        await peer.query('BEGIN');
        await peer.query(peerInsert(peerSchema), peerArgs(v));
        await peer.query('COMMIT');
        peerLat.push(performance.now() - t);
      }
    }
    peer.release();
    // 2. 64 in flight.
    const inflight = async (write: (v: ValidatorVote) => Promise<unknown>, all: ValidatorVote[]): Promise<number> => {
      let next = 0;
      const t = performance.now();
      await Promise.all(Array.from({ length: 64 }, async () => {
        while (next < all.length) await write(all[next++] as ValidatorVote);
      }));
      return all.length / ((performance.now() - t) / 1000);
    };
    const naivePool = new pg.Pool({ connectionString: URL, max: 16 });
    const storeRate = await inflight((v) => store.votes.appendVote(v), votesOf(n * 2, n + 10));
    const peerRate = await inflight((v) => naivePool.query(peerInsert(peerSchema), peerArgs(v)), votesOf(n * 2, n + 10));
    await naivePool.end();
    await store.close();
    // 3. Guarded signatures: 1 process (in this one), then 4 racing processes.
    const steps = ctx.quick ? 200 : 1_000;
    const signStore = await openPostgresStore({ connectionString: URL, schema: signSchema, chainId: CHAIN, audit: { nodeKey: NODE_KEY }, signer: { validatorId: 'me', privateKey: new Uint8Array(32).fill(42), state: 'new-key' }, poolSize: 2 });
    const one: number[] = [];
    for (let h = 1; h <= steps; h++) {
      const t = performance.now();
      await signStore.signGuard.signVote({ validatorId: 'me', height: h, round: h, voteType: 'prevote', blockHash: randomBytes(32), timestamp: h });
      one.push(performance.now() - t);
    }
    await signStore.close();
    const raceSchema = `${signSchema}_race`;
    await (await openPostgresStore({ connectionString: URL, schema: raceSchema, chainId: CHAIN, audit: { nodeKey: NODE_KEY } })).close();
    const four = await runSignerChildren(raceSchema, 4, steps);
    ctx.emitTable('pg', `PostgreSQL backend vs raw pg (${n} votes one at a time, ${n * 2} at 64 in flight, ${steps} signature steps)`, [
      ['measure', 'consensus-store on PostgreSQL', 'raw pg peer', 'ratio'],
      ['durable vote p50 (ms)', fmt(pct(storeLat, 50)), fmt(pct(peerLat, 50)), fmt(pct(storeLat, 50) / pct(peerLat, 50))],
      ['durable vote p99 (ms)', fmt(pct(storeLat, 99)), fmt(pct(peerLat, 99)), fmt(pct(storeLat, 99) / pct(peerLat, 99))],
      ['votes/s at 64 in flight', storeRate.toFixed(0), peerRate.toFixed(0), fmt(storeRate / peerRate)],
      ['guarded signature, 1 signer: p50 / p99 (ms)', `${fmt(pct(one, 50))} / ${fmt(pct(one, 99))}`, '', ''],
      ['guarded signature, 4 racing signers: p50 / p99 (ms)', `${fmt(pct(four, 50))} / ${fmt(pct(four, 99))}`, '', ''],
    ], ['raw pg peer: one BEGIN/INSERT/COMMIT per vote on one connection; at 64 in flight a pool of 16, one autocommit INSERT per vote.', '4 racing signers: every call of every process, refused ones included.']);
  } finally {
    for (const s of [schema, peerSchema, signSchema, `${signSchema}_race`]) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`).catch(() => undefined);
    await admin.end();
  }
}

if (process.argv[2] === '--signer') await signerChild(process.argv[3] as string, Number(process.argv[4]));
