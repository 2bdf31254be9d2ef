// The vote store across the hot and cold tiers (docs/stores.md, "Bounded history"): the same
// random workload of votes and finalization marks goes to a store that is never compacted and to
// one compacted at random points into a MemoryColdTier (captureCold inside log.capture, the
// records into the tier, then evictCold), closed and reopened (evictCold first, then an image,
// possibly older than the cut, or a replay); every query must answer alike, to the byte. Then:
// hot-only queries read no cold block, a damaged block fails only what needs it, eviction frees
// memory, the write path decides against cold votes and marks, and every error path.
// Property runs print their seed (replay with VOTE_COLD_SEED=<seed>).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConsensusStoreError, isStoreError } from '../../src/errors.ts';
import { RecordKind } from '../../src/codec/kinds.ts';
import { encodeFinalizedRecord, encodeVoteRecord } from '../../src/codec/vote-record.ts';
import { ImageReader, ImageWriter } from '../../src/codec/image-section.ts';
import { MemoryColdTier } from '../../src/cold/memory-tier.ts';
import { NO_CUT } from '../../src/cold/types.ts';
import type { ColdBlockRef, ColdCut, ColdFilter, ColdRecord, ColdTier } from '../../src/cold/types.ts';
import { MemoryLog } from '../../src/log/memory-log.ts';
import type { Lsn } from '../../src/log/types.ts';
import { LogVoteStore } from '../../src/stores/vote-store.ts';
import type { VoteBatchEvent } from '../../src/stores/vote-types.ts';
import { VOTE_TYPES } from '../../src/model/vote.ts';
import type { ValidatorVote } from '../../src/model/vote.ts';
import type { BlockHashes, ValidatorIds, VoteColumns } from '../../src/btree/vote-columns.ts';

const seed = Number(process.env['VOTE_COLD_SEED'] ?? Date.now() % 2 ** 31);
console.log(`vote-cold property seed ${seed} (replay with VOTE_COLD_SEED=${seed})`);

const VALIDATORS = ['a', 'b', 'c', 'd'];
const LIMITS = { defaultQueryLimit: 4, maxQueryLimit: 50, maxRoundVotes: 5 };

function vote(validatorId: string, height: number, round: number, type: number, hash: number | null, timestamp = 1_000): ValidatorVote {
  return {
    validatorId,
    height,
    round,
    voteType: VOTE_TYPES[type]!,
    blockHash: hash === null ? null : new Uint8Array(32).fill(hash),
    timestamp,
    signature: new Uint8Array(64).fill(7),
  };
}

/** One store on its log, with its clock, its tier and cut (the compacted side), and its last saved image. */
interface Side {
  readonly log: MemoryLog;
  readonly clock: { t: number };
  store: LogVoteStore;
  tier: MemoryColdTier | undefined;
  cut: ColdCut;
  image: { bytes: Uint8Array; last: number } | undefined;
}

function newStore(log: MemoryLog, clock: { t: number }): LogVoteStore {
  return new LogVoteStore({ log, now: () => clock.t++ }, { verification: 'off', limits: LIMITS });
}

function side(cold: boolean): Side {
  const log = MemoryLog.open();
  const clock = { t: 5_000 };
  return { log, clock, store: newStore(log, clock), tier: cold ? new MemoryColdTier() : undefined, cut: NO_CUT, image: undefined };
}

/** Moves what is cold under (height, LSN last - back) to the tier, then evicts it (the compactor's steps). */
async function compact(s: Side, height: number, back: number, blockRecords: number): Promise<void> {
  const tier = s.tier!;
  const { next, produce } = await s.log.capture((last) => {
    const next = { height: Math.max(s.cut.height, height), lsn: Math.max(s.cut.lsn, last - back) };
    return { next, produce: s.store.captureCold(s.cut, next) };
  });
  const records: ColdRecord[] = [];
  for await (const r of produce()) records.push(r);
  tier.add(records, (r) => s.store.coldKeys(r.kind, r.payload), next, blockRecords);
  s.store.evictCold(next, tier);
  s.cut = next;
}

