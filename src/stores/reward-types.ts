/**
 * The reward-history types of the specification, in TypeScript form, plus the interface a
 * RewardHistory backend implements (the conformance suite is written against it). Plain data
 * and signatures only: no behaviour, no I/O. Every amount is a bigint, never a number.
 */
import type { Lsn } from '../log/types.ts';
import type { RewardStatement } from './reward-statement.ts';

/** Why a validator was paid. */
export type RewardReason = 'BlockProposal' | 'SuccessfulVote' | 'ValidatorStaking' | 'StorageProof';

/** Every reason, in code order (the code on disk is the index). */
export const REWARD_REASONS: readonly RewardReason[] = ['BlockProposal', 'SuccessfulVote', 'ValidatorStaking', 'StorageProof'];

/** Every amount (treasury, total, line) is below 2^128. */
export const MAX_REWARD_AMOUNT = (1n << 128n) - 1n;
/** Most lines one distribution holds (so that its record stays well under the log's 1 MiB record limit). */
export const MAX_REWARD_LINES = 2_048;
/** Largest timestamp: the last ms a JavaScript Date (and ISO 8601 output) can represent. */
export const MAX_REWARD_TIMESTAMP = 8_640_000_000_000_000;
/** Default `limit` of `queryDistributions`. */
export const DEFAULT_DISTRIBUTION_QUERY_LIMIT = 1_000;
/** Largest `limit` of `queryDistributions`. */
export const MAX_DISTRIBUTION_QUERY_LIMIT = 10_000;
/** Default `maxEntries` of `getValidatorRewards` and `exportRewards`. */
export const DEFAULT_STATEMENT_ENTRIES = 100_000;
/** Largest `maxEntries` of `getValidatorRewards` and `exportRewards`. */
export const MAX_STATEMENT_ENTRIES = 1_000_000;

/** One payment of a distribution. */
export interface RewardLine {
  /** 1..128 characters. */
  readonly validatorId: string;
  readonly reason: RewardReason;
  /** 0 <= amount <= MAX_REWARD_AMOUNT. */
  readonly amount: bigint;
}

/**
 * What was paid at one height. Must hold: `treasuryBefore - totalDistributed === treasuryAfter`
 * and the lines sum to `totalDistributed`.
 */
export interface RewardDistribution {
  /** Block height, 0..2^53-1; one distribution per height. */
  readonly height: number;
  /** When it was paid (the block time), ms since the epoch, 0..MAX_REWARD_TIMESTAMP. */
  readonly timestamp: number;
  readonly treasuryBefore: bigint;
  readonly treasuryAfter: bigint;
  readonly totalDistributed: bigint;
  /** 0..MAX_REWARD_LINES lines, kept in the given order. */
  readonly lines: readonly RewardLine[];
}

/** A durable distribution. */
export interface StoredDistribution extends RewardDistribution {
  /** The record's LSN. */
  readonly id: Lsn;
  /** When this node recorded it, ms since the epoch. */
  readonly recordedAt: number;
}

/** One reward with the context of its distribution: a line of a statement. */
export interface RewardEntry {
  readonly height: number;
  /** ms since the epoch (ISO 8601 UTC in CSV). */
  readonly timestamp: number;
  readonly validatorId: string;
  readonly reason: RewardReason;
  readonly amount: bigint;
}

/** Exact totals per reason. */
export type RewardTotals = Readonly<Record<RewardReason, bigint>>;

/** Options of `getValidatorRewards`. */
export interface ValidatorRewardsOptions {
  /** Most entries listed (totals always cover the whole range); default 100,000, at most 1,000,000. */
  readonly maxEntries?: number;
}

/** A validator's rewards over a height range (inclusive). */
export interface ValidatorRewards {
  readonly validatorId: string;
  readonly fromHeight: number;
  readonly toHeight: number;
  /** Exact sum over the whole range. */
  readonly total: bigint;
  readonly byReason: RewardTotals;
  /** Number of rewards in the range. */
  readonly count: number;
  /** The rewards in (height, line) order, at most `maxEntries`. */
  readonly entries: readonly RewardEntry[];
  /** True when `entries` stopped at `maxEntries` (the totals did not). */
  readonly truncated: boolean;
}

/**
 * A filter over distributions; every field optional, all given fields must hold. Heights are
 * inclusive. With `validatorId` and/or `reason`, a distribution matches when one of its lines
 * matches both. Results in height order, at most `limit`.
 */
export interface DistributionQuery {
  readonly fromHeight?: number;
  readonly toHeight?: number;
  readonly validatorId?: string;
  readonly reason?: RewardReason;
  /** 1..MAX_DISTRIBUTION_QUERY_LIMIT; default DEFAULT_DISTRIBUTION_QUERY_LIMIT. */
  readonly limit?: number;
}

/**
 * The period and subject of a statement. Give heights (inclusive) or dates (`fromDate`
 * inclusive, `toDate` exclusive, so that a tax year is `[Jan 1, Jan 1 next year)`), not both;
 * neither means everything. Dates are `Date` objects or ms since the epoch.
 */
export interface RewardExportQuery {
  readonly validatorId?: string;
  readonly fromHeight?: number;
  readonly toHeight?: number;
  readonly fromDate?: Date | number;
  readonly toDate?: Date | number;
  /** Most entries; default 100,000, at most 1,000,000. A period holding more is INVALID_ARGUMENT (narrow it). */
  readonly maxEntries?: number;
}

/** The period a statement covers. */
export type StatementPeriod =
  | { readonly kind: 'all' }
  | { readonly kind: 'heights'; readonly fromHeight: number; readonly toHeight: number }
  | { readonly kind: 'dates'; readonly fromDate: number; readonly toDate: number };

/** The RewardHistory interface: what every backend implements and the conformance suite checks. */
export interface RewardHistoryApi {
  recordDistribution(distribution: RewardDistribution): Promise<StoredDistribution>;
  getValidatorRewards(validatorId: string, fromHeight: number, toHeight: number, options?: ValidatorRewardsOptions): Promise<ValidatorRewards>;
  getTotalDistributed(height: number): Promise<bigint>;
  getCumulativeDistributed(height: number): Promise<bigint>;
  queryDistributions(query?: DistributionQuery): Promise<StoredDistribution[]>;
  exportRewards(query?: RewardExportQuery): Promise<RewardStatement>;
}
