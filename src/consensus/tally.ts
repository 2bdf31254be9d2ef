/**
 * Stake-weighted vote tallies per (height, round, vote type): who voted for what, and whether a
 * block (or nil, or anything) has 2/3+ or 1/3+ of the stake.
 *
 * A validator counts once per (height, round, type): its first vote counts, a later
 * conflicting one is not counted (it is equivocation, which the vote store keeps and reports).
 * So the tally may fall short of a quorum that other nodes saw; a decision certificate is
 * checked on its own signatures instead (certificate.ts). Only votes already durable may be
 * added (the engine appends before it counts).
 *
 * Each height is weighed by its own validator set (docs/devnet.md, "Validator-set changes"): a
 * validator outside the set of a vote's height (never registered, or removed: tombstoned) does
 * not count there, and a height whose set is not known yet counts nothing.
 */
import { toHex } from '../codec/bytes.ts';
import type { ValidatorSet } from './validator-set.ts';
import type { ValidatorVote, VoteType } from '../model/vote.ts';

/** The key of nil in per-block sums. */
const NIL = 'nil';

/** Votes of one (height, round, type). */
class StepTally {
  readonly byValidator = new Map<string, ValidatorVote>();
  readonly byBlock = new Map<string, bigint>();
  total = 0n;
}

/** What a tally says about one step. */
export interface StepSummary {
  /** The block hash (hex) or 'nil' with 2/3+ of the stake, if any. */
  readonly quorumFor: string | undefined;
  /** True when votes of any kind hold 2/3+ of the stake. */
  readonly quorumAny: boolean;
}

/** Tallies for the rounds of the heights the engine is working on. */
export class VoteTally {
  readonly #setOf: (height: number) => ValidatorSet | undefined;
  readonly #steps = new Map<string, StepTally>();

  /** @param setOf the validator set of a height, whose stakes weigh that height's votes; undefined when not known. */
  constructor(setOf: (height: number) => ValidatorSet | undefined) {
    this.#setOf = setOf;
  }

  /**
   * Counts a durable vote. Returns false (and counts nothing) when the validator is not in the
   * set of the vote's height (or that set is not known) or already counted for this (height,
   * round, type).
   */
  add(vote: ValidatorVote): boolean {
    if (vote.voteType === 'commit') return false;
    const stake = this.#setOf(vote.height)?.stakeOf(vote.validatorId) ?? 0n;
    if (stake === 0n) return false;
    const step = this.#step(vote.height, vote.round, vote.voteType, true) as StepTally;
    if (step.byValidator.has(vote.validatorId)) return false;
    step.byValidator.set(vote.validatorId, vote);
    const key = vote.blockHash === null ? NIL : toHex(vote.blockHash);
    step.byBlock.set(key, (step.byBlock.get(key) ?? 0n) + stake);
    step.total += stake;
    return true;
  }

  /** The quorum state of one step. */
  summary(height: number, round: number, type: VoteType): StepSummary {
    const step = this.#step(height, round, type, false);
    const set = this.#setOf(height);
    if (step === undefined || set === undefined) return { quorumFor: undefined, quorumAny: false };
    let quorumFor: string | undefined;
    for (const [key, stake] of step.byBlock) if (set.isQuorum(stake)) quorumFor = key;
    return { quorumFor, quorumAny: set.isQuorum(step.total) };
  }

  /** The counted votes of one step (for certificates and re-sending). */
  votes(height: number, round: number, type: VoteType): ValidatorVote[] {
    return [...(this.#step(height, round, type, false)?.byValidator.values() ?? [])];
  }

  /** Rounds above `round` at `height` in which validators holding 1/3+ of the stake voted (lowest first). */
  roundsAheadWithOneThird(height: number, round: number): number[] {
    const set = this.#setOf(height);
    if (set === undefined) return [];
    const voters = new Map<number, Set<string>>();
    for (const [key, step] of this.#steps) {
      const [h, r] = key.split(':').map(Number) as [number, number];
      if (h !== height || r <= round) continue;
      const set = voters.get(r) ?? new Set<string>();
      for (const id of step.byValidator.keys()) set.add(id);
      voters.set(r, set);
    }
    const out: number[] = [];
    for (const [r, ids] of voters) {
      let stake = 0n;
      for (const id of ids) stake += set.stakeOf(id);
      if (set.isOneThirdPlus(stake)) out.push(r);
    }
    return out.sort((a, b) => a - b);
  }

  /** Rounds of `height` that have any precommits (for the commit rule, which looks at every round). */
  precommitRounds(height: number): number[] {
    const out: number[] = [];
    for (const key of this.#steps.keys()) {
      const [h, r, t] = key.split(':');
      if (Number(h) === height && t === 'precommit') out.push(Number(r));
    }
    return out.sort((a, b) => a - b);
  }

  /** Forgets every tally below `height` (bounded memory). */
  pruneBelow(height: number): void {
    for (const key of this.#steps.keys()) if (Number(key.split(':')[0]) < height) this.#steps.delete(key);
  }

  #step(height: number, round: number, type: VoteType, create: boolean): StepTally | undefined {
    const key = `${height}:${round}:${type}`;
    let step = this.#steps.get(key);
    if (step === undefined && create) {
      step = new StepTally();
      this.#steps.set(key, step);
    }
    return step;
  }
}
