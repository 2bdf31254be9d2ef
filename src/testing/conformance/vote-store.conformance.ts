/**
 * The VoteStore conformance suite (abstract-level style): written against `VoteStore` only
 * and parameterized by a factory, so that every backend (the WAL, the in-memory log, later
 * PostgreSQL or SQLite) runs the same scenarios. Call `voteStoreConformance(name, factory)` from
 * a test file.
 *
 * Its votes carry fake signatures (storage semantics, not signatures, are under test): the
 * factory opens the store with `voteVerification: 'off'` (docs/stores.md, "Vote verification").
 *
 * It must never reach into a backend's internals: what it checks is what a caller can see.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { isStoreError } from '../../errors.ts';
import type { ErrorCode } from '../../errors.ts';
import type { ValidatorVote, VoteType } from '../../model/vote.ts';
import type { VoteLogEntry, VoteStore } from '../../stores/vote-types.ts';
import type { StoreHarness } from './support.ts';

/** One open backend; `reopen` closes the old fixture. */
export interface VoteStoreFixture extends StoreHarness<VoteStoreFixture> {
  readonly votes: VoteStore;
}

/** Makes a fresh, empty backend. */
export type VoteStoreFactory = () => Promise<VoteStoreFixture>;

/** A 32-byte hash filled with `n`. */
export function hashOf(n: number): Uint8Array {
  return new Uint8Array(32).fill(n);
}

/** A vote with defaults for everything not given (the signature is not a valid one). */
export function makeVote(overrides: Partial<ValidatorVote> = {}): ValidatorVote {
  return {
    validatorId: 'val-a',
    height: 10,
    round: 100,
    voteType: 'prevote',
    blockHash: hashOf(1),
    timestamp: 1_700_000_000_000,
    signature: new Uint8Array(64).fill(7),
    ...overrides,
  };
}

/** Expects `promise` to reject with a ConsensusStoreError of `code`. */
export async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isStoreError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
}

function ids(entries: readonly VoteLogEntry[]): number[] {
  return entries.map((e) => e.id);
}

