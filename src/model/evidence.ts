/**
 * Byzantine evidence as values (docs/evidence-and-rewards.md): the five types of offense, the
 * fields common to all, the verdict and failure codes of a verification, the expiry rule, and
 * `checkEvidence`, the shape check submitted evidence passes at the API boundary (it returns a
 * private copy; whether the evidence verifies is src/codec/evidence-verify.ts's business).
 *
 * Every piece of evidence is a discriminated union member (`type`) with its signed messages in
 * `details`; the fields around it (`validatorId`, `height`, `detectedAt`, `submittedBy`,
 * `verifiedByQuorum`) are common to all types. The stored form, queries and the store's
 * interface stay in src/stores/evidence-types.ts.
 *
 * model/ holds plain values, their limits and their checks: it does no I/O and imports nothing
 * but model/ itself and src/errors.ts.
 */
import { invalidArgument } from '../errors.ts';
import { checkBoolean, checkObject, checkOneOf, checkSafeUint, checkString } from './check.ts';
import { checkSignedProposal, checkValidatorId, checkVote, isWellFormedString } from './vote.ts';
import type { SignedProposal, ValidatorVote } from './vote.ts';

/** The five kinds of offense. */
export type EvidenceType = 'Equivocation' | 'DoubleSign' | 'InvalidSignature' | 'ReplayAttack' | 'ProposalEquivocation';

/** Every evidence type, in code order (the code on disk and in content ids is the index + 1). */
export const EVIDENCE_TYPES: readonly EvidenceType[] = [
  'Equivocation',
  'DoubleSign',
  'InvalidSignature',
  'ReplayAttack',
  'ProposalEquivocation',
];

/** Longest `submittedBy`, in UTF-16 code units (a validator or node id). */
export const MAX_SUBMITTER_LENGTH = 128;

/** Fields every piece of evidence carries. */
export interface EvidenceCommon {
  /** The accused validator (1..128 characters). */
  readonly validatorId: string;
  /** The height of the offense (for a pair of votes at two heights: the lower one). 0..2^53-1. */
  readonly height: number;
  /** When the offense was detected, ms since the epoch. */
  readonly detectedAt: number;
  /** Who reported it: a validator or node id (1..128 characters). */
  readonly submittedBy: string;
  /** True when a quorum of validators has confirmed the evidence (set by the caller; stored as given). */
  readonly verifiedByQuorum: boolean;
}

/**
 * Two signed votes of one validator for the same (round, vote type) that differ in block hash
 * (nil counts as a hash) or in height (rounds are global, so a round has one height).
 */
export interface EquivocationEvidence extends EvidenceCommon {
  readonly type: 'Equivocation';
  readonly details: { readonly voteA: ValidatorVote; readonly voteB: ValidatorVote };
}

/** Two signed `commit` votes of one validator at one height for two different (non-nil) block hashes; rounds may differ. */
export interface DoubleSignEvidence extends EvidenceCommon {
  readonly type: 'DoubleSign';
  readonly details: { readonly voteA: ValidatorVote; readonly voteB: ValidatorVote };
}

/**
 * A vote attributed to the validator whose signature does not verify under the validator's key
 * at that height. It proves that someone sent a forged or corrupted message in the validator's
 * name, not that the validator misbehaved: counted under its own type.
 */
export interface InvalidSignatureEvidence extends EvidenceCommon {
  readonly type: 'InvalidSignature';
  readonly details: { readonly vote: ValidatorVote };
}

/** A genuine, validly signed vote received again at `replayedAt` after it was first seen at `firstSeenAt`. */
export interface ReplayAttackEvidence extends EvidenceCommon {
  readonly type: 'ReplayAttack';
  readonly details: { readonly vote: ValidatorVote; readonly firstSeenAt: number; readonly replayedAt: number };
}

/** Two signed proposals of one proposer for the same (height, round) with different block hashes. */
export interface ProposalEquivocationEvidence extends EvidenceCommon {
  readonly type: 'ProposalEquivocation';
  readonly details: { readonly proposalA: SignedProposal; readonly proposalB: SignedProposal };
}

/** Evidence as submitted to `recordEvidence` or `verifyEvidence`. */
export type ByzantineEvidence =
  | EquivocationEvidence
  | DoubleSignEvidence
  | InvalidSignatureEvidence
  | ReplayAttackEvidence
  | ProposalEquivocationEvidence;

/** Whether stored evidence verified when it was recorded. */
export type EvidenceStatus = 'verified' | 'unverified';

