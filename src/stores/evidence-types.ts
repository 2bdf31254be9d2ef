/**
 * The Byzantine-evidence types of the specification, in TypeScript form, plus the interface a
 * ByzantineEvidenceStore backend implements (the conformance suite is written against it).
 * Plain data and signatures only: no behaviour, no I/O, nothing that imports a backend.
 *
 * Every piece of evidence is a discriminated union member (`type`) with its signed messages in
 * `details`; the fields around it (`validatorId`, `height`, `detectedAt`, `submittedBy`,
 * `verifiedByQuorum`) are common to all types. docs/evidence-and-rewards.md says what each
 * type proves and how it is checked.
 */
import type { Lsn } from '../log/types.ts';
import type { SignedProposal, ValidatorVote } from './vote-types.ts';

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
/** Default `limit` of the evidence queries. */
export const DEFAULT_EVIDENCE_QUERY_LIMIT = 1_000;
/** Largest `limit` of the evidence queries. */
export const MAX_EVIDENCE_QUERY_LIMIT = 10_000;
/** Most evidence records one conflicting vote adds to its batch (one per earlier conflicting vote, oldest first). */
export const MAX_EVIDENCE_PER_VOTE = 8;

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

/** What stored evidence adds to the submitted evidence. */
export interface StoredEvidenceInfo {
  /** The content id: lowercase hex SHA-256 of the canonical content bytes (64 characters). */
  readonly id: string;
  /** LSN of the record that first stored it. */
  readonly lsn: Lsn;
  /** When this node first recorded it, ms since the epoch. */
  readonly recordedAt: number;
  /** `verified`: it passed `verifyEvidence` when recorded (or when upgraded). */
  readonly status: EvidenceStatus;
  /** For `unverified` evidence: why verification failed when it was recorded. */
  readonly failure?: EvidenceFailure;
}

/** Evidence as stored. Pairs of messages are in canonical order (so `(a, b)` and `(b, a)` read back the same). */
export type StoredEvidence = ByzantineEvidence & StoredEvidenceInfo;

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

/** Options of `recordEvidence`. */
export interface RecordEvidenceOptions {
  /**
   * Store the evidence even when it does not verify, as `unverified` (counted apart). It is
   * still checked: evidence that does verify is stored as `verified`. Default false: evidence
   * that does not verify is rejected with INVALID_ARGUMENT.
   */
  readonly unverified?: boolean;
}

/**
 * What `recordEvidence` did:
 * - `stored`: new evidence, now durable;
 * - `duplicate`: the same content was already stored (nothing written; the stored one returned);
 * - `upgraded`: it was stored `unverified` and now verifies: a record marks it `verified`.
 */
export type RecordEvidenceOutcome = 'stored' | 'duplicate' | 'upgraded';

/** The result of `recordEvidence`. */
export interface RecordEvidenceResult {
  readonly evidence: StoredEvidence;
  readonly outcome: RecordEvidenceOutcome;
}

/** Options of the evidence queries. Heights are inclusive; results in (height, LSN) order. */
export interface EvidenceQueryOptions {
  readonly fromHeight?: number;
  readonly toHeight?: number;
  /** 1..MAX_EVIDENCE_QUERY_LIMIT; default DEFAULT_EVIDENCE_QUERY_LIMIT. */
  readonly limit?: number;
}

/** Counts of one validator's offenses, pruned evidence included. */
export interface OffenseCount {
  /** Evidence that verified. */
  readonly verified: number;
  /** Evidence stored explicitly as unverified (and not upgraded since). */
  readonly unverified: number;
  /** The same split per type. */
  readonly byType: Readonly<Record<EvidenceType, { readonly verified: number; readonly unverified: number }>>;
}

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

/** The ByzantineEvidenceStore interface: what every backend implements and the conformance suite checks. */
export interface ByzantineEvidenceStoreApi {
  recordEvidence(evidence: ByzantineEvidence, options?: RecordEvidenceOptions): Promise<RecordEvidenceResult>;
  getEvidence(id: string): Promise<StoredEvidence | undefined>;
  queryByValidator(validatorId: string, options?: EvidenceQueryOptions): Promise<StoredEvidence[]>;
  queryByType(type: EvidenceType, options?: EvidenceQueryOptions): Promise<StoredEvidence[]>;
  getOffenseCount(validatorId: string): Promise<OffenseCount>;
  verifyEvidence(evidenceOrId: ByzantineEvidence | string): Promise<EvidenceVerdict>;
  pruneExpired(rule: EvidencePruneRule): Promise<{ readonly pruned: number }>;
}