async function saveImage(s: Side): Promise<void> {
  s.image = await s.log.capture((last) => {
    const w = new ImageWriter();
    s.store.captureImage()(w);
    return { bytes: w.finish(), last };
  });
}

/** A fresh store on the same log: evictCold(cut, tier) first, then the saved image and the log after it, or the whole log. */
async function reopen(s: Side, useImage: boolean): Promise<void> {
  const fresh = newStore(s.log, s.clock);
  if (s.tier !== undefined) fresh.evictCold(s.cut, s.tier);
  let from = 1;
  if (useImage && s.image !== undefined) {
    fresh.loadImage(new ImageReader(s.image.bytes));
    from = s.image.last + 1;
  }
  await s.log.scan((r) => {
    if (fresh.kinds.includes(r.kind)) fresh.apply(r);
  }, from as Lsn);
  s.store = fresh;
}

/** What a call answered: its value, or its error's code and message. */
async function outcome<T>(p: Promise<T>): Promise<T | { error: string }> {
  return p.then(
    (v) => v,
    (err: unknown) => ({ error: err instanceof ConsensusStoreError ? `${err.code}: ${err.message}` : String(err) }),
  );
}

/** Every query of the VoteStore interface, with limits, orders and the edges of `cut`. */
async function answers(store: LogVoteStore, cut: ColdCut): Promise<unknown[]> {
  const out: unknown[] = [store.size, await store.getEarliestOpenRound(), await store.getLastFinalized()];
  for (let r = 0; r <= 9; r++) {
    out.push(await store.getVotesForRound(r), await store.getVotesForRound(r, { limit: 2 }), await store.countVotesForRound(r));
    for (const t of VOTE_TYPES) out.push(await store.countVotesForRound(r, t));
  }
  for (const v of [...VALIDATORS, 'nobody']) {
    out.push(await store.getValidatorVotes(v), await store.getValidatorVotes(v, { limit: 50 }), await store.getValidatorVotes(v, { startRound: 3, endRound: 6, limit: 2 }));
    out.push(await store.getValidatorVotes(v, { startRound: 5, limit: 1 }));
    for (const r of [0, 2, 5]) for (const t of VOTE_TYPES) out.push(await store.voteExists(v, r, t));
    out.push(await store.queryVotes({ validatorId: v }), await store.queryVotes({ validatorId: v, voteType: 'precommit', limit: 50 }));
    out.push(await store.queryVotes({ validatorId: v, round: 3 }), await store.queryVotes({ validatorId: v, startHeight: 2, endHeight: 5, limit: 3 }));
  }
  for (const n of [1, 2, 3, 7, 50]) out.push(await store.getRecentVotes(n), await store.getRecentVotes(n, { order: 'chronological' }));
  out.push(await store.getRecentVotes());
  out.push(await store.queryVotes({}), await store.queryVotes({ limit: 50 }), await store.queryVotes({ startHeight: 2, endHeight: 5, limit: 50 }));
  out.push(await store.queryVotes({ voteType: 'prevote', limit: 3 }), await store.queryVotes({ endHeight: 3, limit: 3 }));
  for (let r = 0; r <= 9; r += 3) out.push(await store.queryVotes({ round: r, limit: 50 }), await store.queryVotes({ round: r, voteType: 'prevote', limit: 1 }));
  const h = cut.height;
  for (const [lo, hi] of [[Math.max(0, h - 1), h], [h, h], [Math.max(0, h - 1), Math.max(0, h - 1)], [0, Math.max(0, h - 1)]] as const) {
    out.push(await store.queryVotes({ startHeight: lo, endHeight: hi, limit: 50 }), await store.queryVotes({ startHeight: lo, endHeight: hi, limit: 1 }));
  }
  return out;
}

