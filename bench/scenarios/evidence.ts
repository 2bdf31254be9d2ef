/**
 * `npm run bench -- audit` (evidence line): `verifyEvidence` throughput, in evidence per second,
 * for stored equivocation evidence (two ed25519 signatures, the conflict rules, key lookup),
 * against the bare node:crypto ed25519 verify of the same 2N signatures (the floor) and against
 * @noble/ed25519 (the reference implementation, a short run only: it is ~10x slower).
 *
 * The evidence is written once to an in-memory log (durability plays no part in verification);
 * the timed loop only verifies. Must never: time the writing, or let the reference's slow run
 * dominate the scenario's wall time.
 */
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { verifyEd25519Fast } from '../../src/codec/evidence-verify.ts';
import { publicKeyOf, signVote, voteSignBytes } from '../../src/codec/vote-sign.ts';
import type { Log, LogRecord, Lsn, RecordInput } from '../../src/log/types.ts';
import { LogEvidenceStore } from '../../src/stores/evidence-store.ts';
import type { ValidatorVote } from '../../src/model/vote.ts';
import type { BenchContext } from '../lib/context.ts';

ed.hashes.sha512 = sha512;

/** What the scenario needs from the harness (a BenchContext satisfies it). */
export type EvidenceScenarioOptions = Pick<BenchContext, 'quick' | 'reps' | 'log' | 'emitRecord'>;

/** The figures of one scenario run (medians over the repetitions). */
export interface EvidenceScenarioResult {
  readonly evidence: number;
  /** `verifyEvidence(id)` calls per second. */
  readonly verifyEvidencePerS: number;
  /** Pairs of bare node:crypto verifies per second (two signatures, like one piece of evidence). */
  readonly floorPairsPerS: number;
  /** Pairs of @noble/ed25519 verifies per second. */
  readonly noblePairsPerS: number;
  /** verifyEvidencePerS / floorPairsPerS. */
  readonly ratioToFloor: number;
}

const CHAIN_ID = 'bench-chain';
const VALIDATORS = 100;

/** A log that keeps records in memory and acknowledges at once: enough to fill a store. */
function memoryLog(): Log {
  const records: LogRecord[] = [];
  let next = 1;
  const log: Log = {
    status: 'open',
    get nextLsn() {
      return next as Lsn;
    },
    openReport: { segmentsScanned: 0, recordsScanned: 0, batchesScanned: 0, tornBytesCut: 0, pendingRepairs: [], durationMs: 0 },
    async acknowledgeRepairs() {},
    async append(batch: readonly RecordInput[]) {
      return batch.map((r) => {
        records.push({ lsn: next as Lsn, kind: r.kind, payload: r.payload });
        return next++ as Lsn;
      });
    },
    async get(lsn: Lsn) {
      return records[lsn - 1];
    },
    async scan(visit) {
      for (const r of records) if (visit(r) === false) return;
    },
    async close() {},
    async [Symbol.asyncDispose]() {},
  };
  return log;
}

function keyOf(n: number): Uint8Array {
  const key = new Uint8Array(32);
  new DataView(key.buffer).setUint32(0, n + 1);
  return key;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? Number.NaN;
}

function opsPerSecond(count: number, body: (i: number) => unknown): number {
  const started = performance.now();
  for (let i = 0; i < count; i++) body(i);
  return (count / (performance.now() - started)) * 1000;
}

/**
 * Fills an evidence store with `count` verified equivocations (quick: 200, full: 5,000), then
 * measures `verifyEvidence` per second against the bare-verify floor and @noble/ed25519.
 * Emits one record and returns the figures.
 */
export async function runEvidenceScenario(opts: EvidenceScenarioOptions): Promise<EvidenceScenarioResult> {
  const count = opts.quick ? 200 : 5_000;
  const publicKeys = Array.from({ length: VALIDATORS }, (_, n) => publicKeyOf(keyOf(n)));
  const store = new LogEvidenceStore(
    { log: memoryLog(), now: () => 1_700_000_000_000 },
    { chainId: CHAIN_ID, publicKeyAt: (id) => publicKeys[Number(id.slice(4))] },
  );
  opts.log(`evidence: signing and recording ${count} equivocations`);
  const ids: string[] = [];
  const pairs: [ValidatorVote, ValidatorVote][] = [];
  for (let i = 0; i < count; i++) {
    const n = i % VALIDATORS;
    const base = { validatorId: `val-${n}`, height: i, round: i, voteType: 'precommit' as const, timestamp: 1_700_000_000_000 };
    const a = signVote({ ...base, blockHash: new Uint8Array(32).fill(1) }, keyOf(n), CHAIN_ID);
    const b = signVote({ ...base, blockHash: new Uint8Array(32).fill(2) }, keyOf(n), CHAIN_ID);
    pairs.push([a, b]);
    const { evidence } = await store.recordEvidence({
      type: 'Equivocation',
      validatorId: a.validatorId,
      height: i,
      detectedAt: 1_700_000_000_000,
      submittedBy: 'bench',
      verifiedByQuorum: false,
      details: { voteA: a, voteB: b },
    });
    ids.push(evidence.id);
  }
  const messages = pairs.map(([a, b]) => [voteSignBytes(a, CHAIN_ID), voteSignBytes(b, CHAIN_ID)] as const);
  const keyAt = (i: number): Uint8Array => publicKeys[i % VALIDATORS] as Uint8Array;
  const nobleCount = Math.max(50, count >> 4);
  const runs = { verify: [] as number[], floor: [] as number[], noble: [] as number[] };
  for (let rep = 0; rep < opts.reps; rep++) {
    const verdicts: Promise<unknown>[] = [];
    const started = performance.now();
    for (const id of ids) verdicts.push(store.verifyEvidence(id));
    await Promise.all(verdicts);
    runs.verify.push((count / (performance.now() - started)) * 1000);
    runs.floor.push(
      opsPerSecond(count, (i) => {
        const [a, b] = pairs[i] as [ValidatorVote, ValidatorVote];
        const [ma, mb] = messages[i] as readonly [Uint8Array, Uint8Array];
        return verifyEd25519Fast(a.signature, ma, keyAt(i)) && verifyEd25519Fast(b.signature, mb, keyAt(i));
      }),
    );
    runs.noble.push(
      opsPerSecond(nobleCount, (i) => {
        const [a, b] = pairs[i] as [ValidatorVote, ValidatorVote];
        const [ma, mb] = messages[i] as readonly [Uint8Array, Uint8Array];
        return ed.verify(a.signature, ma, keyAt(i), { zip215: false }) && ed.verify(b.signature, mb, keyAt(i), { zip215: false });
      }),
    );
  }
  const result: EvidenceScenarioResult = {
    evidence: count,
    verifyEvidencePerS: median(runs.verify),
    floorPairsPerS: median(runs.floor),
    noblePairsPerS: median(runs.noble),
    ratioToFloor: median(runs.verify) / median(runs.floor),
  };
  opts.emitRecord(
    { scenario: 'evidence.verifyEvidence', ...result },
    `verifyEvidence: ${Math.round(result.verifyEvidencePerS)} evidence/s ` +
      `(floor ${Math.round(result.floorPairsPerS)} signature pairs/s, ratio ${result.ratioToFloor.toFixed(2)}; ` +
      `@noble/ed25519 ${Math.round(result.noblePairsPerS)} pairs/s)`,
  );
  return result;
}
