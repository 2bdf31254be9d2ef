/**
 * The vote, finalization and sign-guard types of the specification, in TypeScript form, plus the
 * `VoteStoreApi` interface every backend implements (the conformance suite is written against
 * it). Plain data and interfaces: no behaviour here, and nothing that imports a backend.
 */
import type { Lsn, RecordInput, LogRecord } from '../log/types.ts';

/** The three vote types. */
export type VoteType = 'prevote' | 'precommit' | 'commit';

/** All vote types, in step order (used by the sign guard's step ordering). */
export const VOTE_TYPES: readonly VoteType[] = ['prevote', 'precommit', 'commit'];

/** Longest validator id, in UTF-16 code units. */
export const MAX_VALIDATOR_ID_LENGTH = 128;
/** Longest chain id, in UTF-16 code units. */
export const MAX_CHAIN_ID_LENGTH = 64;
/** Bytes of a block hash. */
export const BLOCK_HASH_BYTES = 32;
/** Bytes of an ed25519 signature. */
export const SIGNATURE_BYTES = 64;
/** Bytes of an ed25519 private key (the 32-byte seed) and of a public key. */
export const ED25519_KEY_BYTES = 32;

/** A validator's signed vote. */
export interface ValidatorVote {
  /** The validator's id (1..128 UTF-16 code units, well-formed Unicode). */
  readonly validatorId: string;
  /** Block height, 0..2^53-1. */
  readonly height: number;
  /** Global round (u32), monotonic across heights (docs/stores.md, Votes). */
  readonly round: number;
  readonly voteType: VoteType;
  /** 32-byte block hash, or null for a nil vote. */
  readonly blockHash: Uint8Array | null;
  /** When the validator cast it, ms since the epoch (0..2^53-1). */
  readonly timestamp: number;
  /** 64-byte ed25519 signature over `voteSignBytes(vote, chainId)`. */
  readonly signature: Uint8Array;
}

/** A vote before it is signed (what the sign guard and `signVote` take). */
export type UnsignedVote = Omit<ValidatorVote, 'signature'>;

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
  readonly fromRound?: number;
  readonly toRound?: number;
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

/**
 * Extra records that join the batch of a new vote (D3): `openStore` adds evidence and
 * audit entries to an equivocating vote's batch through this. `onDurable` receives the extra
 * records with their LSNs once the whole batch is durable (to fold them into their indexes).
 */
export interface VoteBatchExtension {
  readonly records: readonly RecordInput[];
  readonly onDurable?: (records: readonly LogRecord[]) => void;
}

/** What a batch hook is told about a vote about to be written (never called for duplicates). */
export interface VoteBatchEvent {
  readonly vote: ValidatorVote;
  readonly outcome: 'stored' | 'equivocation';
  readonly conflictsWith: readonly VoteLogEntry[];
  readonly recordedAt: number;
}

/** A hook that may add records to a vote's batch. Must be synchronous and must not do I/O. */
export type VoteBatchHook = (event: VoteBatchEvent) => VoteBatchExtension | undefined;

/** The VoteStore interface: what every backend implements and the conformance suite checks. */
export interface VoteStoreApi {
  appendVote(vote: ValidatorVote): Promise<AppendVoteResult>;
  getVotesForRound(round: number, options?: RoundVotesOptions): Promise<VoteLogEntry[]>;
  getValidatorVotes(validatorId: string, options?: ValidatorVotesOptions): Promise<VoteLogEntry[]>;
  getRecentVotes(limit?: number): Promise<VoteLogEntry[]>;
  queryVotes(query: VoteQuery): Promise<VoteLogEntry[]>;
  countVotesForRound(round: number, voteType?: VoteType): Promise<number>;
  voteExists(validatorId: string, round: number, voteType: VoteType): Promise<boolean>;
  getEarliestOpenRound(): Promise<number | null>;
  markFinalized(height: number, round: number): Promise<FinalizedMark>;
  getLastFinalized(): Promise<FinalizedMark | null>;
}

/** Sign-guard steps, in the order they happen within one (height, round). */
export type SignStep = 'propose' | VoteType;

/** All steps in order: propose < prevote < precommit < commit. */
export const SIGN_STEPS: readonly SignStep[] = ['propose', 'prevote', 'precommit', 'commit'];

/** The last (height, round, step) a key signed: the sign guard's watermark. */
export interface SignWatermark {
  readonly height: number;
  readonly round: number;
  readonly step: SignStep;
}

/** A block proposal before it is signed. */
export interface UnsignedProposal {
  /** The proposer's validator id (must be the node's own). */
  readonly validatorId: string;
  readonly height: number;
  readonly round: number;
  /** The proposed block's 32-byte hash. */
  readonly blockHash: Uint8Array;
  /** The round of the proof-of-lock this proposal re-proposes, or null. */
  readonly polRound: number | null;
  /** ms since the epoch. */
  readonly timestamp: number;
}

/** A signed proposal. */
export interface SignedProposal extends UnsignedProposal {
  /** 64-byte ed25519 signature over `proposalSignBytes(proposal, chainId)`. */
  readonly signature: Uint8Array;
}