type Op =
  | { op: 'vote'; v: number; height: number; round: number; type: number; hash: number | null; ts: number }
  | { op: 'finalize'; height: number; round: number }
  | { op: 'compact'; height: number; back: number }
  | { op: 'image' }
  | { op: 'reopen'; image: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant('vote' as const), v: fc.nat(3), height: fc.nat(9), round: fc.nat(9), type: fc.nat(2), hash: fc.option(fc.nat(2)), ts: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('finalize' as const), height: fc.nat(9), round: fc.nat(9) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('compact' as const), height: fc.nat(11), back: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('image' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reopen' as const), image: fc.boolean() }) },
);

describe('the vote store across tiers (model-based)', () => {
  it('answers every query alike, compacted at random points or never, through reopens', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.array(opArb, { minLength: 1, maxLength: 40 }), async (blockRecords, ops) => {
        const plain = side(false);
        const cold = side(true);
        for (const o of ops) {
          if (o.op === 'vote') {
            const v = vote(VALIDATORS[o.v]!, o.height, o.round, o.type, o.hash, o.ts);
            expect(await outcome(cold.store.appendVote(v))).toEqual(await outcome(plain.store.appendVote(v)));
          } else if (o.op === 'finalize') {
            expect(await outcome(cold.store.markFinalized(o.height, o.round))).toEqual(await outcome(plain.store.markFinalized(o.height, o.round)));
          } else if (o.op === 'compact') {
            await compact(cold, o.height, o.back, blockRecords);
          } else if (o.op === 'image') {
            await saveImage(cold);
          } else {
            await reopen(cold, o.image);
          }
          expect(await answers(cold.store, cold.cut)).toEqual(await answers(plain.store, cold.cut));
        }
        // Exactly what memory holds plus what the tier holds: every vote once.
        expect(cold.store.residentVotes + (cold.tier?.countOf(RecordKind.Vote) ?? 0)).toBe(plain.store.size);
      }),
      { seed, numRuns: 60 },
    );
  }, 120_000);
});

/** A tier that counts `blocks` calls and can fail the read of chosen blocks. */
class WatchedTier implements ColdTier {
  blockCalls = 0;
  damaged: ((b: ColdBlockRef) => boolean) | undefined;
  /** When set, `blocks` answers from the blocks of the moment it was called, once the gate opens. */
  gate: Promise<void> | undefined;
  readonly error = new ConsensusStoreError('CORRUPTION', 'block checksum mismatch (file memory-1, offset 3)', { location: { file: 'memory-1', offset: 3 } });
  constructor(readonly inner: MemoryColdTier) {}
  get cut(): ColdCut {
    return this.inner.cut;
  }
  countOf(kind: number): number {
    return this.inner.countOf(kind);
  }
  blocks(filter: ColdFilter): Promise<ColdBlockRef[]> {
    this.blockCalls++;
    const now = this.inner.blocks(filter);
    const gate = this.gate;
    return gate === undefined ? now : gate.then(() => now);
  }
  read(block: ColdBlockRef): Promise<ColdRecord[]> {
    if (this.damaged?.(block) === true) return Promise.reject(this.error);
    return this.inner.read(block);
  }
}

/**
 * A store with votes of validators a, b, c at heights 0..5 (round = height, prevotes), marks at
 * heights 0..5, compacted at height 3 (heights 0..2 cold, in blocks of 3: one round a block),
 * then votes at heights 6 and 7 (above the cut's LSN).
 */
async function compactedStore(): Promise<{ s: Side; tier: WatchedTier }> {
  const s = side(true);
  for (let h = 0; h <= 5; h++) {
    for (const v of ['a', 'b', 'c']) await s.store.appendVote(vote(v, h, h, 0, h));
    await s.store.markFinalized(h, h);
  }
  const inner = s.tier!;
  const tier = new WatchedTier(inner);
  const { next, produce } = await s.log.capture((last) => {
    const next = { height: 3, lsn: last };
    return { next, produce: s.store.captureCold(NO_CUT, next) };
  });
  const records: ColdRecord[] = [];
  for await (const r of produce()) if (r.kind === RecordKind.Vote) records.push(r);
  inner.add(records, (r) => s.store.coldKeys(r.kind, r.payload), next, 3);
  const marks: ColdRecord[] = [];
  for await (const r of produce()) if (r.kind === RecordKind.Finalized) marks.push(r);
  inner.add(marks, (r) => s.store.coldKeys(r.kind, r.payload), next, 3);
  s.store.evictCold(next, tier);
  s.cut = next;
  for (let h = 6; h <= 7; h++) for (const v of ['a', 'b', 'c']) await s.store.appendVote(vote(v, h, h, 0, h));
  return { s, tier };
}

