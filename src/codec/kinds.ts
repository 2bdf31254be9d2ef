/**
 * Record kinds: the first byte of meaning of every log record. One registry, so that two stores
 * never claim the same kind. A kind's number is part of the on-disk format: never reuse or
 * renumber one (add new ones instead). 0 is unwritten space; 200..255 belong to the log itself.
 */
export const RecordKind = {
  /** A validator's vote (payload: codec/vote-record). */
  Vote: 1,
  /** A finalization mark: height and round finalized (VoteStore.markFinalized). */
  Finalized: 2,
  /** The chain a data directory belongs to, written once at its first open (stores/store-identity). */
  StoreIdentity: 3,
  /** Sign guard: the node signed this (height, round, step) with these sign bytes and signature. */
  SignGuardEntry: 10,
  /** Sign guard: an imported watermark (fresh data directory for a key that signed before). */
  SignGuardImport: 11,
  /** Sign guard: an explicit repair dropped records from this LSN on; signing waits for an imported watermark. */
  SignGuardRepairBarrier: 12,
  /** Sign guard: the directory was restored from a snapshot at this height; signing waits for a watermark at or above it. */
  SignGuardFence: 13,
  /** Round state checkpoint. */
  RoundState: 20,
  /** Round states below a height were pruned. */
  RoundStatePrune: 21,
  /** Validator registered. */
  ValidatorRegistered: 30,
  /** Validator stake changed. */
  ValidatorStake: 31,
  /** Validator status changed. */
  ValidatorStatus: 32,
  /** Validator slashed. */
  ValidatorSlash: 33,
  /** Reserved for the audit log: 50..59. An audit entry (payload: codec/audit-record). */
  AuditEvent: 50,
  /** A signed audit chain head, the last record of each audit batch (payload: codec/audit-record). */
  AuditHead: 51,
  /** Reserved for Byzantine evidence: 60..69. A piece of evidence, or its upgrade to verified (codec/evidence-record). */
  Evidence: 60,
  /** Evidence expired under a prune rule (offense counts are kept). */
  EvidencePrune: 61,
  /** Reserved for reward history: 70..79. One height's distribution (codec/reward-record). */
  RewardDistribution: 70,
  /** Reserved for snapshots: 80..89. */
  SnapshotMeta: 80,
} as const;

/** Kinds 200..255 are the log's own (commit markers and the like); stores must not use them. */
export const FIRST_LOG_KIND = 200;
