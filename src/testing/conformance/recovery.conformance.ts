/**
 * The RecoveryManager conformance suite: what a restarted validator asks first
 * (docs/stores-rounds-validators.md, "RecoveryManager"): after a reopen, `recover()` answers the
 * latest round-state checkpoint and exactly the votes of that checkpoint's round, with an
 * integrity report that passes and nothing written; `resumePoint()` says where to go on.
 * Written against the recovery manager's methods and the round-state and vote store APIs it
 * reads from, and parameterized by a factory, so that every backend runs the same scenarios.
 * Call `recoveryConformance(name, open)` inside a test file.
 *
 * The suite must never reach into a backend's internals: it writes through the stores, and
 * observes `recover()`, `resumePoint()`, whether a call wrote anything (`nextLsn`), and what
 * survives a reopen.
 */
import { describe, expect, it } from 'vitest';
import { publicKeyOf, signVote } from '../../codec/vote-sign.ts';
import type { RecoveryManager, RecoveryState, RoundStateSnapshot, RoundStateStore } from '../../stores/round-types.ts';
import type { RoundState } from '../../model/round.ts';
import type { ValidatorVote, VoteType } from '../../model/vote.ts';
import type { VoteLogEntry, VoteStore } from '../../stores/vote-types.ts';
import { expectCode, harnessRunner, type StoreHarness } from './support.ts';


/** A store under test (its recovery manager and the stores it reads), and how to reopen it. */
export interface RecoveryHarness extends StoreHarness<RecoveryHarness> {
  readonly recovery: RecoveryManager;
  readonly rounds: RoundStateStore;
  readonly votes: VoteStore;
  /** The chain id the store was opened with (the fixture's votes are signed for it). */
  readonly chainId: string;
}

function hash(fill: number): Uint8Array {
  return new Uint8Array(32).fill(fill);
}

function state(height: number, round: number, phase: RoundState['phase'], extra: Partial<RoundState> = {}): RoundState {
  return { height, round, phase, startedAt: 1_000 + round, updatedAt: 2_000 + round, ...extra };
}

/**
 * The public key of the suite's `val-<n>` (the private key is 32 bytes of 60 + n), for the
 * store's vote verification: open the store under test with
 * `voteVerification: { publicKeyOf: recoveryVoteKey }` (docs/stores.md, "Vote verification").
 */
export function recoveryVoteKey(validatorId: string): Uint8Array | undefined {
  const m = /^val-(\d{1,3})$/.exec(validatorId);
  return m === null ? undefined : publicKeyOf(new Uint8Array(32).fill(60 + Number(m[1])));
}

/** A vote of `val-<n>`, really signed (keys are 32 bytes of 60 + n). */
function vote(chainId: string, n: number, height: number, round: number, voteType: VoteType, block: number | null): ValidatorVote {
  return signVote(
    { validatorId: `val-${n}`, height, round, voteType, blockHash: block === null ? null : hash(block), timestamp: 1_700_000_000_000 + round },
    new Uint8Array(32).fill(60 + n),
    chainId,
  );
}

/** Appends `votes`, returning the stored entries (without the append outcome). */
async function append(h: RecoveryHarness, votes: readonly ValidatorVote[]): Promise<VoteLogEntry[]> {
  const entries: VoteLogEntry[] = [];
  for (const v of votes) {
    const { outcome: _outcome, conflictsWith: _conflicts, ...entry } = await h.votes.appendVote(v);
    entries.push(entry);
  }
  return entries;
}

/** The entries in LSN order, for comparing vote sets whatever order a backend answers in. */
function byLsn(entries: readonly VoteLogEntry[]): VoteLogEntry[] {
  return [...entries].sort((a, b) => a.id - b.id);
}

/**
 * Calls `recover()` and checks what every answer must satisfy: it wrote nothing, the integrity
 * check passed and counted the checkpoint and each vote, and `recovered` says whether there is
 * a checkpoint.
 */
async function recoverChecked(h: RecoveryHarness): Promise<RecoveryState> {
  const lsn = h.nextLsn();
  const rec = await h.recovery.recover();
  expect(h.nextLsn(), 'recover() wrote something').toBe(lsn);
  expect(rec.integrity).toEqual({ ok: true, checked: rec.roundState === undefined ? 0 : 1 + rec.votes.length, problems: [] });
  expect(rec.recovered).toBe(rec.roundState !== undefined);
  expect(rec.open.tornBytesCut).toBe(0);
  expect(rec.open.repair).toBeUndefined();
  return rec;
}

/** Expects `rec` to hold `checkpoint` and exactly `votes`. */
function expectRecovered(rec: RecoveryState, checkpoint: RoundStateSnapshot, votes: readonly VoteLogEntry[]): void {
  expect(rec.recovered).toBe(true);
  expect(rec.roundState).toEqual(checkpoint);
  expect(byLsn(rec.votes)).toEqual(byLsn(votes));
}