describe('what a query reads', () => {
  it('a query that needs only hot data reads no cold block; one below the cut reads exactly its blocks', async () => {
    const { s, tier } = await compactedStore();
    const store = s.store;
    expect(store.size).toBe(24);
    expect(store.residentVotes).toBe(15);
    const before = tier.inner.reads;
    expect((await store.getVotesForRound(4)).map((e) => e.vote.validatorId)).toEqual(['a', 'b', 'c']);
    expect((await store.getValidatorVotes('a', { startRound: 3 })).map((e) => e.vote.round)).toEqual([3, 4, 5, 6]);
    expect((await store.getRecentVotes(3)).map((e) => e.vote.height)).toEqual([7, 7, 7]);
    expect((await store.queryVotes({ startHeight: 3, limit: 50 })).length).toBe(15);
    expect(await store.countVotesForRound(5)).toBe(3);
    expect(await store.voteExists('a', 4, 'prevote')).toBe(true);
    expect(await store.voteExists('a', 4, 'precommit')).toBe(false);
    expect(await store.getEarliestOpenRound()).toBe(6);
    expect((await store.getLastFinalized())?.height).toBe(5);
    const calls = tier.blockCalls;
    const stored = await store.appendVote(vote('d', 8, 8, 1, 8));
    expect(stored.outcome).toBe('stored');
    expect(tier.blockCalls).toBe(calls);
    expect(tier.inner.reads).toBe(before);
    // Below the cut: round 1's one block.
    const round1 = await store.getVotesForRound(1);
    expect(round1.map((e) => [e.vote.validatorId, e.vote.height, e.id])).toEqual([
      ['a', 1, 5],
      ['b', 1, 6],
      ['c', 1, 7],
    ]);
    expect(round1[0]!.vote.blockHash).toEqual(new Uint8Array(32).fill(1));
    expect(tier.inner.reads).toBe(before + 1);
    expect(await store.countVotesForRound(0, 'prevote')).toBe(3);
    expect(await store.voteExists('c', 2, 'prevote')).toBe(true);
    expect(store.size).toBe(25);
  });

  it("a validator's first page and the newest votes read only the blocks they need", async () => {
    const s = side(true);
    for (let r = 0; r < 30; r++) await s.store.appendVote(vote('a', r, r, 0, r % 3));
    await compact(s, 30, 0, 2);
    const tier = s.tier!;
    expect(s.store.residentVotes).toBe(0);
    let before = tier.reads;
    expect((await s.store.getValidatorVotes('a', { limit: 3 })).map((e) => e.vote.round)).toEqual([0, 1, 2]);
    expect(tier.reads - before).toBe(2);
    before = tier.reads;
    expect((await s.store.getValidatorVotes('a', { startRound: 22, endRound: 25, limit: 2 })).map((e) => e.vote.round)).toEqual([22, 23]);
    expect(tier.reads - before).toBe(1);
    before = tier.reads;
    expect((await s.store.getRecentVotes(3)).map((e) => e.id)).toEqual([30, 29, 28]);
    expect(tier.reads - before).toBe(2);
    before = tier.reads;
    expect((await s.store.queryVotes({ startHeight: 10, limit: 1 })).map((e) => e.vote.height)).toEqual([10]);
    expect(tier.reads - before).toBe(1);
  });
});

