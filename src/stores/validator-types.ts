/**
 * The validator-registry types of the specification, in TypeScript form, plus the interface a
 * ValidatorRegistry backend implements (the conformance suite is written against it). Plain
 * data and signatures only: no behaviour, no I/O here. Stakes are bigint, never number.
 */
import type { Lsn } from '../log/types.ts';

/** A validator's standing. `tombstoned` is terminal: no status change leaves it. */
export type ValidatorStatus = 'active' | 'jailed' | 'tombstoned' | 'inactive';

/** Every status. */
export const VALIDATOR_STATUSES: readonly ValidatorStatus[] = ['active', 'jailed', 'tombstoned', 'inactive'];

/** Longest validator id. */
export const MAX_VALIDATOR_ID_LENGTH = 128;
/** Length of an ed25519 public key. */
export const PUBLIC_KEY_LENGTH = 32;
/** Stakes and slash amounts are below 2^128. */
export const MAX_STAKE = (1n << 128n) - 1n;
/** Longest `reason` of a change. */
export const MAX_REASON_LENGTH = 1024;
/** Longest `evidenceId` of a slash. */
export const MAX_EVIDENCE_ID_LENGTH = 256;
/** Most validators a registry holds (so that a set snapshot is bounded). */
export const MAX_VALIDATORS = 65_536;
/** Default `limit` of `getValidatorHistory`. */
export const DEFAULT_HISTORY_LIMIT = 1_000;
/** Largest `limit` of `getValidatorHistory`. */
export const MAX_HISTORY_LIMIT = 10_000;

/** A validator as it stands at some height. */
export interface Validator {
  /** 1..128 characters, unique in the registry. */
  readonly id: string;
  /** 32-byte ed25519 public key, unique in the registry. */
  readonly publicKey: Uint8Array;
  /** Bonded stake, 0 <= stake <= MAX_STAKE. */
  readonly stake: bigint;
  readonly status: ValidatorStatus;
  /** The height its registration took effect at. */
  readonly registeredAtHeight: number;
  /** The height of the latest change in effect (registration included). */
  readonly updatedAtHeight: number;
  /** Sum of every slash in effect so far. */
  readonly totalSlashed: bigint;
}

/** What `registerValidator` takes. `status` defaults to `active`. */
export interface ValidatorRegistration {
  readonly id: string;
  readonly publicKey: Uint8Array;
  readonly stake: bigint;
  readonly status?: ValidatorStatus;
}

/** The set as it was at one height. */
export interface ValidatorSetSnapshot {
  readonly height: number;
  /** Every validator registered at or before `height` (any status), in id order. */
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

/** A slash as a fraction of the stake held at the slash's height; rounded down. */
export interface SlashFraction {
  /** 0 <= numerator <= denominator. */
  readonly numerator: bigint;
  /** 1 <= denominator <= MAX_STAKE. */
  readonly denominator: bigint;
}

/** What `recordSlash` takes: exactly one of `amount` and `fraction`. */
export interface SlashInput {
  readonly validatorId: string;
  /** The height it takes effect at. */
  readonly height: number;
  /** Absolute amount; capped at the stake held. */
  readonly amount?: bigint;
  /** Fraction of the stake held. */
  readonly fraction?: SlashFraction;
  readonly reason: string;
  readonly evidenceId?: string;
  /** Status after the slash (`jailed` or `tombstoned`); default unchanged. Ignored on a tombstoned validator. */
  readonly status?: 'jailed' | 'tombstoned';
}

/** Range and size of `getValidatorHistory`. Heights are inclusive. */
export interface ValidatorHistoryQuery {
  readonly fromHeight?: number;
  readonly toHeight?: number;
  /** At most this many, oldest first; default `DEFAULT_HISTORY_LIMIT`, at most `MAX_HISTORY_LIMIT`. */
  readonly limit?: number;
}

/** The seven methods of the specification's ValidatorRegistry. Every backend implements this. */
export interface ValidatorRegistryApi {
  registerValidator(validator: ValidatorRegistration, effectiveHeight: number): Promise<ValidatorChange>;
  getValidatorsAtHeight(height: number): Promise<ValidatorSetSnapshot>;
  updateStake(id: string, stake: bigint, effectiveHeight: number, reason?: string): Promise<ValidatorChange>;
  updateStatus(id: string, status: ValidatorStatus, effectiveHeight: number, reason: string): Promise<ValidatorChange>;
  getValidator(id: string, atHeight?: number): Promise<Validator | undefined>;
  getValidatorHistory(id: string, query?: ValidatorHistoryQuery): Promise<readonly ValidatorChange[]>;
  recordSlash(slash: SlashInput): Promise<ValidatorChange>;
}
