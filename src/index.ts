/**
 * The package root (`consensus-store`): what an embedder uses. `openStore`, the store interfaces
 * it returns with their value, query and result types, the error class, the vote and proposal
 * sign-bytes helpers, and the node key generator.
 *
 * Elsewhere: `consensus-store/verify` (offline verifiers of what the stores hand out: audit
 * exports, dispute bundles, evidence, Merkle proofs, reward statements), `consensus-store/log`
 * (the raw write-ahead log and the file-system interface), `consensus-store/testing` (the
 * simulated disk, the in-memory log, `openStoreOnLog` and the conformance suites every backend
 * runs). Internals stay importable by path for this project's tests only.
 */
export { NODE_KEY_FILE, openStore } from './store.ts';
export type { ConsensusStore, LogFacts, NodeKeyOption, OpenStoreOptions, ReplayReport, StoreOptions, StoreStatus } from './store.ts';

export { ConsensusStoreError, ErrorCodes, isStoreError } from './errors.ts';
export type { CorruptionLocation, ErrorCode } from './errors.ts';

export type { Durability, LogLimits, LogStatus, Lsn, OpenReport, PendingRepairReport, RepairReport } from './log/types.ts';

export {
  proposalSignBytes,
  publicKeyOf,
  randomPrivateKey,
  signBytes,
  signVote,
  verifyBytes,
  verifyVote,
  voteSignBytes,
} from './codec/vote-sign.ts';

export { DEFAULT_VOTE_STORE_LIMITS } from './stores/vote-store.ts';
export type { VoteStoreOptions, VoteVerification } from './stores/vote-store.ts';
// The type only: minting a VerifiedVote is the library's (docs/stores.md, "Vote verification").
export type { VerifiedVote, VoteRejection } from './stores/verified-vote.ts';
export type { SignGuard, SignIdentity, SignState } from './stores/sign-guard-types.ts';
export { BLOCK_HASH_BYTES, MAX_CHAIN_ID_LENGTH, MAX_VALIDATOR_ID_LENGTH, SIGNATURE_BYTES, VOTE_TYPES } from './model/vote.ts';
export { SIGN_STEPS } from './model/sign.ts';
export type {
  AppendOutcome,
  AppendVoteResult,
  FinalizedMark,
  RecentVotesOptions,
  RecentVotesOrder,
  RoundVotesOptions,
  ValidatorVotesOptions,
  VoteLogEntry,
  VoteQuery,
  VoteStore,
  VoteStoreLimits,
} from './stores/vote-types.ts';
export type { SignedProposal, UnsignedProposal, UnsignedVote, ValidatorVote, VoteType } from './model/vote.ts';
export type { SignStep, SignWatermark } from './model/sign.ts';

export { CONSENSUS_PHASES, MAX_ROUND_VALIDATOR_COUNT } from './model/round.ts';
export type { ConsensusPhase, RoundState } from './model/round.ts';
export type {
  IntegrityReport,
  RecoveryManager,
  RecoveryOpenReport,
  RecoveryState,
  ResumePoint,
  RoundStateQuery,
  RoundStateSnapshot,
  RoundStateStore,
  RoundStateStoreOptions,
} from './stores/round-types.ts';

export { MAX_STAKE, PUBLIC_KEY_LENGTH, VALIDATOR_STATUSES } from './model/validator.ts';
export { MAX_VALIDATORS } from './stores/validator-types.ts';
export type {
  SlashDetails,
  ValidatorChange,
  ValidatorChangeKind,
  ValidatorHistoryQuery,
  ValidatorRegistry,
  ValidatorSetSnapshot,
} from './stores/validator-types.ts';
export type { SlashFraction, SlashInput, Validator, ValidatorRegistration, ValidatorStatus } from './model/validator.ts';

// ---- the node key (audit signing) ------------------------------------------------------------
export { generateNodeKey } from './codec/node-key.ts';
export type { NodeKey } from './codec/node-key.ts';

// ---- audit log (docs/audit.md) ---------------------------------------------------------------
export { DEFAULT_AUDIT_LIMITS } from './stores/audit-log.ts';
export type { AuditLogOptions } from './stores/audit-log.ts';
export {
  AUDIT_EVENT_CODES,
  AUDIT_EVENT_TYPES,
  BYZANTINE_EVENT_TYPES,
  CONSENSUS_EVENT_TYPES,
  CONSENSUS_PHASES as AUDIT_PHASES,
  MAX_AUDIT_BLOB_BYTES,
  MAX_AUDIT_NAME_LENGTH,
  MAX_AUDIT_PATH_LENGTH,
  MAX_AUDIT_TEXT_LENGTH,
  MAX_PEER_MESSAGE_COPY,
  PEER_REJECT_REASONS,
} from './model/audit.ts';
export type {
  AuditEvent,
  AuditEventType,
  ByzantineEvent,
  ConsensusEvent,
  ConsensusPhase as AuditPhase,
  DoubleVote,
  EquivocationDetected,
  InvalidSignature,
  KeyRotated,
  NodeKeyRecorded,
  OperationalEvent,
  PeerMessageClaim,
  PeerMessageRejected,
  PeerRejectReason,
  PhaseChanged,
  ProposalEquivocationDetected,
  ProposalReceived,
  Pruned,
  ReplayAttack,
  RoundCompleted,
  RoundStarted,
  Stalled,
  StoreRepaired,
  VoteReceived,
} from './model/audit.ts';
export type {
  AuditHead,
  AuditLog,
  AuditLogLimits,
  AuditQueryOptions,
  DisputeEvidence,
  EvidenceEntry,
  EvidenceQuery,
  HeightRange,
  IntegrityReport as AuditIntegrityReport,
  LogEntry,
  VerifyResult,
} from './stores/audit-types.ts';
export type { DisputeEvidence as DisputeBundle } from './stores/audit-types.ts';

