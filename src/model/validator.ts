/**
 * A validator as a value: its status, the limits of its fields (validatorId, public key, stake, reason,
 * evidence id), the registration and slash requests a registry takes, and the check of a public
 * key. Stakes are bigint, never number. docs/stores-rounds-validators.md, "ValidatorRegistry",
 * gives the rules; the registry's own history and query types stay in
 * src/stores/validator-types.ts.
 *
 * model/ holds plain values, their limits and their checks: it does no I/O and imports nothing
 * but model/ itself and src/errors.ts.
 */
import { Point } from '@noble/ed25519';
import { invalidArgument } from '../errors.ts';
import { checkBytes } from './check.ts';

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

/** A validator as it stands at some height. */
export interface Validator {
  /** 1..128 characters, unique in the registry (the `validatorId` of its votes). */
  readonly validatorId: string;
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

/** What `registerValidator` takes (no other key). `status` defaults to `active`. */
export interface ValidatorRegistration {
  readonly validatorId: string;
  readonly publicKey: Uint8Array;
  readonly stake: bigint;
  readonly status?: ValidatorStatus;
}

/** A slash as a fraction of the stake held at the slash's height; rounded down. No other key. */
export interface SlashFraction {
  /** 0 <= numerator <= denominator. */
  readonly numerator: bigint;
  /** 1 <= denominator <= MAX_STAKE. */
  readonly denominator: bigint;
}

/** What `recordSlash` takes (no other key): exactly one of `amount` and `fraction`. */
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

/** A validator's public key: 32 bytes that decode to an ed25519 curve point; returns a copy. Throws INVALID_ARGUMENT. */
export function checkPublicKey(name: string, value: unknown): Uint8Array {
  const key = new Uint8Array(checkBytes(name, value, PUBLIC_KEY_LENGTH));
  try {
    Point.fromBytes(key);
  } catch {
    throw invalidArgument(name, 'is not a valid ed25519 public key (not a curve point)');
  }
  return key;
}

/** The keys of a `ValidatorRegistration`. */
export const VALIDATOR_REGISTRATION_KEYS: readonly string[] = ['validatorId', 'publicKey', 'stake', 'status'];
/** The keys of a `SlashInput`. */
export const SLASH_INPUT_KEYS: readonly string[] = ['validatorId', 'height', 'amount', 'fraction', 'reason', 'evidenceId', 'status'];
/** The keys of a `SlashFraction`. */
export const SLASH_FRACTION_KEYS: readonly string[] = ['numerator', 'denominator'];