describe('a damaged cold block', () => {
  it('fails only the queries and writes that need it, with the CORRUPTION of the tier', async () => {
    const { s, tier } = await compactedStore();
    const store = s.store;
    tier.damaged = (b) => b.kinds.includes(RecordKind.Vote) && b.minRound === 1;
    const fails = async (p: Promise<unknown>): Promise<void> => {
      await expect(p).rejects.toBe(tier.error);
    };
    await fails(store.getVotesForRound(1));
    await fails(store.countVotesForRound(1));
    await fails(store.voteExists('a', 1, 'prevote'));
    await fails(store.getValidatorVotes('a', { startRound: 1, endRound: 1 }));
    await fails(store.queryVotes({ round: 1 }));
    await fails(store.queryVotes({ startHeight: 1, endHeight: 1 }));
    const next = s.log.nextLsn;
    await fails(store.appendVote(vote('a', 1, 1, 0, 9)));
    expect(s.log.nextLsn).toBe(next);
    expect((await store.getVotesForRound(2)).length).toBe(3);
    expect((await store.getValidatorVotes('a', { limit: 1 })).map((e) => e.vote.round)).toEqual([0]);
    expect((await store.getVotesForRound(4)).length).toBe(3);
    expect((await store.getRecentVotes(2)).length).toBe(2);
    expect((await store.appendVote(vote('a', 2, 2, 1, 2))).outcome).toBe('stored');
  });

  it('a cold record that does not decode is CORRUPTION naming its LSN', async () => {
    const s = side(true);
    const tier = s.tier!;
    const bad: ColdRecord = { kind: RecordKind.Vote, lsn: 4 as Lsn, payload: new Uint8Array(10) };
    tier.add([bad], () => ({ height: 0, round: 0, validators: ['a'] }), { height: 1, lsn: 4 }, 4);
    s.store.evictCold({ height: 1, lsn: 4 }, tier);
    await expect(s.store.getVotesForRound(0)).rejects.toThrow(/record 4 \(kind 1\)/);
    await expect(s.store.getVotesForRound(0)).rejects.toMatchObject({ code: 'CORRUPTION' });
  });
});

describe('eviction frees memory', () => {
  it('rebuilds the columns from the hot slots and drops ids and hashes no hot vote names', async () => {
    const s = side(true);
    for (let i = 0; i < 3000; i++) await s.store.appendVote(vote(i < 2990 ? `old-${i % 50}` : 'new', i, i, 0, i % 200));
    const inner = s.store as unknown as { cols: VoteColumns; ids: ValidatorIds; hashes: BlockHashes };
    expect(inner.cols.capacity).toBe(4096);
    await compact(s, 2990, 0, 64);
    expect(s.store.residentVotes).toBe(10);
    expect(s.store.size).toBe(3000);
    expect(inner.cols.capacity).toBe(1024);
    expect(inner.cols.count).toBe(12);
    expect(inner.ids.names).toEqual(['', 'new']);
    expect(inner.hashes.size).toBe(10);
    expect((await s.store.getValidatorVotes('new', { limit: 50 })).map((e) => e.vote.round)).toEqual([2990, 2991, 2992, 2993, 2994, 2995, 2996, 2997, 2998, 2999]);
    expect((await s.store.getValidatorVotes('old-7', { limit: 2 })).map((e) => e.vote.round)).toEqual([7, 57]);
  });
});