// ---- Byzantine evidence (docs/evidence-and-rewards.md) --------------------------------------
export { buildEquivocationRecord, equivocationEvidence, evidenceId } from './stores/evidence-store.ts';
export type { EquivocationRecordOptions, EvidenceStoreOptions, PublicKeyAt } from './stores/evidence-store.ts';
export { DEFAULT_EVIDENCE_QUERY_LIMIT, MAX_EVIDENCE_PER_VOTE, MAX_EVIDENCE_QUERY_LIMIT } from './stores/evidence-types.ts';
export { EVIDENCE_FAILURES, EVIDENCE_TYPES, MAX_SUBMITTER_LENGTH } from './model/evidence.ts';
export type {
  ByzantineEvidence,
  DoubleSignEvidence,
  EquivocationEvidence,
  EvidenceCommon,
  EvidenceFailure,
  EvidencePruneRule,
  EvidenceStatus,
  EvidenceType,
  EvidenceVerdict,
  InvalidSignatureEvidence,
  ProposalEquivocationEvidence,
  ReplayAttackEvidence,
} from './model/evidence.ts';
export type {
  ByzantineEvidenceStore,
  EvidenceQueryOptions,
  OffenseCount,
  RecordEvidenceOptions,
  RecordEvidenceOutcome,
  RecordEvidenceResult,
  StoredEvidence,
  StoredEvidenceInfo,
} from './stores/evidence-types.ts';

// ---- reward history (docs/evidence-and-rewards.md) ------------------------------------------
export { REWARD_CSV_HEADER, REWARD_STATEMENT_FORMAT, REWARD_STATEMENT_VERSION, RewardStatement } from './stores/reward-statement.ts';
export type { RewardEntryJSON, RewardStatementJSON } from './stores/reward-statement.ts';
export {
  DEFAULT_DISTRIBUTION_QUERY_LIMIT,
  DEFAULT_STATEMENT_ENTRIES,
  MAX_DISTRIBUTION_QUERY_LIMIT,
  MAX_STATEMENT_ENTRIES,
} from './stores/reward-types.ts';
export { MAX_REWARD_AMOUNT, MAX_REWARD_LINES, MAX_REWARD_TIMESTAMP, REWARD_REASONS } from './model/reward.ts';
export type {
  DistributionQuery,
  RewardExportQuery,
  RewardHistory,
  StoredDistribution,
  ValidatorRewards,
  ValidatorRewardsQuery,
} from './stores/reward-types.ts';
export type { RewardDistribution, RewardEntry, RewardLine, RewardReason, RewardTotals, StatementPeriod } from './model/reward.ts';
export type { HeightRangeQuery, QueryPage, RoundRangeQuery } from './stores/query-types.ts';
export { openPostgresStore, type PostgresStoreOptions } from './pg/open.ts';

// Portable snapshots, local state images and the restore of a new node from a snapshot.
export { fileSnapshotSource, restoreFromSnapshot } from './restore.ts';
export type { RestoreOptions, RestoreReport, SnapshotChunk, SnapshotOffer, SnapshotSource, SnapshotTrust } from './restore.ts';
export { RESTORING_FILE } from './store.ts';

// Rotating the node key (the audit chain's signing key), planned or after losing it.
export { rotateNodeKey, type RotateNodeKeyOptions, type RotateNodeKeyReport } from './key-rotation.ts';
export { NODE_KEY_NAME } from './model/audit.ts';

// Online backups (store.backup), their verification and the restore behind a sign fence.
export { restoreFromBackup, type BackupRestoreReport, type RestoreFromBackupOptions } from './backup/restore.ts';
export { verifyBackup, type BackupKeySource, type BackupVerifyReport, type VerifyBackupOptions } from './backup/verify.ts';
export type { BackupFileMethod, BackupOptions, BackupReport } from './backup/take.ts';
export type { ImageOptions, SnapshotOptions } from './store-options.ts';
export type { ImageLoadReport } from './stores/local-image.ts';
export type {
  CertificateVote,
  ConsensusSnapshot,
  CreateSnapshotOptions,
  DecisionCertificate,
  SnapshotAttestation,
  SnapshotChange,
  SnapshotMetadata,
  SnapshotStore,
} from './stores/snapshot-types.ts';
export { snapshotAttestationBytes } from './codec/snapshot-envelope.ts';
