/**
 * Reward distributions as values (docs/evidence-and-rewards.md, "Rewards"): the reasons a
 * validator is paid, the lines and totals of a distribution, the entries and period of a
 * statement, the limits of their fields, and the checks a distribution passes at the API
 * boundary (`checkDistribution`: bounds, the treasury equation, the sum of the lines) with its
 * equality. Every amount is a bigint, never a number. The stored form, queries and the store's
 * interface stay in src/stores/reward-types.ts.
 *
 * model/ holds plain values, their limits and their checks: it does no I/O and imports nothing
 * but model/ itself and src/errors.ts.
 */
import { invalidArgument } from '../errors.ts';
import { checkBigint, checkInteger, checkObject, checkOneOf, checkSafeUint, checkU32 } from './check.ts';
import { checkValidatorId } from './vote.ts';

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
  /**
   * The round that decided the height (0..2^32-1), when the payer gives it; absent in
   * distributions recorded without one (docs/evidence-and-rewards.md, "Record").
   */
  readonly round?: number;
  /** When it was paid (the block time), ms since the epoch, 0..MAX_REWARD_TIMESTAMP. */
  readonly timestamp: number;
  readonly treasuryBefore: bigint;
  readonly treasuryAfter: bigint;
  readonly totalDistributed: bigint;
  /** 0..MAX_REWARD_LINES lines, kept in the given order. */
  readonly lines: readonly RewardLine[];
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

/** The period a statement covers. */
export type StatementPeriod =
  | { readonly kind: 'all' }
  | { readonly kind: 'heights'; readonly fromHeight: number; readonly toHeight: number }
  | { readonly kind: 'dates'; readonly fromDate: number; readonly toDate: number };

/** An amount in [0, 2^128-1]. Throws INVALID_ARGUMENT. */
export function checkAmount(name: string, value: unknown): bigint {
  return checkBigint(name, value, 0n, MAX_REWARD_AMOUNT);
}

/** A distribution timestamp in [0, MAX_REWARD_TIMESTAMP]. Throws INVALID_ARGUMENT. */
export function checkRewardTimestamp(name: string, value: unknown): number {
  return checkInteger(name, value, 0, MAX_REWARD_TIMESTAMP);
}

function checkLines(name: string, value: unknown): RewardLine[] {
  if (!Array.isArray(value)) throw invalidArgument(name, 'must be an array');
  if (value.length > MAX_REWARD_LINES) throw invalidArgument(name, `must hold at most ${MAX_REWARD_LINES} lines, got ${value.length}`);
  return value.map((item: unknown, i) => {
    const l = checkObject(`${name}[${i}]`, item);
    return {
      validatorId: checkValidatorId(`${name}[${i}].validatorId`, l['validatorId']),
      reason: checkOneOf(`${name}[${i}].reason`, l['reason'], REWARD_REASONS),
      amount: checkAmount(`${name}[${i}].amount`, l['amount']),
    };
  });
}

/**
 * Checks a distribution: every field's type and range, at most MAX_REWARD_LINES lines,
 * `treasuryBefore - totalDistributed === treasuryAfter`, and the lines summing to
 * `totalDistributed`. Returns a private copy.
 * @throws ConsensusStoreError INVALID_ARGUMENT naming the first bad field or the broken equation.
 */
export function checkDistribution(name: string, value: unknown): RewardDistribution {
  const d = checkObject(name, value);
  const dist: RewardDistribution = {
    height: checkSafeUint(`${name}.height`, d['height']),
    ...(d['round'] === undefined ? {} : { round: checkU32(`${name}.round`, d['round']) }),
    timestamp: checkRewardTimestamp(`${name}.timestamp`, d['timestamp']),
    treasuryBefore: checkAmount(`${name}.treasuryBefore`, d['treasuryBefore']),
    treasuryAfter: checkAmount(`${name}.treasuryAfter`, d['treasuryAfter']),
    totalDistributed: checkAmount(`${name}.totalDistributed`, d['totalDistributed']),
    lines: checkLines(`${name}.lines`, d['lines']),
  };
  if (dist.treasuryBefore - dist.totalDistributed !== dist.treasuryAfter) {
    throw invalidArgument(
      `${name}.treasuryAfter`,
      `must equal treasuryBefore - totalDistributed (${dist.treasuryBefore} - ${dist.totalDistributed}), got ${dist.treasuryAfter}`,
    );
  }
  let sum = 0n;
  for (const line of dist.lines) sum += line.amount;
  if (sum !== dist.totalDistributed) {
    throw invalidArgument(`${name}.lines`, `must sum to totalDistributed ${dist.totalDistributed}, they sum to ${sum}`);
  }
  return dist;
}

/** True when two checked distributions are equal field by field (lines in order). */
export function sameDistribution(a: RewardDistribution, b: RewardDistribution): boolean {
  if (
    a.height !== b.height ||
    a.round !== b.round ||
    a.timestamp !== b.timestamp ||
    a.treasuryBefore !== b.treasuryBefore ||
    a.treasuryAfter !== b.treasuryAfter ||
    a.totalDistributed !== b.totalDistributed ||
    a.lines.length !== b.lines.length
  ) {
    return false;
  }
  return a.lines.every((l, i) => {
    const m = b.lines[i] as RewardLine;
    return l.validatorId === m.validatorId && l.reason === m.reason && l.amount === m.amount;
  });
}
