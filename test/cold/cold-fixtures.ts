/**
 * Shared fixtures of the cold tier tests: vote-like records (the vote store's real encoding,
 * real-looking heights, rounds, timestamps, block hashes and random signatures), their keys,
 * generic records with keys carried beside them, and helpers to list a simulated disk.
 * Test support only: never imported by library code.
 */
import { RecordKind } from '../../src/codec/kinds.ts';
import { decodeFinalizedRecord, decodeVoteRecord, encodeFinalizedRecord, encodeVoteRecord } from '../../src/codec/vote-record.ts';
import type { ColdKeys, ColdRecord } from '../../src/cold/types.ts';
import { Prng } from '../../src/io/prng.ts';
import type { Lsn } from '../../src/model/log-record.ts';

/** Options of `voteRecords`. */
export interface VoteWorkload {
  readonly validators: number;
  readonly heights: number;
  readonly seed: number;
  /** First height (default 1). */
  readonly firstHeight?: number;
  /** LSN of the first record (default 1). */
  readonly firstLsn?: number;
  /** 'address': 40 hex characters (default); 'name': `validator-007`. */
  readonly ids?: 'address' | 'name';
}

function hex40(prng: Prng): string {
  let s = '';
  for (let i = 0; i < 20; i++) s += prng.int(0, 255).toString(16).padStart(2, '0');
  return s;
}

function randomBytes(prng: Prng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = prng.int(0, 255);
  return out;
}

/**
 * The records a validator set leaves per height: every validator's prevote and precommit (in
 * arrival order, shuffled), most for the height's block, a few for another hash or nil, then
 * the finalization mark; one height a second, votes within 400 ms of its start, recorded 1..40
 * ms after they were cast; the round (global) moves on now and then.
 */
export function voteRecords(w: VoteWorkload): ColdRecord[] {
  const prng = new Prng(w.seed);
  const ids = Array.from({ length: w.validators }, (_, i) => (w.ids === 'name' ? `validator-${String(i).padStart(3, '0')}` : hex40(prng)));
  const out: ColdRecord[] = [];
  let lsn = w.firstLsn ?? 1;
  let round = 0;
  const first = w.firstHeight ?? 1;
  for (let height = first; height < first + w.heights; height++) {
    if (prng.int(0, 9) === 0) round++;
    const start = 1_760_000_000_000 + height * 1000;
    const hashes = [randomBytes(prng, 32), randomBytes(prng, 32), randomBytes(prng, 32)];
    for (const voteType of ['prevote', 'precommit'] as const) {
      const order = ids.slice();
      for (let i = order.length - 1; i > 0; i--) {
        const j = prng.int(0, i);
        [order[i], order[j]] = [order[j] as string, order[i] as string];
      }
      for (const validatorId of order) {
        const pick = prng.int(0, 99);
        const blockHash = pick < 94 ? (hashes[0] as Uint8Array) : pick < 97 ? (hashes[1 + (pick & 1)] as Uint8Array) : null;
        const timestamp = start + prng.int(0, 400);
        const vote = { validatorId, height, round, voteType, blockHash, timestamp, signature: randomBytes(prng, 64) };
        out.push({ kind: RecordKind.Vote, lsn: lsn++ as Lsn, payload: encodeVoteRecord(vote, timestamp + prng.int(1, 40)) });
      }
    }
    out.push({ kind: RecordKind.Finalized, lsn: lsn++ as Lsn, payload: encodeFinalizedRecord(height, round, start + 900) });
  }
  return out;
}

/** The keys the vote store gives its records. */
export function voteKeys(r: ColdRecord): ColdKeys {
  if (r.kind === RecordKind.Vote) {
    const { vote } = decodeVoteRecord(r);
    return { height: vote.height, round: vote.round, validators: [vote.validatorId], time: vote.timestamp };
  }
  const f = decodeFinalizedRecord(r);
  return { height: f.height, round: f.round, time: f.recordedAt };
}

/** A generic record whose keys travel with it (for the property tests). */
export interface KeyedRecord {
  readonly record: ColdRecord;
  readonly keys: ColdKeys;
}

/** A keysOf over a table of keyed records, by LSN. */
export function keysFromTable(records: readonly KeyedRecord[]): (r: ColdRecord) => ColdKeys {
  const byLsn = new Map(records.map((k) => [k.record.lsn as number, k.keys]));
  return (r) => {
    const keys = byLsn.get(r.lsn);
    if (keys === undefined) throw new Error(`no keys for LSN ${r.lsn}`);
    return keys;
  };
}

/** True when `keys` of a record match `filter` (the record-level test a store applies after reading a block). */
export function recordMatches(kind: number, lsn: number, keys: ColdKeys, filter: import('../../src/cold/types.ts').ColdFilter): boolean {
  const inRange = (v: number | undefined, range: readonly [number, number] | undefined): boolean =>
    range === undefined || (v !== undefined && v >= range[0] && v <= range[1]);
  if (filter.kinds !== undefined && !filter.kinds.includes(kind)) return false;
  if (!inRange(keys.height, filter.height) || !inRange(keys.round, filter.round) || !inRange(keys.time, filter.time)) return false;
  if (!inRange(lsn, filter.lsn)) return false;
  if (filter.validator !== undefined && !(keys.validators ?? []).includes(filter.validator)) return false;
  return true;
}

/** The data directory of the cold tests on the simulated disk. */
export const STORE = '/store';
/** Its cold directory. */
export const COLD = '/store/cold';
/** The chain of the cold tests. */
export const CHAIN = 'cold-test-chain';

/** Every file under the cold directory of `disk`, names only, sorted. */
export function coldFilesOn(disk: import('../../src/io/sim-disk.ts').SimulatedDisk): string[] {
  return disk
    .listFiles()
    .filter((p) => p.startsWith(`${COLD}/`))
    .map((p) => p.slice(COLD.length + 1))
    .sort();
}

/** Expects `promise` to reject with a ConsensusStoreError of `code`; returns it. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<import('../../src/errors.ts').ConsensusStoreError> {
  try {
    await promise;
  } catch (err) {
    const e = err as import('../../src/errors.ts').ConsensusStoreError;
    if (e?.name !== 'ConsensusStoreError' || e.code !== code) throw new Error(`expected ${code}, got ${String(err)}`, { cause: err });
    return e;
  }
  throw new Error(`expected ${code}, but it resolved`);
}

/** '' when `got` and `want` hold the same records (kind, LSN, payload bytes) in the same order; else the first difference. */
export function recordsDiffer(got: readonly ColdRecord[], want: readonly ColdRecord[]): string {
  if (got.length !== want.length) return `${got.length} records, expected ${want.length}`;
  for (let i = 0; i < got.length; i++) {
    const a = got[i]!;
    const b = want[i]!;
    if (a.kind !== b.kind || a.lsn !== b.lsn || Buffer.compare(a.payload, b.payload) !== 0) {
      return `record ${i}: kind ${a.kind} LSN ${a.lsn} (${a.payload.length} bytes), expected kind ${b.kind} LSN ${b.lsn} (${b.payload.length} bytes)`;
    }
  }
  return '';
}
