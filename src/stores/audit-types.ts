/**
 * The audit log's types (docs/audit.md): the stored `LogEntry`, the signed head, queries,
 * dispute evidence, the integrity report, and the `AuditLog` interface every backend
 * implements (the conformance suite is written against it). The events it records, their limits
 * and `checkAuditEvent` are in src/model/audit.ts. Plain data and interfaces: no behaviour,
 * nothing that imports a backend.
 */
import type { Lsn, RecordInput } from '../log/types.ts';
import type { AuditEvent, AuditEventType, ByzantineEvent, ConsensusEvent, NodeKeyRecorded, OperationalEvent } from '../model/audit.ts';

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
  readonly startHeight: number;
  readonly endHeight: number;
}

/** What `getEvidence` gathers. Every given field must match; heights inclusive. */
export interface EvidenceQuery {
  readonly validatorId?: string;
  readonly height?: number;
  readonly startHeight?: number;
  readonly endHeight?: number;
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
export interface AuditLog {
  /** The node's public key (the one heads are signed with). */
  readonly publicKey: Uint8Array;
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
  readonly head: AuditHead | undefined;
  /** Entries in the chain. */
  readonly size: number;
}
