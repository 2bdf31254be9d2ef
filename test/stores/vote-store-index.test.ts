// The vote store's columnar indexes: `SlotIndex` (a sorted slot list that turns into a B+tree
// on a far out-of-order insert) against a sorted-array model, and a LogVoteStore fed the same
// records in LSN order and shuffled, which must answer every query alike.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecordKind } from '../../src/codec/kinds.ts';
import { encodeVoteRecord } from '../../src/codec/vote-record.ts';
import type { LogRecord, Lsn } from '../../src/log/types.ts';
import { SlotIndex } from '../../src/btree/vote-slot-index.ts';
import { LogVoteStore } from '../../src/stores/vote-store.ts';
import type { ValidatorVote, VoteType } from '../../src/model/vote.ts';
import { hashOf } from '../../src/testing/conformance/vote-store.conformance.ts';
import { MemoryLog } from '../../src/log/memory-log.ts';

const seed = Number(process.env.FC_SEED ?? Date.now());

/** Slots 0 and 1 are probes (range bounds), as in the store; key[slot] orders slots, ties by slot. */
function harness(maxTailInsert: number) {
  const key: number[] = [0, 0];
  const compare = (a: number, b: number): number => key[a]! - key[b]! || (a === b ? 0 : a < 2 ? -1 : b < 2 ? 1 : a - b);
  return { key, index: new SlotIndex(compare, maxTailInsert), compare };
}

describe('SlotIndex against a sorted-array model', () => {
  it('agrees on inserts in any order (list and B+tree modes), ranges, counts, first and last', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 8 }),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 60 })), { maxLength: 300 }),
        fc.array(fc.tuple(fc.integer({ min: -2, max: 3100 }), fc.integer({ min: -2, max: 3100 }), fc.integer({ min: 1, max: 50 })), { maxLength: 20 }),
        (maxTail, inserts, queries) => {
          const { key, index, compare } = harness(maxTail);
          const model: number[] = [];
          let top = 0;
          for (const [ascending, k] of inserts) {
            const slot = key.length;
            // Mostly ascending keys (the replay shape), with random ones mixed in.
            key.push(ascending ? (top += k % 5) * 10 : k * 50);
            index.insert(slot);
            model.push(slot);
            model.sort(compare);
            expect(index.size).toBe(model.length);
          }
          for (const [lo, hi, limit] of queries) {
            key[0] = lo;
            key[1] = hi;
            // Probes sort before real slots of an equal key: [lo, hi) in key terms.
            const inRange = model.filter((s) => key[s]! >= lo && key[s]! < hi);
            expect(index.collect(0, 1, limit, undefined)).toEqual(inRange.slice(0, limit));
            expect(index.collect(0, 1, limit, (s) => s % 2 === 0)).toEqual(inRange.filter((s) => s % 2 === 0).slice(0, limit));
            expect(index.count(0, 1)).toBe(inRange.length);
            expect(index.first(0)).toBe(model.find((s) => key[s]! >= lo));
            expect(index.collectLast(limit)).toEqual([...model].reverse().slice(0, limit));
          }
          expect(index.first()).toBe(model[0]);
          expect(index.collect(0, 0, 0, undefined)).toEqual([]);
        },
      ),
      { seed, numRuns: 150 },
    );
  });

  it('stays a list for ascending and near-end inserts, and becomes a tree on a far one', () => {
    const { key, index } = harness(4);
    for (let i = 0; i < 100; i++) {
      key.push(i * 10);
      index.insert(key.length - 1);
    }
    key.push(955); // 5th from the end: within 4? no, 4 keys (960..990) are above it
    index.insert(key.length - 1);
    expect(index.isTree).toBe(false);
    key.push(5); // far: a tree from now on
    index.insert(key.length - 1);
    expect(index.isTree).toBe(true);
    expect(index.size).toBe(102);
    key[0] = 0;
    key[1] = 30;
    expect(index.collect(0, 1, 10, undefined).map((s) => key[s])).toEqual([0, 5, 10, 20]);
  });
});

