/**
 * The package's public surface: `openStore` and the stores it returns, their types, the vote
 * sign-bytes helpers, the error class, and the log's open function and types.
 *
 * Only what a user of the library needs is exported here: internals (codecs of records, index
 * structures, the simulated disk, `openStoreOnLog`) stay importable by path for tests, never
 * from the package root, so that they can change without a breaking release.
 */
export { openStore } from './store.ts';
export type { ConsensusStore, OpenStoreOptions, ReplayReport, StoreOptions } from './store.ts';

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
export type { FileSystem } from './io/types.ts';

export {
  proposalSignBytes,
  publicKeyOf,
  randomPrivateKey,
  signVote,
  verifyVote,
  voteSignBytes,
} from './codec/vote-sign.ts';

export { VoteStore, DEFAULT_VOTE_STORE_LIMITS } from './stores/vote-store.ts';
export type { VoteStoreOptions, VoteVerification } from './stores/vote-store.ts';
export { SignGuard } from './stores/sign-guard.ts';
export type { SignGuardOptions, SignIdentity, SignState } from './stores/sign-guard.ts';
export { SIGN_STEPS, VOTE_TYPES } from './stores/vote-types.ts';
export type {
  AppendOutcome,
  AppendVoteResult,
  FinalizedMark,
  RoundVotesOptions,
  SignedProposal,
  SignStep,
  SignWatermark,
  UnsignedProposal,
  UnsignedVote,
  ValidatorVote,
  ValidatorVotesOptions,
  VoteLogEntry,
  VoteQuery,
  VoteStoreApi,
  VoteStoreLimits,
  VoteType,
} from './stores/vote-types.ts';

export { RoundStateStore } from './stores/round-state-store.ts';
export { RecoveryManager } from './stores/recovery.ts';
export { CONSENSUS_PHASES } from './stores/round-types.ts';
export type {
  ConsensusPhase,
  IntegrityReport,
  RecoveryOpenReport,
  RecoveryState,
  ResumePoint,
  RoundState,
  RoundStateQuery,
  RoundStateSnapshot,
  RoundStateStoreApi,
  RoundStateStoreOptions,
} from './stores/round-types.ts';

export { ValidatorRegistry } from './stores/validator-registry.ts';
export { VALIDATOR_STATUSES } from './stores/validator-types.ts';
export type {
  SlashDetails,
  SlashFraction,
  SlashInput,
  Validator,
  ValidatorChange,
  ValidatorChangeKind,
  ValidatorHistoryQuery,
  ValidatorRegistration,
  ValidatorRegistryApi,
  ValidatorSetSnapshot,
  ValidatorStatus,
} from './stores/validator-types.ts';
