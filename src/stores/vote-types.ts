/**
 * The vote types of the specification, in TypeScript form. Plain data: no behaviour here.
 */
import type { Lsn } from '../log/types.ts';

/** The three vote types. */
export type VoteType = 'prevote' | 'precommit' | 'commit';

/** All vote types, in step order (used by the sign guard's step ordering). */
export const VOTE_TYPES: readonly VoteType[] = ['prevote', 'precommit', 'commit'];

/** A validator's signed vote. */
export interface ValidatorVote {
  /** The validator's id (1..128 characters). */
  readonly validatorId: string;
  /** Block height, 0..2^53-1. */
  readonly height: number;
  /** Global round (u32), monotonic across heights (DESIGN 5.1). */
  readonly round: number;
  readonly voteType: VoteType;
  /** 32-byte block hash, or null for a nil vote. */
  readonly blockHash: Uint8Array | null;
  /** When the validator cast it, ms since the epoch. */
  readonly timestamp: number;
  /** 64-byte ed25519 signature over `voteSignBytes(vote, chainId)`. */
  readonly signature: Uint8Array;
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