const TYPES: readonly VoteType[] = ['prevote', 'precommit', 'commit'];

function vote(i: number): ValidatorVote {
  return {
    validatorId: `v${i % 7}`,
    height: 1000 - (i % 300),
    round: (i * 7919) % 500,
    voteType: TYPES[i % 3]!,
    blockHash: i % 5 === 0 ? null : hashOf(i % 4),
    timestamp: 1_700_000_000_000 + i,
    signature: new Uint8Array(64).fill(i % 251),
  };
}

async function everyAnswer(store: LogVoteStore): Promise<unknown[]> {
  const out: unknown[] = [store.size, await store.getRecentVotes(10_000), await store.getEarliestOpenRound()];
  for (let r = 0; r < 500; r += 37) {
    out.push(await store.getVotesForRound(r), await store.countVotesForRound(r), await store.countVotesForRound(r, 'precommit'));
  }
  for (let v = 0; v < 8; v++) {
    out.push(await store.getValidatorVotes(`v${v}`, { limit: 10_000 }), await store.getValidatorVotes(`v${v}`, { startRound: 100, endRound: 300 }));
    out.push(await store.voteExists(`v${v}`, 7919 % 500, 'precommit'), await store.queryVotes({ validatorId: `v${v}`, startHeight: 800, limit: 10_000 }));
  }
  out.push(await store.queryVotes({ startHeight: 750, endHeight: 900, limit: 10_000 }), await store.queryVotes({ voteType: 'commit', limit: 10_000 }));
  out.push(await store.queryVotes({ round: 7919 % 500, voteType: 'prevote' }));
  return out;
}

describe('LogVoteStore columns and indexes', () => {
  it('answers alike whether records arrive in LSN order or shuffled (far inserts turn the LSN, round and height indexes into B+trees)', async () => {
    const records: LogRecord[] = Array.from({ length: 5000 }, (_, i) => ({
      lsn: (i + 1) as Lsn,
      kind: RecordKind.Vote,
      payload: encodeVoteRecord(vote(i), 1_800_000_000_000 + i),
    }));
    const ordered = new LogVoteStore({ log: MemoryLog.open(), now: () => 0 }, { verification: 'off' });
    for (const r of records) ordered.apply(r);
    const shuffled = new LogVoteStore({ log: MemoryLog.open(), now: () => 0 }, { verification: 'off' });
    const order = records.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = (i * 2654435761) % (i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const i of order) shuffled.apply(records[i]!);
    expect(ordered['byLsn'].isTree).toBe(false);
    for (const name of ['byLsn', 'byRound', 'byHeight'] as const) expect(shuffled[name].isTree, name).toBe(true);
    const a = await everyAnswer(ordered);
    const b = await everyAnswer(shuffled);
    expect(b).toEqual(a);
    const recent = a[1] as { id: number; vote: ValidatorVote }[];
    expect(recent.map((e) => e.id)).toEqual(records.map((r) => r.lsn).reverse());
    expect(recent.at(-1)?.vote).toEqual(vote(0));
    const round = (await ordered.getVotesForRound(0)).map((e) => [e.vote.voteType, e.vote.validatorId, e.id]);
    expect(round).toEqual([...round].sort((x, y) => TYPES.indexOf(x[0] as VoteType) - TYPES.indexOf(y[0] as VoteType) || (x[1]! < y[1]! ? -1 : x[1]! > y[1]! ? 1 : 0) || (x[2] as number) - (y[2] as number)));
  });

  it('returns entries the caller owns: changing one changes nothing stored', async () => {
    const store = new LogVoteStore({ log: MemoryLog.open(), now: () => 0 }, { verification: 'off' });
    store.apply({ lsn: 1 as Lsn, kind: RecordKind.Vote, payload: encodeVoteRecord(vote(1), 5) });
    const [first] = await store.getRecentVotes(1);
    first!.vote.signature.fill(0);
    first!.vote.blockHash!.fill(9);
    const [again] = await store.getRecentVotes(1);
    expect(again!.vote).toEqual(vote(1));
  });
});