/**
 * Why evidence failed verification (stable codes; `reason` carries the words):
 * - `UNKNOWN_VALIDATOR`: no public key for the validator at that height;
 * - `BAD_SIGNATURE`: a signature that must verify does not;
 * - `SIGNATURE_VALID`: InvalidSignature evidence whose signature in fact verifies;
 * - `VALIDATOR_MISMATCH`: a message is from another validator than `validatorId`;
 * - `HEIGHT_MISMATCH`: `height` is not the height the messages give;
 * - `DIFFERENT_ROUND`, `DIFFERENT_TYPE`, `DIFFERENT_HEIGHT`: the two messages are not for the same slot;
 * - `NOT_CONFLICTING`: the two messages agree (same block hash, and same height where that matters);
 * - `WRONG_VOTE_TYPE`: DoubleSign votes that are not both `commit`;
 * - `NIL_VOTE`: DoubleSign with a nil vote;
 * - `NOT_A_REPLAY`: ReplayAttack whose `replayedAt` is not after `firstSeenAt`.
 */
export type EvidenceFailure =
  | 'UNKNOWN_VALIDATOR'
  | 'BAD_SIGNATURE'
  | 'SIGNATURE_VALID'
  | 'VALIDATOR_MISMATCH'
  | 'HEIGHT_MISMATCH'
  | 'DIFFERENT_ROUND'
  | 'DIFFERENT_TYPE'
  | 'DIFFERENT_HEIGHT'
  | 'NOT_CONFLICTING'
  | 'WRONG_VOTE_TYPE'
  | 'NIL_VOTE'
  | 'NOT_A_REPLAY';

/** Every failure code, in code order (the code on disk is the index). */
export const EVIDENCE_FAILURES: readonly EvidenceFailure[] = [
  'UNKNOWN_VALIDATOR',
  'BAD_SIGNATURE',
  'SIGNATURE_VALID',
  'VALIDATOR_MISMATCH',
  'HEIGHT_MISMATCH',
  'DIFFERENT_ROUND',
  'DIFFERENT_TYPE',
  'DIFFERENT_HEIGHT',
  'NOT_CONFLICTING',
  'WRONG_VOTE_TYPE',
  'NIL_VOTE',
  'NOT_A_REPLAY',
];

/** The verdict of `verifyEvidence`. */
export type EvidenceVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly failure: EvidenceFailure; readonly reason: string };

/**
 * Expiry as CometBFT does it: evidence is expired when it is older than `maxAgeBlocks` blocks
 * below `currentHeight` AND older than `maxAgeMs` before `now` (both must be exceeded).
 */
export interface EvidencePruneRule {
  readonly currentHeight: number;
  /** ms since the epoch. */
  readonly now: number;
  readonly maxAgeBlocks: number;
  readonly maxAgeMs: number;
}

/** A submitter id: 1..128 characters of well-formed Unicode. Throws INVALID_ARGUMENT. */
function checkSubmitter(name: string, value: unknown): string {
  const s = checkString(name, value, MAX_SUBMITTER_LENGTH);
  if (!isWellFormedString(s)) throw invalidArgument(name, 'must be well-formed Unicode (no lone surrogates)');
  return s;
}

/** Checks the fields every piece of evidence carries; returns them. Throws INVALID_ARGUMENT. */
export function checkEvidenceCommon(name: string, e: Record<string, unknown>): EvidenceCommon {
  return {
    validatorId: checkValidatorId(`${name}.validatorId`, e['validatorId']),
    height: checkSafeUint(`${name}.height`, e['height']),
    detectedAt: checkSafeUint(`${name}.detectedAt`, e['detectedAt']),
    submittedBy: checkSubmitter(`${name}.submittedBy`, e['submittedBy']),
    verifiedByQuorum: checkBoolean(`${name}.verifiedByQuorum`, e['verifiedByQuorum']),
  };
}

/**
 * Checks the shape of submitted evidence (every field's type, range and length; not whether it
 * verifies) and returns a private copy that shares no mutable state with the caller.
 * @throws ConsensusStoreError INVALID_ARGUMENT naming the first bad field.
 */
export function checkEvidence(name: string, value: unknown): ByzantineEvidence {
  const e = checkObject(name, value);
  const type = checkOneOf(`${name}.type`, e['type'], EVIDENCE_TYPES);
  const common = checkEvidenceCommon(name, e);
  const d = checkObject(`${name}.details`, e['details']);
  const at = `${name}.details`;
  switch (type) {
    case 'Equivocation':
    case 'DoubleSign':
      return { ...common, type, details: { voteA: checkVote(`${at}.voteA`, d['voteA']), voteB: checkVote(`${at}.voteB`, d['voteB']) } };
    case 'InvalidSignature':
      return { ...common, type, details: { vote: checkVote(`${at}.vote`, d['vote']) } };
    case 'ReplayAttack':
      return {
        ...common,
        type,
        details: {
          vote: checkVote(`${at}.vote`, d['vote']),
          firstSeenAt: checkSafeUint(`${at}.firstSeenAt`, d['firstSeenAt']),
          replayedAt: checkSafeUint(`${at}.replayedAt`, d['replayedAt']),
        },
      };
    case 'ProposalEquivocation':
      return {
        ...common,
        type,
        details: {
          proposalA: checkSignedProposal(`${at}.proposalA`, d['proposalA']),
          proposalB: checkSignedProposal(`${at}.proposalB`, d['proposalB']),
        },
      };
  }
}
