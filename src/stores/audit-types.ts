/**
 * The audit log's types (docs/audit.md): the events it records (a discriminated union on
 * `type`), the stored `LogEntry`, the signed head, queries, dispute evidence, the integrity
 * report, and the `AuditLogApi` interface every backend implements (the conformance suite is
 * written against it). Plain data and interfaces: no behaviour, nothing that imports a backend.
 */
import type { Lsn, RecordInput } from '../log/types.ts';
import type { ValidatorVote } from './vote-types.ts';

/** Steps of a round, as `PhaseChanged` reports them. */
export type ConsensusPhase = 'propose' | 'prevote' | 'precommit' | 'commit';

/** All phases, in order (their codes in the canonical bytes are index + 1). */
export const CONSENSUS_PHASES: readonly ConsensusPhase[] = ['propose', 'prevote', 'precommit', 'commit'];

/** A round began. `proposer` is the round's proposer, when known. */
export interface RoundStarted {
  readonly type: 'RoundStarted';
  readonly height: number;
  readonly round: number;
  readonly proposer: string | null;
}

/** A signed proposal arrived (the signature is kept as supporting data). */
export interface ProposalReceived {
  readonly type: 'ProposalReceived';
  readonly height: number;
  readonly round: number;
  readonly proposer: string;
  /** 32 bytes. */
  readonly blockHash: Uint8Array;
  readonly polRound: number | null;
  /** 64-byte ed25519 signature of the proposal. */
  readonly signature: Uint8Array;
}

/** A signed vote arrived. */
export interface VoteReceived {
  readonly type: 'VoteReceived';
  readonly vote: ValidatorVote;
}

/** The node's round state machine moved from one phase to another. */
export interface PhaseChanged {
  readonly type: 'PhaseChanged';
  readonly height: number;
  readonly round: number;
  readonly from: ConsensusPhase;
  readonly to: ConsensusPhase;
}

/** A round ended: with a committed block (its hash) or nil. */
export interface RoundCompleted {
  readonly type: 'RoundCompleted';
  readonly height: number;
  readonly round: number;
  readonly blockHash: Uint8Array | null;
  /** How long the round took, ms. */
  readonly durationMs: number;
}

/** Consensus made no progress for a while. */
export interface Stalled {
  readonly type: 'Stalled';
  readonly height: number;
  readonly round: number;
  readonly stalledForMs: number;
  /** 1..256 characters. */
  readonly reason: string;
}

/** Two votes of one validator for the same (round, vote type) with another block hash or height. */
export interface EquivocationDetected {
  readonly type: 'EquivocationDetected';
  readonly voteA: ValidatorVote;
  readonly voteB: ValidatorVote;
}

/** A message whose signature did not verify (the message and signature are kept). */
export interface InvalidSignature {
  readonly type: 'InvalidSignature';
  readonly validatorId: string;
  readonly height: number;
  readonly round: number;
  /** The signed bytes as received, at most `MAX_AUDIT_BLOB_BYTES`. */
  readonly message: Uint8Array;
  /** The signature as received, at most 64 bytes (a wrong length is part of the offense). */
  readonly signature: Uint8Array;
}

/** A vote replayed outside its context (e.g. from another chain or an old height). */
export interface ReplayAttack {
  readonly type: 'ReplayAttack';
  readonly vote: ValidatorVote;
  /** 1..256 characters: what made it a replay. */
  readonly detail: string;
}

/**
 * Two votes of one validator that may not coexist under the protocol's rules as the caller
 * judges them (for example two precommits at one height in different rounds against a lock).
 * For the same (round, type) use `EquivocationDetected`.
 */
export interface DoubleVote {
  readonly type: 'DoubleVote';
  readonly voteA: ValidatorVote;
  readonly voteB: ValidatorVote;
}

/** Open-time repair cut damaged data (D5, docs/durability.md): what `openReport.repair` said. */
export interface StoreRepaired {
  readonly type: 'StoreRepaired';
  readonly file: string;
  readonly offset: number;
  readonly firstLostLsn: number | null;
  readonly bytesDropped: number;
  readonly brokenCopy: string;
}

/** An operator rotated a key (e.g. the validator's consensus key). */
export interface KeyRotated {
  readonly type: 'KeyRotated';
  /** 1..64 characters naming the key. */
  readonly keyName: string;
  readonly oldPublicKey: Uint8Array;
  readonly newPublicKey: Uint8Array;
}

