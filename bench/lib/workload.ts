/**
 * The synthetic consensus history every system in the comparison writes: votes of
 * `validators` validators, prevote and precommit, one round per height; and a validator's real
 * mix per block: those votes, a round-state checkpoint, audit events and a reward
 * distribution. The same objects go to consensus-store and to every peer, encoded with the
 * same codecs, so that the bytes each stores are comparable.
 *
 * Must never: use randomness that differs between systems within one repetition (the factory
 * is deterministic once made), or make a vote the vote store would reject.
 */
import { randomBytes } from 'node:crypto';
import type { ConsensusEvent } from '../../src/model/audit.ts';
import type { RewardDistribution, RewardLine } from '../../src/model/reward.ts';
import type { RoundState } from '../../src/model/round.ts';
import type { ValidatorVote, VoteType } from '../../src/model/vote.ts';

export const VOTE_TYPES_PER_ROUND: readonly VoteType[] = ['prevote', 'precommit'];

/** Id of validator `i` (the same spelling as the stores scenario). */
export function validatorId(i: number): string {
  return `validator-${String(i).padStart(3, '0')}`;
}

/** Makes votes: `next()` walks (round, type, validator) in order, one round per height. */
export class VoteFactory {
  readonly validators: number;
  readonly #signature = new Uint8Array(randomBytes(64));
  readonly #hashes = new Map<number, Uint8Array>();
  #index: number;

  constructor(validators: number, startIndex = 0) {
    this.validators = validators;
    this.#index = startIndex;
  }

  /** Votes per round. */
  get perRound(): number {
    return this.validators * VOTE_TYPES_PER_ROUND.length;
  }

  /** The block hash of a round (one per round, kept for the current round only). */
  hashOf(round: number): Uint8Array {
    let h = this.#hashes.get(round);
    if (h === undefined) {
      this.#hashes.clear();
      h = new Uint8Array(randomBytes(32));
      this.#hashes.set(round, h);
    }
    return h;
  }

  /** The vote at `index` of the history. */
  at(index: number): ValidatorVote {
    const round = Math.floor(index / this.perRound);
    const within = index % this.perRound;
    return {
      validatorId: validatorId(within % this.validators),
      height: round + 1,
      round,
      voteType: VOTE_TYPES_PER_ROUND[Math.floor(within / this.validators)] ?? 'prevote',
      blockHash: this.hashOf(round),
      timestamp: 1_700_000_000_000 + round * 1000,
      signature: this.#signature,
    };
  }

  /** The next vote of the history. */
  next(): ValidatorVote {
    return this.at(this.#index++);
  }
}

/** Everything a validator persists for one block. */
export interface BlockWork {
  readonly height: number;
  readonly round: number;
  readonly votes: readonly ValidatorVote[];
  readonly checkpoint: RoundState;
  readonly audit: readonly ConsensusEvent[];
  readonly reward: RewardDistribution;
}

/** Audit events written per block. */
export const AUDIT_EVENTS_PER_BLOCK = 4;

/** Makes the per-block work for `validators` validators, one round per height, from `firstHeight`. */
export class BlockFactory {
  readonly validators: number;
  readonly #votes: VoteFactory;
  #height: number;
  #treasury = 10n ** 24n;

  constructor(validators: number, firstHeight = 1) {
    this.validators = validators;
    this.#height = firstHeight;
    this.#votes = new VoteFactory(validators, (firstHeight - 1) * validators * VOTE_TYPES_PER_ROUND.length);
  }

  next(): BlockWork {
    const height = this.#height++;
    const round = height - 1;
    const votes: ValidatorVote[] = [];
    for (let i = 0; i < this.#votes.perRound; i++) votes.push(this.#votes.next());
    const blockHash = this.#votes.hashOf(round);
    const now = 1_700_000_000_000 + round * 1000;
    const proposer = validatorId(round % this.validators);
    const checkpoint: RoundState = { height, round, phase: 'commit', proposalBlockHash: blockHash, proposer, startedAt: now, updatedAt: now + 500 };
    const audit: ConsensusEvent[] = [
      { type: 'RoundStarted', height, round, proposer },
      { type: 'PhaseChanged', height, round, from: 'prevote', to: 'precommit' },
      { type: 'PhaseChanged', height, round, from: 'precommit', to: 'commit' },
      { type: 'RoundCompleted', height, round, blockHash, durationMs: 500 },
    ];
    const lines: RewardLine[] = [{ validatorId: proposer, reason: 'BlockProposal', amount: 1_000_000n }];
    for (let i = 0; i < this.validators; i++) lines.push({ validatorId: validatorId(i), reason: 'SuccessfulVote', amount: 10_000n });
    let total = 0n;
    for (const l of lines) total += l.amount;
    const before = this.#treasury;
    this.#treasury -= total;
    const reward: RewardDistribution = { height, timestamp: now, treasuryBefore: before, treasuryAfter: this.#treasury, totalDistributed: total, lines };
    return { height, round, votes, checkpoint, audit, reward };
  }
}
