/**
 * The shapes of the consensus engine (engine.ts): its options, what it reports of itself, and
 * the position it holds (height, round, phase, lock, valid block, intent, decision) that its
 * checkpoints record (engine-storage.ts) and its rules read (engine-rules.ts).
 *
 * Types only: nothing here runs.
 */
import type { ConsensusPhase } from '../model/round.ts';
import type { Equivocator } from './byzantine.ts';
import type { Decision } from './checkpoint-data.ts';
import type { RewardPolicy } from './rewards.ts';
import type { ConsensusStoragePort } from './storage-port.ts';
import type { TimeoutConfig } from './timeouts.ts';
import type { Transport } from './transport.ts';
import type { Block, EngineEvent } from './types.ts';

/** Options of `ConsensusEngine`. */
export interface EngineOptions {
  readonly chainId: string;
  /** This node's validator id. Outside the set of a height, the node follows the chain and signs nothing. */
  readonly validatorId: string;
  /** Durable state, and the validator set of each height (`validatorsAt`). */
  readonly storage: ConsensusStoragePort;
  readonly transport: Transport;
  readonly timeouts?: Partial<TimeoutConfig>;
  /** Wall clock, ms since the epoch; default `Date.now`. */
  readonly now?: () => number;
  /** Progress and problems; must not throw. */
  readonly onEvent?: (event: EngineEvent) => void;
  /** Makes this node byzantine (devnet `--byzantine`, tests). */
  readonly equivocator?: Equivocator;
  readonly rewardPolicy?: RewardPolicy;
  /** No finalized height for this long is a stall (audited once per stall). Default 10 s. */
  readonly stallAfterMs?: number;
}

/** Where `initializeWithRecovery` put the node. */
export interface ResumeInfo {
  readonly recovered: boolean;
  readonly height: number;
  readonly round: number;
  readonly phase: ConsensusPhase;
  /** Votes of the recovered round handed back by recovery. */
  readonly votes: number;
}

/** A snapshot of where the engine is. */
export interface EngineStatus {
  readonly height: number;
  readonly round: number;
  readonly phase: ConsensusPhase;
  /** Last finalized height (height - 1). */
  readonly finalizedHeight: number;
  /** The ids of the validator set of `height` (empty before `initializeWithRecovery`). */
  readonly validators: readonly string[];
}

/** A lock: the round of the polka and the block hash it locked on. */
export interface Lock {
  readonly round: number;
  readonly hash: Uint8Array;
}

/** The valid block: the latest block with a polka, and its round. */
export interface ValidBlock {
  readonly round: number;
  readonly block: Block;
}

/** Where the engine is: what a checkpoint records and a resume restores. */
export interface EnginePosition {
  readonly height: number;
  readonly round: number;
  readonly phase: ConsensusPhase;
  /** The first round of the current height (timeouts grow from it). */
  readonly heightStartRound: number;
  readonly roundStartedAt: number;
  /** Hash of the block at `height - 1`. */
  readonly parentHash: Uint8Array;
  readonly locked: Lock | undefined;
  readonly valid: ValidBlock | undefined;
  /** The vote this phase signs: a block hash, null for nil, undefined when it signs nothing. */
  readonly intent: Uint8Array | null | undefined;
  /** Set from the commit phase on. */
  readonly decision: Decision | undefined;
}
