/**
 * The RoundStateStore's and RecoveryManager's types: the stored checkpoint, queries and options
 * with their limits, what `recover()` returns and where the engine resumes, and the interfaces a
 * backend implements (the conformance suite is written against them). The round state itself,
 * its phases, limits and `checkRoundState` are in src/model/round.ts. Plain data and signatures
 * only: no behaviour, no I/O here.
 */
import type { Lsn, RepairReport } from '../log/types.ts';
import type { ConsensusPhase, RoundState } from '../model/round.ts';
import type { HeightRangeQuery, QueryPage } from './query-types.ts';
import type { VoteLogEntry } from './vote-types.ts';

/** Default and largest `limit` of `listRoundStates`. */
export const DEFAULT_ROUND_LIST_LIMIT = 100;
/** Largest `limit` of `listRoundStates`. */
export const MAX_ROUND_LIST_LIMIT = 10_000;
/** Default and largest `checkpointInterval` (phase changes). */
export const DEFAULT_CHECKPOINT_INTERVAL = 1;
/** Largest `checkpointInterval`. */
export const MAX_CHECKPOINT_INTERVAL = 1_000;

/** A durable round-state checkpoint. */
export interface RoundStateSnapshot {
  /** The checkpoint record's LSN. */
  readonly id: Lsn;
  readonly state: RoundState;
  /** When this node recorded it (the store's clock), ms since the epoch. */
  readonly recordedAt: number;
}

/**
 * The range and size of `listRoundStates`: `{ startHeight?, endHeight?, limit? }`, heights
 * inclusive; `limit` default `DEFAULT_ROUND_LIST_LIMIT`, at most `MAX_ROUND_LIST_LIMIT`. Any
 * other key is INVALID_ARGUMENT.
 */
export type RoundStateQuery = HeightRangeQuery;

/** Options of `RoundStateStore`. */
export interface RoundStateStoreOptions {
  /**
   * How many phase changes within one round the consensus engine may let pass between durable
   * checkpoints (1..1000, default 1: every phase change). Height, round, lock and valid-value
   * changes are always checkpointed; `shouldCheckpoint` applies the rule.
   */
  readonly checkpointInterval?: number;
}

/** The six methods of the specification's RoundStateStore. Every backend implements this. */
export interface RoundStateStore {
  /**
   * Whether the consensus engine should checkpoint `next` under `checkpointInterval` (a change
   * of height, round, lock, proposal or app data, `checkpointInterval` phases, or `finalize`).
   */
  shouldCheckpoint(next: RoundState): boolean;
  /** The configured checkpoint interval (phase changes). */
  readonly checkpointInterval: number;
  /** Durably records `state`; resolves with the checkpoint once durable. */
  saveRoundState(state: RoundState): Promise<RoundStateSnapshot>;
  /** The latest checkpoint, or undefined if none was ever saved. */
  loadRoundState(): Promise<RoundStateSnapshot | undefined>;
  /** The latest checkpoint at `height` (and `round`, when given), or undefined. */
  getRoundStateAt(height: number, round?: number): Promise<RoundStateSnapshot | undefined>;
  /** Checkpoints in (height, round, LSN) order within the query's range, at most its limit (`truncated` when more matched). */
  listRoundStates(query?: RoundStateQuery): Promise<QueryPage<RoundStateSnapshot>>;
  /** Durably drops every checkpoint below `height`; resolves with how many were dropped. */
  pruneBeforeHeight(height: number): Promise<number>;
}

/** What the log's open did, as `recover()` reports it (from `Log.openReport`). */
export interface RecoveryOpenReport {
  readonly tornBytesCut: number;
  readonly recordsScanned: number;
  readonly segmentsScanned: number;
  readonly durationMs: number;
  /** Present when an explicit repair cut damaged data (D5, docs/durability.md). */
  readonly repair?: RepairReport;
}

/** The start-up integrity check of `recover()`. */
export interface IntegrityReport {
  /** True when no problem was found. */
  readonly ok: boolean;
  /** How many records were re-read and compared. */
  readonly checked: number;
  /** One line per problem, naming the LSN. */
  readonly problems: readonly string[];
}

/** What `RecoveryManager.recover()` returns. */
export interface RecoveryState {
  /** True when a round-state checkpoint was found (there is a point to resume at). */
  readonly recovered: boolean;
  /** The latest checkpoint. */
  readonly roundState?: RoundStateSnapshot;
  /** The votes stored for the checkpoint's round (empty when there is none). */
  readonly votes: readonly VoteLogEntry[];
  readonly open: RecoveryOpenReport;
  readonly integrity: IntegrityReport;
  /** Time `recover()` itself took, in ms. */
  readonly durationMs: number;
}

/**
 * Where the consensus engine resumes after a restart. After a `finalize` checkpoint this is the
 * next height, in the next round, at `propose`, with no lock; otherwise it is the checkpoint's
 * own (height, round, phase) with its lock and valid value.
 */
export interface ResumePoint {
  readonly height: number;
  readonly round: number;
  readonly phase: ConsensusPhase;
  readonly lockedRound?: number;
  readonly lockedBlockHash?: Uint8Array;
  readonly validRound?: number;
  readonly validBlockHash?: Uint8Array;
  /** The checkpoint it was derived from. */
  readonly fromCheckpoint: Lsn;
}

/** Crash recovery over the round-state and vote stores (docs/stores-rounds-validators.md). */
export interface RecoveryManager {
  /**
   * The latest checkpoint with its round's votes, what the open did, and a start-up integrity
   * check. `recovered` is false when no checkpoint exists.
   */
  recover(): Promise<RecoveryState>;
  /** Where the node resumes: the latest checkpoint's height, round and phase, or undefined. */
  resumePoint(): Promise<ResumePoint | undefined>;
}
