/**
 * The ByzantineEvidenceStore's types: evidence as stored, what `recordEvidence` reports, the
 * queries and their limits, offense counts, and the interface a backend implements (the
 * conformance suite is written against it). The evidence itself (its types, limits and
 * `checkEvidence`) is in src/model/evidence.ts; docs/evidence-and-rewards.md says what each type
 * proves and how it is checked. Plain data and signatures only: no behaviour, no I/O, nothing
 * that imports a backend.
 */
import type { Lsn } from '../log/types.ts';
import type {
  ByzantineEvidence,
  EvidenceFailure,
  EvidencePruneRule,
  EvidenceStatus,
  EvidenceType,
  EvidenceVerdict,
} from '../model/evidence.ts';

/** Default `limit` of the evidence queries. */
export const DEFAULT_EVIDENCE_QUERY_LIMIT = 1_000;
/** Largest `limit` of the evidence queries. */
export const MAX_EVIDENCE_QUERY_LIMIT = 10_000;
/** Most evidence records one conflicting vote adds to its batch (one per earlier conflicting vote, oldest first). */
export const MAX_EVIDENCE_PER_VOTE = 8;

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
 * - `upgraded`: it was stored `unverified` and now verifies: a record marks it `verified`; or
 *   it was stored without `verifiedByQuorum` and comes again with it (a quorum finalized a block
 *   carrying it: docs/devnet.md, "Validator-set changes"): a record marks it so.
 */
export type RecordEvidenceOutcome = 'stored' | 'duplicate' | 'upgraded';

/** The result of `recordEvidence`. */
export interface RecordEvidenceResult {
  readonly evidence: StoredEvidence;
  readonly outcome: RecordEvidenceOutcome;
}

/** Options of the evidence queries. Heights are inclusive; results in (height, LSN) order. */
export interface EvidenceQueryOptions {
  readonly startHeight?: number;
  readonly endHeight?: number;
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

/** The ByzantineEvidenceStore interface: what every backend implements and the conformance suite checks. */
export interface ByzantineEvidenceStore {
  /** Number of pieces of evidence held (expired ones excluded). */
  readonly size: number;
  recordEvidence(evidence: ByzantineEvidence, options?: RecordEvidenceOptions): Promise<RecordEvidenceResult>;
  getEvidence(id: string): Promise<StoredEvidence | undefined>;
  queryByValidator(validatorId: string, options?: EvidenceQueryOptions): Promise<StoredEvidence[]>;
  queryByType(type: EvidenceType, options?: EvidenceQueryOptions): Promise<StoredEvidence[]>;
  getOffenseCount(validatorId: string): Promise<OffenseCount>;
  verifyEvidence(evidenceOrId: ByzantineEvidence | string): Promise<EvidenceVerdict>;
  pruneExpired(rule: EvidencePruneRule): Promise<{ readonly pruned: number }>;
}
