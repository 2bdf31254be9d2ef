/**
 * The RewardHistory's types: the stored distribution, a validator's rewards over a range, the
 * queries and statement requests with their limits, and the interface a backend implements (the
 * conformance suite is written against it). The distribution itself, its limits and checks are
 * in src/model/reward.ts. Plain data and signatures only: no behaviour, no I/O. Every amount is
 * a bigint, never a number.
 */
import type { Lsn } from '../log/types.ts';
import type { RewardDistribution, RewardEntry, RewardReason, RewardTotals } from '../model/reward.ts';
import type { RewardStatement } from './reward-statement.ts';

/** Default `limit` of `queryDistributions`. */
export const DEFAULT_DISTRIBUTION_QUERY_LIMIT = 1_000;
/** Largest `limit` of `queryDistributions`. */
export const MAX_DISTRIBUTION_QUERY_LIMIT = 10_000;
/** Default `maxEntries` of `getValidatorRewards` and `exportRewards`. */
export const DEFAULT_STATEMENT_ENTRIES = 100_000;
/** Largest `maxEntries` of `getValidatorRewards` and `exportRewards`. */
export const MAX_STATEMENT_ENTRIES = 1_000_000;

/** A durable distribution. */
export interface StoredDistribution extends RewardDistribution {
  /** The record's LSN. */
  readonly id: Lsn;
  /** When this node recorded it, ms since the epoch. */
  readonly recordedAt: number;
}

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

/** The RewardHistory interface: what every backend implements and the conformance suite checks. */
export interface RewardHistory {
  /** Number of distributions held. */
  readonly size: number;
  recordDistribution(distribution: RewardDistribution): Promise<StoredDistribution>;
  getValidatorRewards(validatorId: string, fromHeight: number, toHeight: number, options?: ValidatorRewardsOptions): Promise<ValidatorRewards>;
  getTotalDistributed(height: number): Promise<bigint>;
  getCumulativeDistributed(height: number): Promise<bigint>;
  queryDistributions(query?: DistributionQuery): Promise<StoredDistribution[]>;
  exportRewards(query?: RewardExportQuery): Promise<RewardStatement>;
}
