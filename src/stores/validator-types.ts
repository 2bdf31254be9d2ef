/**
 * The ValidatorRegistry's types: the set at a height, a validator's history of changes, its
 * query and limits, and the interface a backend implements (the conformance suite is written
 * against it). The validator itself, its status, the limits of its fields and the registration
 * and slash requests are in src/model/validator.ts. Plain data and signatures only: no
 * behaviour, no I/O here. Stakes are bigint, never number.
 */
import type { Lsn } from '../log/types.ts';
import type { SlashInput, Validator, ValidatorRegistration, ValidatorStatus } from '../model/validator.ts';
import type { HeightRangeQuery, QueryPage } from './query-types.ts';

/** Most validators a registry holds (so that a set snapshot is bounded). */
export const MAX_VALIDATORS = 65_536;
/** Default `limit` of `getValidatorHistory`. */
export const DEFAULT_HISTORY_LIMIT = 1_000;
/** Largest `limit` of `getValidatorHistory`. */
export const MAX_HISTORY_LIMIT = 10_000;

/** The set as it was at one height. */
export interface ValidatorSetSnapshot {
  readonly height: number;
  /** Every validator registered at or before `height` (any status), in `validatorId` order. */
  readonly validators: readonly Validator[];
  /** Sum of the stakes of `validators`. */
  readonly totalStake: bigint;
  /** Sum of the stakes of the `active` ones. */
  readonly activeStake: bigint;
}

/** The kinds of change a validator's history holds. */
export type ValidatorChangeKind = 'register' | 'stake' | 'status' | 'slash';

/** Details of a slash change. */
export interface SlashDetails {
  /** What the caller asked to slash (absolute, or the fraction applied to the stake). */
  readonly requested: bigint;
  /** What was taken: `requested`, capped at the stake then held. */
  readonly amount: bigint;
  readonly evidenceId?: string;
}

/** One entry of a validator's history. */
export interface ValidatorChange {
  /** The change record's LSN. */
  readonly id: Lsn;
  readonly kind: ValidatorChangeKind;
  readonly validatorId: string;
  /** The height it takes effect at (it applies from this height on). */
  readonly height: number;
  readonly reason?: string;
  /** The validator just before (absent for `register`). */
  readonly before?: Validator;
  /** The validator just after. */
  readonly after: Validator;
  /** Present on `slash` changes. */
  readonly slash?: SlashDetails;
  /** When this node recorded it, ms since the epoch. */
  readonly recordedAt: number;
}

/**
 * Range and size of `getValidatorHistory`: `{ startHeight?, endHeight?, limit? }`, heights
 * inclusive; `limit` default `DEFAULT_HISTORY_LIMIT`, at most `MAX_HISTORY_LIMIT`. Any other key
 * is INVALID_ARGUMENT.
 */
export type ValidatorHistoryQuery = HeightRangeQuery;

/** The seven methods of the specification's ValidatorRegistry. Every backend implements this. */
export interface ValidatorRegistry {
  /**
   * The public key `validatorId` had at `height` (the last key registered at or before it), or
   * undefined when it was not registered then. Synchronous, from memory.
   */
  publicKeyAt(validatorId: string, height: number): Uint8Array | undefined;
  registerValidator(validator: ValidatorRegistration, effectiveHeight: number): Promise<ValidatorChange>;
  getValidatorsAtHeight(height: number): Promise<ValidatorSetSnapshot>;
  updateStake(validatorId: string, stake: bigint, effectiveHeight: number, reason?: string): Promise<ValidatorChange>;
  updateStatus(validatorId: string, status: ValidatorStatus, effectiveHeight: number, reason: string): Promise<ValidatorChange>;
  /** The validator as it stood at `atHeight` (default: now), or undefined (unknown, or not registered yet then). */
  getValidator(validatorId: string, atHeight?: number): Promise<Validator | undefined>;
  /** Its changes in (height, LSN) order within the query's range, at most its limit (`truncated` when more matched). */
  getValidatorHistory(validatorId: string, query?: ValidatorHistoryQuery): Promise<QueryPage<ValidatorChange>>;
  recordSlash(slash: SlashInput): Promise<ValidatorChange>;
}