describe('the write path across tiers', () => {
  it('an identical cold vote is a duplicate and a conflicting one an equivocation naming it', async () => {
    const { s } = await compactedStore();
    const events: VoteBatchEvent[] = [];
    s.store.setBatchContributors([(e) => void events.push(e)]);
    const next = s.log.nextLsn;
    const dup = await s.store.appendVote(vote('b', 1, 1, 0, 1, 99));
    expect(dup).toEqual({ id: 6, vote: vote('b', 1, 1, 0, 1), timestamp: 1_000, recordedAt: 5_005, outcome: 'duplicate', conflictsWith: [] });
    expect(s.log.nextLsn).toBe(next);
    const eq = await s.store.appendVote(vote('b', 1, 1, 0, 7));
    expect(eq.outcome).toBe('equivocation');
    expect(eq.conflictsWith).toEqual([{ id: 6, vote: vote('b', 1, 1, 0, 1), timestamp: 1_000, recordedAt: 5_005 }]);
    expect(events.map((e) => [e.outcome, e.conflictsWith.map((c) => c.id)])).toEqual([['equivocation', [6]]]);
    // Both are stored now: the cold one and the hot one, in (type, validator, LSN) order.
    expect((await s.store.getVotesForRound(1)).map((e) => e.id)).toEqual([5, 6, eq.id, 7]);
    const third = await s.store.appendVote(vote('b', 1, 1, 0, null));
    expect(third.conflictsWith.map((c) => c.id)).toEqual([6, eq.id]);
  });

  it('a vote whose cold lookup spans an eviction looks again: the vote the eviction moved is still its conflict', async () => {
    const { s, tier } = await compactedStore();
    const first = await s.store.appendVote(vote('a', 5, 2, 1, 5));
    expect(first.outcome).toBe('stored');
    let open: () => void = () => undefined;
    tier.gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const pending = s.store.appendVote(vote('a', 5, 2, 1, 6));
    await new Promise((resolve) => setImmediate(resolve));
    await compact(s, 6, 0, 3);
    expect(s.store.residentVotes).toBe(6);
    open();
    const result = await pending;
    expect(result.outcome).toBe('equivocation');
    expect(result.conflictsWith).toEqual([{ id: first.id, vote: vote('a', 5, 2, 1, 5), timestamp: 1_000, recordedAt: first.recordedAt }]);
  });

  it('a cold mark answers a repeat and refuses another round, with no mark in memory', async () => {
    const { s, tier } = await compactedStore();
    const before = tier.inner.reads;
    expect(await s.store.markFinalized(1, 1)).toEqual({ id: 8, height: 1, round: 1, recordedAt: 5_007 });
    expect(tier.inner.reads).toBe(before + 1);
    await expect(s.store.markFinalized(1, 2)).rejects.toThrow('height 1 was finalized in round 1, not 2');
    await expect(s.store.markFinalized(4, 3)).rejects.toThrow('height 4 was finalized in round 4, not 3');
    await expect(s.store.markFinalized(5, 4)).rejects.toThrow('height 5 was finalized in round 5, not 4');
    expect(s.store.finalizedMarks(0, 10).map((m) => m.height)).toEqual([3, 4, 5]);
  });

  it('a store opened on the cold tier alone (every record cold, none left in the log) finds its last mark and its votes there', async () => {
    const s = side(true);
    for (let h = 0; h <= 4; h++) {
      await s.store.appendVote(vote('a', h, h, 0, h));
      await s.store.appendVote(vote('b', h, h + 1, 1, null));
      await s.store.markFinalized(h, h);
    }
    await compact(s, 10, 0, 2);
    expect(s.store.residentVotes).toBe(0);
    const fresh = newStore(s.log, s.clock);
    fresh.evictCold(s.cut, s.tier!);
    const before = s.tier!.reads;
    expect(await fresh.getLastFinalized()).toEqual({ id: 15, height: 4, round: 4, recordedAt: 5_014 });
    expect(s.tier!.reads - before).toBe(1);
    expect(await fresh.getLastFinalized()).toEqual(await s.store.getLastFinalized());
    expect(fresh.size).toBe(10);
    expect(await fresh.getEarliestOpenRound()).toBe(5);
    expect(await s.store.getEarliestOpenRound()).toBe(5);
    expect(await fresh.getVotesForRound(2)).toEqual(await s.store.getVotesForRound(2));
    expect(await fresh.markFinalized(2, 2)).toEqual({ id: 9, height: 2, round: 2, recordedAt: 5_008 });
    await expect(fresh.markFinalized(3, 2)).rejects.toThrow('height 3 was finalized in round 3, not 2');
    await expect(fresh.markFinalized(4, 3)).rejects.toThrow('height 4 was finalized in round 4, not 3');
    expect((await fresh.markFinalized(5, 5)).height).toBe(5);
  });
});