/** Registers the RecoveryManager conformance scenarios under `describe(name)`; `open` resolves with a fresh, empty store. */
export function recoveryConformance(name: string, open: () => Promise<RecoveryHarness>): void {
  const withStore = harnessRunner(open);

  describe(`RecoveryManager conformance: ${name}`, () => {
    it('a fresh store recovers nothing: no checkpoint, no votes, integrity ok, no resume point; also after a reopen', () =>
      withStore(async (h) => {
        const check = async (g: RecoveryHarness): Promise<void> => {
          const rec = await recoverChecked(g);
          expect(rec.recovered).toBe(false);
          expect(rec.roundState).toBeUndefined();
          expect(rec.votes).toEqual([]);
          expect(await g.recovery.resumePoint()).toBeUndefined();
        };
        await check(h);
        const again = await h.reopen();
        await check(again);
        return again;
      }));

    it('votes without a checkpoint are no position to resume from: still nothing recovered after a reopen', () =>
      withStore(async (h) => {
        await append(h, [vote(h.chainId, 1, 3, 7, 'prevote', 1), vote(h.chainId, 2, 3, 7, 'precommit', 1)]);
        const again = await h.reopen();
        const rec = await recoverChecked(again);
        expect(rec.recovered).toBe(false);
        expect(rec.votes).toEqual([]);
        return again;
      }));

    it('after a reopen: the latest checkpoint with exactly its round\'s votes (nil, every type, an equivocation), verified, nothing written', () =>
      withStore(async (h) => {
        const c = h.chainId;
        await h.rounds.saveRoundState(state(4, 10, 'finalize'));
        await append(h, [vote(c, 1, 4, 10, 'prevote', 1), vote(c, 2, 4, 10, 'precommit', 1)]);
        await h.rounds.saveRoundState(state(5, 11, 'propose'));
        await append(h, [vote(c, 1, 5, 11, 'prevote', null)]);
        await h.rounds.saveRoundState(state(5, 12, 'prevote', { proposer: 'val-2', proposalBlockHash: hash(3) }));
        const inRound = await append(h, [
          vote(c, 1, 5, 12, 'prevote', 3),
          vote(c, 2, 5, 12, 'prevote', 3),
          vote(c, 3, 5, 12, 'prevote', null),
          vote(c, 1, 5, 12, 'precommit', 3),
        ]);
        // val-3 votes again in its prevote slot, for a block: an equivocation; both votes are the round's.
        const { outcome, conflictsWith: _conflicts, ...second } = await h.votes.appendVote(vote(c, 3, 5, 12, 'prevote', 4));
        expect(outcome).toBe('equivocation');
        inRound.push(second);
        const latest = await h.rounds.saveRoundState(state(5, 12, 'precommit', { proposer: 'val-2', proposalBlockHash: hash(3), lockedRound: 12, lockedBlockHash: hash(3), validRound: 12, validBlockHash: hash(3) }));
        inRound.push(...(await append(h, [vote(c, 2, 5, 12, 'precommit', 3)])));
        // A later round without a checkpoint of its own is not where the node resumes.
        await append(h, [vote(c, 1, 5, 13, 'prevote', 3)]);
        expect(inRound).toHaveLength(6);

        const again = await h.reopen();
        const rec = await recoverChecked(again);
        expectRecovered(rec, latest, inRound);
        const twice = await recoverChecked(again);
        expectRecovered(twice, latest, inRound);
        expect(await again.recovery.resumePoint()).toEqual({
          height: 5,
          round: 12,
          phase: 'precommit',
          lockedRound: 12,
          lockedBlockHash: hash(3),
          validRound: 12,
          validBlockHash: hash(3),
          fromCheckpoint: latest.id,
        });
        return again;
      }));

    it('the recovered checkpoint follows every save across several reopens', () =>
      withStore(async (h) => {
        let current = h;
        for (let round = 1; round <= 4; round++) {
          const saved = await current.rounds.saveRoundState(state(round, round, 'prevote'));
          const votes = await append(current, [vote(current.chainId, 1, round, round, 'prevote', round), vote(current.chainId, 2, round, round, 'prevote', round)]);
          current = await current.reopen();
          expectRecovered(await recoverChecked(current), saved, votes);
        }
        return current;
      }));

    it('after pruning older checkpoints, the latest is still recovered after a reopen', () =>
      withStore(async (h) => {
        let latest: RoundStateSnapshot | undefined;
        let votes: VoteLogEntry[] = [];
        for (let height = 1; height <= 6; height++) {
          latest = await h.rounds.saveRoundState(state(height, height + 20, 'commit'));
          votes = await append(h, [vote(h.chainId, 1, height, height + 20, 'commit', height)]);
        }
        expect(await h.rounds.pruneBeforeHeight(6)).toBe(5);
        const again = await h.reopen();
        expectRecovered(await recoverChecked(again), latest as RoundStateSnapshot, votes);
        return again;
      }));

    it('after a finalize checkpoint the resume point is the next height and round at propose, without a lock, also after a reopen', () =>
      withStore(async (h) => {
        const finalized = await h.rounds.saveRoundState(state(8, 30, 'finalize', { lockedRound: 29, lockedBlockHash: hash(5), validRound: 29, validBlockHash: hash(5) }));
        const again = await h.reopen();
        expect(await again.recovery.resumePoint()).toEqual({ height: 9, round: 31, phase: 'propose', fromCheckpoint: finalized.id });
        expectRecovered(await recoverChecked(again), finalized, []);
        return again;
      }));

    it('after close, recover and resumePoint reject CLOSED', async () => {
      const h = await open();
      await h.close();
      await expectCode(h.recovery.recover(), 'CLOSED');
      await expectCode(h.recovery.resumePoint(), 'CLOSED');
    });
  });
}
