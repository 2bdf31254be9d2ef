/**
 * The vote store's types: the stored vote and finalization mark, what `appendVote` reports, the
 * queries and their limits, the batch hook `openStore` uses to join evidence and audit entries
 * to an equivocating vote's batch (D3, docs/durability.md), and the `VoteStore` interface
 * every backend implements (the conformance suite is written against it). The vote itself, its
 * limits and checks are in src/model/vote.ts, the sign guard's steps and watermark in
 * src/model/sign.ts. Plain data and interfaces: no behaviour here, and nothing that imports a
 * backend.
 */
import type { Lsn } from '../log/types.ts';
import type { ValidatorVote, VoteType } from '../model/vote.ts';
import type { VerifiedVote } from './verified-vote.ts';

/**
 * The order of `getRecentVotes`: 'newest-first' (highest LSN first, the default) or
 * 'chronological' (the same votes, lowest LSN first: the specification's order).
 */
export type RecentVotesOrder = 'newest-first' | 'chronological';

/** Options of `getRecentVotes`. Any other key is INVALID_ARGUMENT. */
export interface RecentVotesOptions {
  /** Default 'newest-first'. */
  readonly order?: RecentVotesOrder;
}

/** A stored vote. */
export interface VoteLogEntry {
  /** The record's LSN: the global, durable id. */
  readonly id: Lsn;
  readonly vote: ValidatorVote;
  /** The vote's own timestamp (copied from `vote.timestamp`). */
  readonly timestamp: number;
  /** When this node recorded it, ms since the epoch. */
  readonly recordedAt: number;
}

/**
 * What `appendVote` did:
 * - `stored`: a new vote, now durable;
 * - `duplicate`: a vote with the same (validator, round, type, height, block hash) was already
 *   stored (or in flight); nothing was written and the stored entry is returned;
 * - `equivocation`: the validator already has a vote for this (round, type) with another block
 *   hash or height; the new vote was persisted too, and `conflictsWith` lists the earlier ones.
 */
export type AppendOutcome = 'stored' | 'duplicate' | 'equivocation';

/** The result of `appendVote`: the stored entry (a `VoteLogEntry`) plus what happened. */
export interface AppendVoteResult extends VoteLogEntry {
  readonly outcome: AppendOutcome;
  /** For `equivocation`: the earlier stored votes of the same (validator, round, type), LSN order. Empty otherwise. */
  readonly conflictsWith: readonly VoteLogEntry[];
}

/** Options of `getValidatorVotes`. Rounds are inclusive; results are in (round, voteType, LSN) order. */
export interface ValidatorVotesOptions {
  readonly startRound?: number;
  readonly endRound?: number;
  /** 1..maxQueryLimit; default `defaultQueryLimit`. */
  readonly limit?: number;
}

/** Options of `getVotesForRound`. */
export interface RoundVotesOptions {
  /** 1..maxRoundVotes; default maxRoundVotes. */
  readonly limit?: number;
}

/**
 * A filter over stored votes; every field optional, all given fields must match. Heights are
 * inclusive. Result order: by (round, voteType, validatorId, LSN) when `round` or
 * `validatorId` is given, by (height, LSN) otherwise (docs/stores.md).
 */
export interface VoteQuery {
  readonly round?: number;
  readonly validatorId?: string;
  readonly voteType?: VoteType;
  readonly startHeight?: number;
  readonly endHeight?: number;
  /** 1..maxQueryLimit; default `defaultQueryLimit`. */
  readonly limit?: number;
}

/** A durable finalization mark (record kind Finalized). */
export interface FinalizedMark {
  readonly id: Lsn;
  readonly height: number;
  readonly round: number;
  readonly recordedAt: number;
}

/** Result-size limits of the vote store (docs/stores.md, Queries). */
export interface VoteStoreLimits {
  /** Default `limit` of list queries. Default 1,000. */
  readonly defaultQueryLimit: number;
  /** Largest `limit` of list queries. Default 10,000. */
  readonly maxQueryLimit: number;
  /** Largest (and default) `limit` of `getVotesForRound`. Default 100,000. */
  readonly maxRoundVotes: number;
}

/** What a vote batch contributor is told about a vote about to be written (never called for duplicates). */
export interface VoteBatchEvent {
  readonly vote: ValidatorVote;
  readonly outcome: 'stored' | 'equivocation';
  readonly conflictsWith: readonly VoteLogEntry[];
  readonly recordedAt: number;
}


/** The VoteStore interface: what every backend implements and the conformance suite checks. */
export interface VoteStore {
  /** Number of stored votes (all of them, equivocating ones included). */
  readonly size: number;
  /** Result-size limits in force. */
  readonly limits: VoteStoreLimits;
  /**
   * Stores a vote; its signature is verified first unless it is a `VerifiedVote` of this chain or
   * the store's verification is 'off' (docs/stores.md, "Vote verification").
   */
  appendVote(vote: ValidatorVote | VerifiedVote): Promise<AppendVoteResult>;
  /** Several votes: all checked and verified before any is written (one bad vote writes nothing). */
  appendVotes(votes: readonly (ValidatorVote | VerifiedVote)[]): Promise<AppendVoteResult[]>;
  /** Checks and verifies a vote; resolves with it as a frozen `VerifiedVote` for `appendVote`. */
  verify(vote: ValidatorVote): Promise<VerifiedVote>;
  getVotesForRound(round: number, options?: RoundVotesOptions): Promise<VoteLogEntry[]>;
  getValidatorVotes(validatorId: string, options?: ValidatorVotesOptions): Promise<VoteLogEntry[]>;
  /**
   * The `limit` most recently recorded votes (by LSN). Newest first by default; with
   * `{ order: 'chronological' }` the same votes oldest first (the specification's order).
   */
  getRecentVotes(limit?: number, options?: RecentVotesOptions): Promise<VoteLogEntry[]>;
  queryVotes(query: VoteQuery): Promise<VoteLogEntry[]>;
  countVotesForRound(round: number, voteType?: VoteType): Promise<number>;
  voteExists(validatorId: string, round: number, voteType: VoteType): Promise<boolean>;
  getEarliestOpenRound(): Promise<number | undefined>;
  markFinalized(height: number, round: number): Promise<FinalizedMark>;
  getLastFinalized(): Promise<FinalizedMark | undefined>;
}
