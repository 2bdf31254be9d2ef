/**
 * What the sign guard orders and remembers: the steps of a (height, round) in signing order,
 * the watermark (the last height, round and step a key signed), and the check of a private key
 * handed to it. docs/stores.md, "The sign guard", and D8 in docs/durability.md give the rules.
 *
 * model/ holds plain values, their limits and their checks: it does no I/O and imports nothing
 * but model/ itself and src/errors.ts.
 */
import { checkBytes, checkKeys, checkObject, checkOneOf, checkSafeUint, checkU32 } from './check.ts';
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

/**
 * Checks a watermark (height, round, step; no other key).
 * @throws ConsensusStoreError INVALID_ARGUMENT naming `${name}.<field>`.
 */
export function checkWatermark(name: string, value: unknown): SignWatermark {
  const w = checkObject(name, value);
  checkKeys(name, w, ['height', 'round', 'step']);
  return {
    height: checkSafeUint(`${name}.height`, w['height']),
    round: checkU32(`${name}.round`, w['round']),
    step: checkOneOf(`${name}.step`, w['step'], SIGN_STEPS),
  };
}