/** Registers the conformance scenarios for one backend. */
export function voteStoreConformance(name: string, factory: VoteStoreFactory): void {
  describe(`VoteStore conformance (${name})`, () => {
    let fixture: VoteStoreFixture | undefined;
    const open = async (): Promise<VoteStoreFixture> => (fixture = await factory());
    const reopen = async (): Promise<VoteStoreFixture> => (fixture = await (fixture as VoteStoreFixture).reopen());
    afterEach(async () => {
      await fixture?.close();
      fixture = undefined;
    });

    it('stores a new vote durably and returns its entry', async () => {
      const { votes } = await open();
      const vote = makeVote();
      const result = await votes.appendVote(vote);
      expect(result.outcome).toBe('stored');
      expect(result.conflictsWith).toEqual([]);
      expect(result.timestamp).toBe(vote.timestamp);
      expect(result.vote).toEqual(vote);
      expect(await votes.voteExists('val-a', 100, 'prevote')).toBe(true);
      expect(await votes.voteExists('val-a', 100, 'precommit')).toBe(false);
      const f = await reopen();
      expect(await f.votes.getVotesForRound(100)).toEqual([{ id: result.id, vote, timestamp: vote.timestamp, recordedAt: result.recordedAt }]);
    });

    it('stores a nil vote and reads it back as nil', async () => {
      const { votes } = await open();
      const result = await votes.appendVote(makeVote({ blockHash: null }));
      const f = await reopen();
      const [entry] = await f.votes.getVotesForRound(100);
      expect(entry?.id).toBe(result.id);
      expect(entry?.vote.blockHash).toBeNull();
    });

    it('an identical vote returns the stored entry and writes nothing', async () => {
      const f = await open();
      const first = await f.votes.appendVote(makeVote());
      const before = f.nextLsn();
      const again = await f.votes.appendVote(makeVote());
      expect(again.outcome).toBe('duplicate');
      expect(again.id).toBe(first.id);
      expect(f.nextLsn()).toBe(before);
      const retimed = await f.votes.appendVote(makeVote({ timestamp: 1_700_000_000_999 }));
      expect(retimed.outcome).toBe('duplicate');
      expect(retimed.timestamp).toBe(first.timestamp);
      expect(f.nextLsn()).toBe(before);
    });

    it('a conflicting vote is persisted and flagged as equivocation', async () => {
      const { votes } = await open();
      const first = await votes.appendVote(makeVote());
      const second = await votes.appendVote(makeVote({ blockHash: hashOf(2) }));
      expect(second.outcome).toBe('equivocation');
      expect(ids(second.conflictsWith)).toEqual([first.id]);
      const nil = await votes.appendVote(makeVote({ blockHash: null }));
      expect(ids(nil.conflictsWith)).toEqual([first.id, second.id]);
      const repeat = await votes.appendVote(makeVote({ blockHash: hashOf(2) }));
      expect(repeat.outcome).toBe('duplicate');
      expect(repeat.id).toBe(second.id);
      const f = await reopen();
      expect(await f.votes.countVotesForRound(100)).toBe(3);
      expect(ids(await f.votes.getVotesForRound(100))).toEqual([first.id, second.id, nil.id]);
    });

    it('concurrent conflicting appends are serialized: the second sees the first', async () => {
      const { votes } = await open();
      const [a, b] = await Promise.all([votes.appendVote(makeVote()), votes.appendVote(makeVote({ blockHash: hashOf(9) }))]);
      expect(a.outcome).toBe('stored');
      expect(b.outcome).toBe('equivocation');
      expect(ids(b.conflictsWith)).toEqual([a.id]);
    });

    it('concurrent identical appends share one write', async () => {
      const f = await open();
      const before = f.nextLsn();
      const results = await Promise.all([f.votes.appendVote(makeVote()), f.votes.appendVote(makeVote()), f.votes.appendVote(makeVote())]);
      expect(new Set(results.map((r) => r.id)).size).toBe(1);
      expect(results.map((r) => r.outcome)).toEqual(['stored', 'duplicate', 'duplicate']);
      expect(f.nextLsn()).toBe(before + 1);
    });

    it('answers round, validator, recent and count queries in their documented order', async () => {
      const { votes } = await open();
      const cast: Array<[string, number, VoteType]> = [
        ['val-b', 101, 'precommit'],
        ['val-a', 101, 'prevote'],
        ['val-c', 100, 'prevote'],
        ['val-a', 100, 'precommit'],
        ['val-b', 101, 'prevote'],
        ['val-a', 102, 'commit'],
      ];
      const stored: VoteLogEntry[] = [];
      for (const [validatorId, round, voteType] of cast) {
        stored.push(await votes.appendVote(makeVote({ validatorId, round, voteType, height: round - 90 })));
      }
      const id = (i: number): number => (stored[i] as VoteLogEntry).id;
      expect(ids(await votes.getVotesForRound(101))).toEqual([id(1), id(4), id(0)]);
      expect(ids(await votes.getVotesForRound(101, { limit: 2 }))).toEqual([id(1), id(4)]);
      expect(ids(await votes.getValidatorVotes('val-a'))).toEqual([id(3), id(1), id(5)]);
      expect(ids(await votes.getValidatorVotes('val-a', { startRound: 101, endRound: 101 }))).toEqual([id(1)]);
      expect(ids(await votes.getValidatorVotes('val-a', { limit: 1 }))).toEqual([id(3)]);
      expect(ids(await votes.getRecentVotes(2))).toEqual([id(5), id(4)]);
      expect(ids(await votes.getRecentVotes())).toEqual([5, 4, 3, 2, 1, 0].map(id));
      expect(await votes.countVotesForRound(101)).toBe(3);
      expect(await votes.countVotesForRound(101, 'prevote')).toBe(2);
      expect(await votes.countVotesForRound(99)).toBe(0);
      expect(await votes.getValidatorVotes('nobody')).toEqual([]);
    });

    it('queryVotes combines filters and orders by round when a round or validator is given, by height otherwise', async () => {
      const { votes } = await open();
      const a = await votes.appendVote(makeVote({ validatorId: 'v1', round: 5, height: 3 }));
      const b = await votes.appendVote(makeVote({ validatorId: 'v2', round: 4, height: 2, voteType: 'precommit' }));
      const c = await votes.appendVote(makeVote({ validatorId: 'v1', round: 4, height: 2 }));
      const d = await votes.appendVote(makeVote({ validatorId: 'v1', round: 6, height: 4, voteType: 'commit' }));
      expect(ids(await votes.queryVotes({ validatorId: 'v1' }))).toEqual([c.id, a.id, d.id]);
      expect(ids(await votes.queryVotes({ round: 4 }))).toEqual([c.id, b.id]);
      expect(ids(await votes.queryVotes({ round: 4, voteType: 'precommit' }))).toEqual([b.id]);
      expect(ids(await votes.queryVotes({ round: 4, validatorId: 'v1' }))).toEqual([c.id]);
      expect(ids(await votes.queryVotes({ startHeight: 2, endHeight: 3 }))).toEqual([b.id, c.id, a.id]);
      expect(ids(await votes.queryVotes({ voteType: 'prevote' }))).toEqual([c.id, a.id]);
      expect(ids(await votes.queryVotes({ validatorId: 'v1', startHeight: 3 }))).toEqual([a.id, d.id]);
      expect(ids(await votes.queryVotes({}))).toEqual([b.id, c.id, a.id, d.id]);
      expect(ids(await votes.queryVotes({ limit: 1 }))).toEqual([b.id]);
    });

    it('finalization marks define the earliest open round and move only forward', async () => {
      const { votes } = await open();
      expect(await votes.getEarliestOpenRound()).toBeUndefined();
      await votes.appendVote(makeVote({ round: 7, height: 1 }));
      await votes.appendVote(makeVote({ round: 9, height: 2 }));
      await votes.appendVote(makeVote({ round: 12, height: 3 }));
      expect(await votes.getEarliestOpenRound()).toBe(7);
      const mark = await votes.markFinalized(1, 7);
      expect(await votes.getEarliestOpenRound()).toBe(9);
      expect((await votes.markFinalized(1, 7)).id).toBe(mark.id);
      await expectCode(votes.markFinalized(1, 8), 'CONFLICT');
      await expectCode(votes.markFinalized(0, 7), 'CONFLICT');
      await expectCode(votes.markFinalized(5, 6), 'CONFLICT');
      await votes.markFinalized(2, 9);
      const f = await reopen();
      expect(await f.votes.getEarliestOpenRound()).toBe(12);
      expect((await f.votes.getLastFinalized())?.height).toBe(2);
      await f.votes.markFinalized(3, 12);
      expect(await f.votes.getEarliestOpenRound()).toBeUndefined();
    });

    it('a later height in the finalized round is still open', async () => {
      const { votes } = await open();
      await votes.appendVote(makeVote({ round: 7, height: 1 }));
      await votes.markFinalized(1, 7);
      expect(await votes.getEarliestOpenRound()).toBeUndefined();
      await votes.appendVote(makeVote({ round: 7, height: 2, voteType: 'precommit' }));
      expect(await votes.getEarliestOpenRound()).toBe(7);
    });

    it('rejects bad arguments with INVALID_ARGUMENT and writes nothing', async () => {
      const f = await open();
      const before = f.nextLsn();
      const v = f.votes as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
      await expectCode(f.votes.appendVote(makeVote({ blockHash: new Uint8Array(31) })), 'INVALID_ARGUMENT');
      await expectCode(f.votes.appendVote(makeVote({ signature: new Uint8Array(63) })), 'INVALID_ARGUMENT');
      await expectCode(f.votes.appendVote(makeVote({ validatorId: 'x'.repeat(129) })), 'INVALID_ARGUMENT');
      await expectCode(f.votes.appendVote(makeVote({ round: 2 ** 32 })), 'INVALID_ARGUMENT');
      await expectCode(f.votes.appendVote(makeVote({ height: 2 ** 53 })), 'INVALID_ARGUMENT');
      await expectCode(v.appendVote!(makeVote({ voteType: 'vote' as VoteType })), 'INVALID_ARGUMENT');
      await expectCode(f.votes.getRecentVotes(0), 'INVALID_ARGUMENT');
      await expectCode(f.votes.getRecentVotes(1_000_000_000), 'INVALID_ARGUMENT');
      await expectCode(f.votes.getValidatorVotes('a', { startRound: 5, endRound: 4 }), 'INVALID_ARGUMENT');
      await expectCode(f.votes.queryVotes({ startHeight: 5, endHeight: 4 }), 'INVALID_ARGUMENT');
      await expectCode(f.votes.markFinalized(-1, 0), 'INVALID_ARGUMENT');
      expect(f.nextLsn()).toBe(before);
      expect((await f.votes.appendVote(makeVote())).outcome).toBe('stored');
    });

    it('rejects every method with CLOSED after close', async () => {
      const f = await open();
      await f.close();
      await expectCode(f.votes.appendVote(makeVote()), 'CLOSED');
      await expectCode(f.votes.getVotesForRound(1), 'CLOSED');
      await expectCode(f.votes.getValidatorVotes('a'), 'CLOSED');
      await expectCode(f.votes.getRecentVotes(), 'CLOSED');
      await expectCode(f.votes.queryVotes({}), 'CLOSED');
      await expectCode(f.votes.countVotesForRound(1), 'CLOSED');
      await expectCode(f.votes.voteExists('a', 1, 'prevote'), 'CLOSED');
      await expectCode(f.votes.getEarliestOpenRound(), 'CLOSED');
      await expectCode(f.votes.markFinalized(1, 1), 'CLOSED');
      fixture = undefined;
    });
  });
}