/** Data of some store below a height was pruned. */
export interface Pruned {
  readonly type: 'Pruned';
  /** 1..64 characters naming the store. */
  readonly store: string;
  readonly belowHeight: number;
  readonly entriesRemoved: number;
}

/** The node's audit public key, recorded as the chain's first entry (written by the log itself). */
export interface NodeKeyRecorded {
  readonly type: 'NodeKeyRecorded';
  readonly publicKey: Uint8Array;
}

/** Consensus events (`logEvent`). */
export type ConsensusEvent = RoundStarted | ProposalReceived | VoteReceived | PhaseChanged | RoundCompleted | Stalled;
/** Byzantine events (`logByzantineEvent`). */
export type ByzantineEvent = EquivocationDetected | InvalidSignature | ReplayAttack | DoubleVote;
/** The store's own operational events (`logEvent`, except `NodeKeyRecorded`, which the log writes). */
export type OperationalEvent = StoreRepaired | KeyRotated | Pruned | NodeKeyRecorded;
/** Every event the audit log records. */
export type AuditEvent = ConsensusEvent | ByzantineEvent | OperationalEvent;
/** The `type` of an event. */
export type AuditEventType = AuditEvent['type'];

/** Every event type with its code in the canonical bytes (never renumber: it is hashed). */
export const AUDIT_EVENT_CODES: Readonly<Record<AuditEventType, number>> = {
  RoundStarted: 1,
  ProposalReceived: 2,
  VoteReceived: 3,
  PhaseChanged: 4,
  RoundCompleted: 5,
  Stalled: 6,
  EquivocationDetected: 32,
  InvalidSignature: 33,
  ReplayAttack: 34,
  DoubleVote: 35,
  StoreRepaired: 64,
  KeyRotated: 65,
  Pruned: 66,
  NodeKeyRecorded: 67,
};

/** Every event type. */
export const AUDIT_EVENT_TYPES: readonly AuditEventType[] = Object.keys(AUDIT_EVENT_CODES) as AuditEventType[];
/** The Byzantine event types. */
export const BYZANTINE_EVENT_TYPES: readonly AuditEventType[] = ['EquivocationDetected', 'InvalidSignature', 'ReplayAttack', 'DoubleVote'];

/** Largest byte field of an event (an `InvalidSignature` message). */
export const MAX_AUDIT_BLOB_BYTES = 16 * 1024;
/** Longest free-text field (`reason`, `detail`). */
export const MAX_AUDIT_TEXT_LENGTH = 256;
/** Longest name field (`keyName`, `store`). */
export const MAX_AUDIT_NAME_LENGTH = 64;
/** Longest path field (`file`, `brokenCopy`). */
export const MAX_AUDIT_PATH_LENGTH = 4096;

/** A stored audit entry. Frozen and shared with the indexes: never mutate its byte arrays. */
export interface LogEntry {
  /** The record's LSN. A locator: not covered by the hash (docs/audit.md explains why). */
  readonly id: Lsn;
  /** Position in the audit chain: 0, 1, 2, ... (covered by the hash). */
  readonly sequence: number;
  readonly event: AuditEvent;
  /** When the node logged it, ms since the epoch. */
  readonly timestamp: number;
  /** The height the event concerns, when it concerns one. */
  readonly height?: number;
  /** The validator the event concerns (voter, proposer, offender), when one. */
  readonly validatorId?: string;
  /** Hash of the previous entry (32 zero bytes for sequence 0). */
  readonly prevHash: Uint8Array;
  /** This entry's hash (docs/audit.md, "Entry hash"). */
  readonly hash: Uint8Array;
  /** The signature of the head of this entry's batch; null only when the log lost that head (damage). */
  readonly signature: Uint8Array | null;
  /** The id of the entry that head names (the batch's last entry); null with `signature`. */
  readonly signedHeadId: Lsn | null;
}

/** A signed head: the chain's state after a batch. */
export interface AuditHead {
  /** LSN of the head record. */
  readonly id: Lsn;
  /** Entries the head covers: sequences 0 .. treeSize - 1. */
  readonly treeSize: number;
  /** Hash of entry `treeSize - 1`. */
  readonly lastEntryHash: Uint8Array;
  /** RFC 6962 Merkle root over the hashes of entries 0 .. treeSize - 1. */
  readonly root: Uint8Array;
  /** ed25519 signature of the head's sign bytes with the node key. */
  readonly signature: Uint8Array;
}

