/**
 * The storage port: every call the consensus engine makes to durable state, and nothing else.
 * The engine is written against this interface only, so it runs on the real stores
 * (store-adapter.ts) and on plain memory (memory-storage.ts) alike.
 *
 * Contract the engine relies on: every method resolves only once what it wrote is durable; a
 * vote resolved by `appendVote` is the one that counts; `signVote`/`signProposal` never release
 * a signature that conflicts with one released before, across restarts (D8, docs/durability.md).
 */
import type { ConsensusEvent } from '../model/audit.ts';
import type { RoundState } from '../model/round.ts';
import type { SignedProposal, UnsignedProposal, UnsignedVote, ValidatorVote } from '../model/vote.ts';
import type { RewardDistribution } from './rewards.ts';
import type { ConsensusValidator, ValidatorTx } from './types.ts';

/** What `appendVote` did with a received (or own) vote. */
export interface VoteAppendResult {
  readonly outcome: 'stored' | 'duplicate' | 'equivocation';
  /** For `equivocation`: the earlier stored votes of the same (validator, round, type). */
  readonly conflictsWith: readonly ValidatorVote[];
}

/** What recovery hands the engine. */
export interface RecoveredState {
  /** The latest round-state checkpoint, if any. */
  readonly roundState?: RoundState;
  /** The votes stored for that checkpoint's round. */
  readonly votes: readonly ValidatorVote[];
}

/** The audit events the engine records: the audit log's consensus events (model/audit.ts). */
export type ConsensusAuditEvent = ConsensusEvent;

/** An equivocation as the engine reports it: two conflicting votes of one validator. */
export interface EquivocationReport {
  readonly validatorId: string;
  readonly first: ValidatorVote;
  readonly second: ValidatorVote;
  /** The height the node was at when it detected it (a record only: the slash goes through a block). */
  readonly detectedAtHeight: number;
}

/**
 * A proposal equivocation as the engine reports it: two validly signed proposals of the round's
 * proposer for one (height, round) naming different blocks (docs/evidence-and-rewards.md).
 */
export interface ProposalEquivocationReport {
  readonly validatorId: string;
  readonly first: SignedProposal;
  readonly second: SignedProposal;
  /** The height the node was at when it detected it. */
  readonly detectedAtHeight: number;
}

/** What `applyValidatorTxs` changed: the validators it added (bonds) and removed (slashes, unbonds). */
export interface SetChanges {
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

/** A registered validator's id and key. */
export interface RegisteredValidator {
  readonly validatorId: string;
  readonly publicKey: Uint8Array;
}

/** The engine's view of durable state. */
export interface ConsensusStoragePort {
  /** The latest checkpoint and that round's votes (RecoveryManager.recover). */
  recover(): Promise<RecoveredState>;
  /** Persists a vote (own or received) before it counts (VoteStore.appendVote). */
  appendVote(vote: ValidatorVote): Promise<VoteAppendResult>;
  /** Signs the node's own vote through the sign guard (persisted before it resolves). */
  signVote(vote: UnsignedVote): Promise<ValidatorVote>;
  /** Signs the node's own proposal through the sign guard. */
  signProposal(proposal: UnsignedProposal): Promise<SignedProposal>;
  /** Checkpoints round state (RoundStateStore.saveRoundState). */
  saveRoundState(state: RoundState): Promise<void>;
  /**
   * Whether `state` is worth a checkpoint under the store's `checkpointInterval`
   * (RoundStateStore.shouldCheckpoint). Optional: a port without it gets every checkpoint.
   */
  shouldCheckpoint?(state: RoundState): boolean;
  /** The latest checkpoint at `height` (to rebuild a decision certificate), or undefined. */
  roundStateAt(height: number): Promise<RoundState | undefined>;
  /** The stored votes of one round. */
  votesForRound(round: number): Promise<readonly ValidatorVote[]>;
  /** Marks `height` finalized in `round` (VoteStore.markFinalized); idempotent for the same pair. */
  markFinalized(height: number, round: number): Promise<void>;
  /**
   * Records evidence detected by this node and its audit entry. It slashes nothing: a slash
   * goes through a block (`applyValidatorTxs`), so that every node applies it at one height.
   */
  recordEquivocation(report: EquivocationReport): Promise<void>;
  /**
   * The consensus validator set at `height`: the validators registered at or before it that are
   * active there, with their stake there, counting only the changes decided through blocks (a
   * change recorded otherwise, such as a slash an earlier version recorded at its own detection
   * height, is an accountability record and weighs nothing). In `validatorId` order; stakes
   * positive.
   */
  validatorsAt(height: number): Promise<readonly ConsensusValidator[]>;
  /**
   * Applies the validator-set transactions of the block finalized at `height`: each takes
   * effect at `height + 2` (block.ts, `SET_CHANGE_DELAY`); the evidence of a slash is recorded
   * as verified by a quorum. Idempotent: a transaction already applied (a restart between the
   * apply and the finalize checkpoint), or about a validator already removed, changes nothing.
   * Bonds register the validator from `height + 2`; unbonds make it `inactive` there.
   * Resolves with the ids of the validators it added and removed.
   */
  applyValidatorTxs(height: number, txs: readonly ValidatorTx[]): Promise<SetChanges>;
  /** Every validator ever registered (any status, any effective height): id and public key (a bond must use new ones). */
  registeredValidators(): Promise<readonly RegisteredValidator[]>;
  /**
   * Records `ProposalEquivocation` evidence and its `ProposalEquivocationDetected` audit entry
   * (evidence only: nothing is slashed for it, docs/evidence-and-rewards.md).
   */
  recordProposalEquivocation(report: ProposalEquivocationReport): Promise<void>;
  /** Appends a consensus event to the audit log (peer events included: docs/audit.md, "Peer events"). */
  logAudit(event: ConsensusAuditEvent): Promise<void>;
  /** Records a height's reward distribution; a height already recorded is not recorded again. */
  recordReward(distribution: RewardDistribution): Promise<void>;
}
