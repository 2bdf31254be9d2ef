/**
 * `npm run bench -- cpu` (docs/bench-notes.md, The scenarios): the CPU cost of what every durable vote pays
 * for, per operation, with tinybench: encoding a vote record (the store's codec; msgpackr on
 * the same object for comparison), its sign bytes, CRC32C of a 200-byte record and of a 4 KiB
 * batch, SHA-256 (node:crypto and @noble/hashes), and ed25519 sign and verify (node:crypto, the
 * engine's fast path, and @noble/ed25519, the reference). Each pair is shown with its ratio
 * (node:crypto over @noble, or the store's codec over msgpackr). Nothing here touches the disk.
 *
 * Must never: let the engine's own checks (input validation) differ between the compared pair.
 */
import { createHash } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { pack } from 'msgpackr';
import { Bench } from 'tinybench';
import { crc32c } from '../../src/codec/crc32c.ts';
import { generateNodeKey, signEd25519, signEd25519Reference, verifyEd25519, verifyEd25519Reference } from '../../src/codec/node-key.ts';
import { encodeVoteRecord } from '../../src/codec/vote-record.ts';
import { voteSignBytes } from '../../src/codec/vote-sign.ts';
import type { BenchContext } from '../lib/context.ts';
import { buildRow, type ResultRow, type RunResult } from '../lib/run-result.ts';
import { VoteFactory } from '../lib/workload.ts';

/** Runs the CPU scenario. */
export async function runCpuScenario(ctx: BenchContext): Promise<void> {
  const timeMs = ctx.quick ? 30 : 250;
  const vote = new VoteFactory(100).next();
  const record = encodeVoteRecord(vote, Date.now());
  const small = new Uint8Array(200).fill(7);
  const batch = new Uint8Array(4096).fill(9);
  const key = generateNodeKey();
  const message = voteSignBytes(vote, 'bench-chain');
  const signature = signEd25519(message, key.privateKey);
  // [name, fn, reference name or undefined]
  const tasks: [string, () => unknown, string | undefined][] = [
    ['msgpackr pack(vote object)', () => pack(vote), undefined],
    ['encodeVoteRecord (store codec)', () => encodeVoteRecord(vote, 1), 'msgpackr pack(vote object)'],
    ['voteSignBytes', () => voteSignBytes(vote, 'bench-chain'), undefined],
    ['CRC32C 200 B', () => crc32c(small), undefined],
    ['CRC32C 4 KiB', () => crc32c(batch), undefined],
    ['SHA-256 200 B @noble/hashes', () => sha256(small), undefined],
    ['SHA-256 200 B node:crypto', () => createHash('sha256').update(small).digest(), 'SHA-256 200 B @noble/hashes'],
    ['ed25519 sign @noble/ed25519', () => signEd25519Reference(message, key.privateKey), undefined],
    ['ed25519 sign node:crypto', () => signEd25519(message, key.privateKey), 'ed25519 sign @noble/ed25519'],
    ['ed25519 verify @noble/ed25519', () => verifyEd25519Reference(signature, message, key.publicKey), undefined],
    ['ed25519 verify node:crypto', () => verifyEd25519(signature, message, key.publicKey), 'ed25519 verify @noble/ed25519'],
  ];
  ctx.log(`cpu: ${tasks.length} operations, tinybench ${timeMs} ms each (record ${record.length} bytes)`);
  const bench = new Bench({ time: timeMs, warmupTime: Math.min(50, timeMs) });
  for (const [name, fn] of tasks) bench.add(name, fn);
  await bench.run();
  const runs = new Map<string, RunResult>();
  for (const task of bench.tasks) {
    const r = task.result;
    const latency = 'latency' in r ? r.latency : undefined;
    runs.set(task.name, {
      latency: {
        count: latency?.samplesCount ?? 0,
        p50_us: (latency?.p50 ?? NaN) * 1000,
        p99_us: (latency?.p99 ?? NaN) * 1000,
        max_us: (latency?.max ?? NaN) * 1000,
        mean_us: (latency?.mean ?? NaN) * 1000,
      },
      opsPerS: 'throughput' in r ? r.throughput.mean : NaN,
      loopDelayP99Us: NaN,
    });
  }
  const rows: ResultRow[] = tasks.map(([name, , ref]) => {
    const sys = { system: name, concurrency: 1, runs: [runs.get(name) as RunResult] };
    const reference = ref === undefined ? undefined : { system: ref, concurrency: 1, runs: [runs.get(ref) as RunResult] };
    return buildRow({ scenario: 'cpu', sys, ...(reference === undefined ? {} : { reference }), idleLoopDelayP99Us: NaN });
  });
  ctx.emit(`cpu: cost per operation (tinybench, ${timeMs} ms each; p50/p99 per call)`, rows);
}