describe('error paths', () => {
  const code = async (fn: () => unknown): Promise<string> => {
    try {
      await fn();
      return 'ok';
    } catch (err) {
      return isStoreError(err) ? `${err.code} ${err.message}` : String(err);
    }
  };

  it('evictCold refuses a malformed cut or tier, or a cut below the current one, and changes nothing', async () => {
    const { s, tier } = await compactedStore();
    const store = s.store;
    expect(await code(() => store.evictCold(null as unknown as ColdCut, tier))).toMatch(/^INVALID_ARGUMENT cut/);
    expect(await code(() => store.evictCold({ height: -1, lsn: 0 }, tier))).toMatch(/^INVALID_ARGUMENT cut.height/);
    expect(await code(() => store.evictCold({ height: 4, lsn: 1.5 }, tier))).toMatch(/^INVALID_ARGUMENT cut.lsn/);
    expect(await code(() => store.evictCold({ height: 2, lsn: 100 }, tier))).toMatch(/^INVALID_ARGUMENT cut .*cuts only grow/);
    expect(await code(() => store.evictCold({ height: 4, lsn: 1 }, tier))).toMatch(/cuts only grow/);
    expect(await code(() => store.evictCold({ height: 4, lsn: 100 }, { countOf: () => 0, blocks: () => Promise.resolve([]) } as unknown as ColdTier))).toBe(
      'INVALID_ARGUMENT tier.read must be a function',
    );
    expect(await code(() => store.evictCold({ height: 4, lsn: 100 }, 'tier' as unknown as ColdTier))).toMatch(/^INVALID_ARGUMENT tier/);
    expect(store.residentVotes).toBe(15);
    expect(store.size).toBe(24);
    expect((await store.getVotesForRound(3)).length).toBe(3);
  });

  it('captureCold refuses a malformed cut, or next below previous', async () => {
    const { s } = await compactedStore();
    expect(await code(() => s.store.captureCold({ height: 1 } as unknown as ColdCut, { height: 4, lsn: 30 }))).toMatch(/^INVALID_ARGUMENT previous.lsn/);
    expect(await code(() => s.store.captureCold(s.cut, undefined as unknown as ColdCut))).toMatch(/^INVALID_ARGUMENT next/);
    expect(await code(() => s.store.captureCold(s.cut, { height: 2, lsn: s.cut.lsn }))).toMatch(/^INVALID_ARGUMENT next .*cuts only grow/);
    const none: ColdRecord[] = [];
    for await (const r of s.store.captureCold(s.cut, s.cut)()) none.push(r);
    expect(none).toEqual([]);
  });

  it('coldKeys: another kind or a payload that is not bytes is INVALID_ARGUMENT; one that does not decode, CORRUPTION', async () => {
    const store = side(true).store;
    const v = vote('val', 3, 4, 2, 1, 1234);
    expect(store.coldKeys(RecordKind.Vote, encodeVoteRecord(v, 9))).toEqual({ height: 3, round: 4, validators: ['val'], time: 1234 });
    expect(store.coldKeys(RecordKind.Finalized, encodeFinalizedRecord(6, 7, 88))).toEqual({ height: 6, round: 7, time: 88 });
    expect(await code(() => store.coldKeys(3, new Uint8Array(4)))).toMatch(/^INVALID_ARGUMENT kind 3 is not a kind/);
    expect(await code(() => store.coldKeys(RecordKind.Vote, 'x' as unknown as Uint8Array))).toBe('INVALID_ARGUMENT payload must be a Uint8Array');
    expect(await code(() => store.coldKeys(RecordKind.Vote, new Uint8Array(12)))).toMatch(/^CORRUPTION record 0 \(kind 1\)/);
    expect(await code(() => store.coldKeys(RecordKind.Finalized, new Uint8Array(3)))).toMatch(/^CORRUPTION record 0 \(kind 2\)/);
  });

  it('an image whose last mark is malformed is refused; a version 1 image still loads', async () => {
    const { s } = await compactedStore();
    const w = new ImageWriter();
    s.store.captureImage()(w);
    const good = w.finish();
    const bad = good.slice();
    new DataView(bad.buffer).setBigInt64(bad.length - 28, 0n, true);
    expect(() => newStore(s.log, s.clock).loadImage(new ImageReader(bad))).toThrow('the last finalization mark is malformed');
    const v1 = good.slice(0, good.length - 29);
    new DataView(v1.buffer).setUint32(0, 1, true);
    const old = newStore(s.log, s.clock);
    old.evictCold(s.cut, s.tier!);
    old.loadImage(new ImageReader(v1));
    expect(old.residentVotes).toBe(15);
    expect((await old.getLastFinalized())?.height).toBe(5);
  });
});
