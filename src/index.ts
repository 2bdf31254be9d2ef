/**
 * The package's public surface: `openStore` and the stores it returns, their types, the vote
 * sign-bytes helpers, the error class, the log's open function and types, and the offline
 * verifiers of what the stores hand out (dispute bundles, audit exports, evidence, Merkle
 * proofs, reward statements).
 *
 * Only what a user of the library needs is exported here: internals (codecs of records, index
 * structures, the simulated disk, `openStoreOnLog`) stay importable by path for tests, never
 * from the package root, so that they can change without a breaking release.
 */
export { NODE_KEY_FILE, openStore } from './store.ts';
export type { ConsensusStore, LogFacts, NodeKeyOption, OpenStoreOptions, ReplayReport, StoreOptions, StoreStatus } from './store.ts';

export { ConsensusStoreError, ErrorCodes, isStoreError } from './errors.ts';
export type { CorruptionLocation, ErrorCode } from './errors.ts';

export { openLog } from './log/wal.ts';
export type {
  Durability,
  Log,
  LogOptions,
  LogRecord,
  LogStatus,
  Lsn,
  OpenReport,
  RecordInput,
  RepairReport,
} from './log/types.ts';
export type { FileHandle, FileLock, FileStat, FileSystem, OpenMode, OpenOptions } from './io/types.ts';

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
export type { SignGuard, SignIdentity, SignState } from './stores/sign-guard-types.ts';
export { BLOCK_HASH_BYTES, MAX_CHAIN_ID_LENGTH, MAX_VALIDATOR_ID_LENGTH, SIGNATURE_BYTES, VOTE_TYPES } from './model/vote.ts';
export { SIGN_STEPS } from './model/sign.ts';
export type {
  AppendOutcome,
  AppendVoteResult,
  FinalizedMark,
  RoundVotesOptions,
  ValidatorVotesOptions,
  VoteLogEntry,
  VoteQuery,
  VoteStore,
  VoteStoreLimits,
} from './stores/vote-types.ts';
export type { SignedProposal, UnsignedProposal, UnsignedVote, ValidatorVote, VoteType } from './model/vote.ts';
export type { SignStep, SignWatermark } from './model/sign.ts';

export { CONSENSUS_PHASES } from './model/round.ts';
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
export { generateNodeKey, signEd25519, verifyEd25519, verifyEd25519Reference } from './codec/node-key.ts';
export { loadOrCreateNodeKey, NODE_KEY_FILE_MODE } from './stores/node-key-file.ts';
export type { NodeKey } from './codec/node-key.ts';

// ---- audit log (docs/audit.md) ---------------------------------------------------------------
export { DEFAULT_AUDIT_LIMITS } from './stores/audit-log.ts';
export type { AuditLogOptions } from './stores/audit-log.ts';
export {
  AUDIT_EVENT_CODES,
  AUDIT_EVENT_TYPES,
  BYZANTINE_EVENT_TYPES,
  CONSENSUS_PHASES as AUDIT_PHASES,
  MAX_AUDIT_BLOB_BYTES,
  MAX_AUDIT_NAME_LENGTH,
  MAX_AUDIT_PATH_LENGTH,
  MAX_AUDIT_TEXT_LENGTH,
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
  PhaseChanged,
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
export { decodeDisputeEvidence, encodeDisputeEvidence, MAX_BUNDLE_ENTRIES, verifyDisputeEvidence } from './stores/dispute-evidence.ts';
export type { VerifyEvidenceOptions } from './stores/dispute-evidence.ts';
export { EXPORT_FORMAT as AUDIT_EXPORT_FORMAT, verifyAuditExport } from './stores/audit-export.ts';

// ---- Merkle trees (RFC 6962: dispute bundles, snapshots) -----------------------------------
export {
  emptyMerkleRoot,
  HASH_BYTES,
  MAX_PROOF_LENGTH,
  merkleInclusionProof,
  merkleLeafHash,
  merkleNodeHash,
  merkleRoot,
  merkleRootOfData,
  sha256,
  verifyMerkleInclusion,
} from './codec/merkle.ts';

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
export {
  parseRewardCSV,
  parseRewardStatementJSON,
  REWARD_CSV_HEADER,
  REWARD_STATEMENT_FORMAT,
  REWARD_STATEMENT_VERSION,
  RewardStatement,
} from './stores/reward-statement.ts';
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
  ValidatorRewardsOptions,
} from './stores/reward-types.ts';
export type { RewardDistribution, RewardEntry, RewardLine, RewardReason, RewardTotals, StatementPeriod } from './model/reward.ts';
