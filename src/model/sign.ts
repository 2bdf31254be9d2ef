/**
 * What the sign guard orders and remembers: the steps of a (height, round) in signing order,
 * the watermark (the last height, round and step a key signed), and the check of a private key
 * handed to it. docs/stores.md, "The sign guard", and D8 in docs/durability.md give the rules.
 *
 * model/ holds plain values, their limits and their checks: it does no I/O and imports nothing
 * but model/ itself and src/errors.ts.
 */
import { checkBytes } from './check.ts';
import { ED25519_KEY_BYTES, type VoteType } from './vote.ts';

/** Sign-guard steps, in the order they happen within one (height, round). */
export type SignStep = 'propose' | VoteType;

/** All steps in order: propose < prevote < precommit < commit. */
export const SIGN_STEPS: readonly SignStep[] = ['propose', 'prevote', 'precommit', 'commit'];

/** The last (height, round, step) a key signed: the sign guard's watermark. */
export interface SignWatermark {
  readonly height: number;
  readonly round: number;
  readonly step: SignStep;
}

/** Checks a 32-byte ed25519 private key (seed). Throws INVALID_ARGUMENT. */
export function checkPrivateKey(name: string, value: unknown): Uint8Array {
  return checkBytes(name, value, ED25519_KEY_BYTES);
}