/** Options of list queries. */
export interface AuditQueryOptions {
  /** 1..maxQueryLimit; default defaultQueryLimit. */
  readonly limit?: number;
  /** Newest first (default oldest first). */
  readonly descending?: boolean;
}

/** A height range, both ends inclusive. */
export interface HeightRange {
  readonly from: number;
  readonly to: number;
}

/** What `getEvidence` gathers. Every given field must match; heights inclusive. */
export interface EvidenceQuery {
  readonly validatorId?: string;
  readonly height?: number;
  readonly fromHeight?: number;
  readonly toHeight?: number;
  readonly types?: readonly AuditEventType[];
  /** 1..maxEvidenceLimit; default defaultEvidenceLimit. */
  readonly limit?: number;
}

/** One entry of a dispute bundle with its inclusion proof. */
export interface EvidenceEntry {
  readonly sequence: number;
  /** The entry's stored body bytes (docs/audit.md): what its hash covers. */
  readonly body: Uint8Array;
  readonly hash: Uint8Array;
  /** The event decoded from `body` (a convenience: the verifier re-derives it). */
  readonly event: AuditEvent;
  readonly timestamp: number;
  /** RFC 6962 audit path of leaf `sequence` in the tree of `head.treeSize` leaves. */
  readonly proof: readonly Uint8Array[];
}

/** A self-contained dispute bundle: checkable offline by anyone with the node's public key. */
export interface DisputeEvidence {
  readonly format: 'cstore-dispute-evidence';
  readonly version: 1;
  readonly chainId: string;
  /** The node key the bundle claims; the verifier compares it with the key it trusts. */
  readonly publicKey: Uint8Array;
  readonly head: {
    readonly treeSize: number;
    readonly lastEntryHash: Uint8Array;
    readonly root: Uint8Array;
    readonly signature: Uint8Array;
  };
  readonly entries: readonly EvidenceEntry[];
}

/** The outcome of a verification: ok, or the first problem. */
export interface VerifyResult {
  readonly ok: boolean;
  readonly reason?: string;
}

/** What `verifyIntegrity` (and `verifyAuditExport`) found. */
export interface IntegrityReport {
  readonly ok: boolean;
  /** Entries checked. */
  readonly checked: number;
  /** Signed heads checked. */
  readonly heads: number;
  /** The first bad entry: its id (LSN), its sequence when readable, and why. */
  readonly firstBad?: { readonly id: Lsn; readonly sequence?: number; readonly reason: string };
}

/** Result-size and batch limits (docs/audit.md). */
export interface AuditLogLimits {
  /** Default `limit` of list queries. Default 1,000. */
  readonly defaultQueryLimit: number;
  /** Largest `limit` of list queries. Default 10,000. */
  readonly maxQueryLimit: number;
  /** Default entries in a dispute bundle. Default 100. */
  readonly defaultEvidenceLimit: number;
  /** Most entries in a dispute bundle. Default 1,000. */
  readonly maxEvidenceLimit: number;
  /** Most audit entries (plus companions) in one commit batch. Default 1,024. */
  readonly maxBatchRecords: number;
  /** Most events in one `appendWithEvents` call. Default 64. */
  readonly maxEventsPerCall: number;
}

/** The AuditLog interface: what every backend implements and the conformance suite checks. */
export interface AuditLogApi {
  logEvent(event: ConsensusEvent | Exclude<OperationalEvent, NodeKeyRecorded>): Promise<LogEntry>;
  logByzantineEvent(event: ByzantineEvent): Promise<LogEntry>;
  appendWithEvents(events: readonly AuditEvent[], companions: readonly RecordInput[]): Promise<{ lsns: Lsn[]; entries: LogEntry[] }>;
  queryByHeight(height: number | HeightRange, options?: AuditQueryOptions): Promise<LogEntry[]>;
  queryByValidator(validatorId: string, options?: AuditQueryOptions): Promise<LogEntry[]>;
  queryByDateRange(from: Date | number, to: Date | number, options?: AuditQueryOptions): Promise<LogEntry[]>;
  getEvidence(query: EvidenceQuery): Promise<DisputeEvidence>;
  export(path: string): Promise<{ entries: number; heads: number; bytes: number }>;
  verifyIntegrity(options?: { expectHead?: { treeSize: number; root: Uint8Array } }): Promise<IntegrityReport>;
  /** The latest signed head, or null before the first write. */
  readonly head: AuditHead | null;
  /** Entries in the chain. */
  readonly size: number;
}
