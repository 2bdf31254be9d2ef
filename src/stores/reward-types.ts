/**
 * The RewardHistory's types: the stored distribution, a validator's rewards over a range, the
 * queries and statement requests with their limits, and the interface a backend implements (the
 * conformance suite is written against it). The distribution itself, its limits and checks are
 * in src/model/reward.ts. Plain data and signatures only: no behaviour, no I/O. Every amount is
 * a bigint, never a number.
 */
import type { Lsn } from '../log/types.ts';
import type { RewardDistribution, RewardEntry, RewardReason, RewardTotals } from '../model/reward.ts';
import type { HeightRangeQuery, QueryPage } from './query-types.ts';
import type { RewardStatement } from './reward-statement.ts';

/** Default `limit` of `queryDistributions`. */
export const DEFAULT_DISTRIBUTION_QUERY_LIMIT = 1_000;
/** Largest `limit` of `queryDistributions`. */
export const MAX_DISTRIBUTION_QUERY_LIMIT = 10_000;
/** Default `limit` of `getValidatorRewards` and `maxEntries` of `exportRewards`. */
export const DEFAULT_STATEMENT_ENTRIES = 100_000;
/** Largest `limit` of `getValidatorRewards` and `maxEntries` of `exportRewards`. */
export const MAX_STATEMENT_ENTRIES = 1_000_000;

/** A durable distribution. */
export interface StoredDistribution extends RewardDistribution {
  /** The record's LSN. */
  readonly id: Lsn;
  /** When this node recorded it, ms since the epoch. */
  readonly recordedAt: number;
}

/**
 * The range of `getValidatorRewards`: `{ startHeight?, endHeight?, limit? }`, heights inclusive
 * (absent: every height); `limit` is the most entries listed (the totals always cover the whole
 * range), default 100,000, at most 1,000,000. Any other key is INVALID_ARGUMENT.
 */
export type ValidatorRewardsQuery = HeightRangeQuery;


/** A validator's rewards over a height range (inclusive). */
export interface ValidatorRewards {
  readonly validatorId: string;
  /** The range the totals cover (the query's, absent ends filled in). */
  readonly startHeight: number;
  readonly endHeight: number;
  /** Exact sum over the whole range. */
  readonly total: bigint;
  readonly byReason: RewardTotals;
  /** Number of rewards in the range. */
  readonly count: number;
  /** The rewards in (height, line) order, at most the query's `limit`. */
  readonly entries: readonly RewardEntry[];
  /** True when `entries` stopped at `limit` (the totals did not). */
  readonly truncated: boolean;
}

/**
 * A filter over distributions; every field optional, all given fields must hold, any other key
 * is INVALID_ARGUMENT. Heights are inclusive. With `validatorId` and/or `reason`, a
 * distribution matches when one of its lines matches both. Results in height order, at most
 * `limit` (1..MAX_DISTRIBUTION_QUERY_LIMIT; default DEFAULT_DISTRIBUTION_QUERY_LIMIT).
 */
export interface DistributionQuery extends HeightRangeQuery {
  readonly validatorId?: string;
  readonly reason?: RewardReason;
}

/**
 * The period and subject of a statement. Give heights (`startHeight`, `endHeight`, both
 * inclusive) or dates (`startDate` inclusive, `endDate` exclusive, so that a tax year is
 * `[Jan 1, Jan 1 next year)`), not both; neither means everything. Dates are `Date` objects or
 * ms since the epoch. Any other key is INVALID_ARGUMENT. A statement is never cut short:
 * `maxEntries` is a cap that refuses, not a limit that truncates.
 */
export interface RewardExportQuery {
  readonly validatorId?: string;
  readonly startHeight?: number;
  readonly endHeight?: number;
  readonly startDate?: Date | number;
  readonly endDate?: Date | number;
  /** Most entries; default 100,000, at most 1,000,000. A period holding more is INVALID_ARGUMENT (narrow it). */
  readonly maxEntries?: number;
}

/** The RewardHistory interface: what every backend implements and the conformance suite checks. */
export interface RewardHistory {
  /** Number of distributions held. */
  readonly size: number;
  recordDistribution(distribution: RewardDistribution): Promise<StoredDistribution>;
  /** Totals over the query's range and the rewards themselves, at most its limit (`truncated` when more matched). */
  getValidatorRewards(validatorId: string, query?: ValidatorRewardsQuery): Promise<ValidatorRewards>;
  getTotalDistributed(height: number): Promise<bigint>;
  getCumulativeDistributed(height: number): Promise<bigint>;
  /** Matching distributions in height order, at most the query's limit (`truncated` when more matched). */
  queryDistributions(query?: DistributionQuery): Promise<QueryPage<StoredDistribution>>;
  exportRewards(query?: RewardExportQuery): Promise<RewardStatement>;
}
