/**
 * LogAuditLog: the node's signed, hash-chained record of what it saw and did (docs/audit.md).
 *
 * Write path: every call is checked and its events encoded to canonical bytes before anything
 * is queued. One pump forms commit batches from the queued calls (ONE audit batch in flight at a
 * time), chains the entries (each hashes its predecessor's hash), appends a signed head record
 * (kind AuditHead: tree size, last entry hash, Merkle root, ed25519 signature) and hands
 * companions + entries + head to the log in ONE `append` (D3). The chain tip moves only when
 * that append resolved: a failed batch (DISK_FULL, ...) leaves the tip where it was, so no later
 * batch is ever chained to an entry that is not on disk.
 *
 * Reads answer from in-memory B+tree indexes (by LSN, height, validator, timestamp), bounded.
 * `verifyIntegrity` and `export` read the durable records back from the log; `getEvidence`
 * reads the matching records from the log and proves them under the latest signed head.
 * Bounded history (docs/audit.md, "What lives where"): entries and heads at or below the cold
 * cut live in the cold tier only; queries merge its answer with the hot one (`audit-cold.ts`),
 * while the chain state (tip, frontier, latest head) keeps covering the whole chain.
 *
 * It must never: write anything for bad input, chain onto an entry that is not durable, index an
 * entry before its batch is durable, trust its in-memory copy when asked to verify the disk, or
 * refuse to open because an audit record is damaged (an attacker who flips one byte must not
 * stop the validator; `verifyIntegrity` names the damage instead).
 *
 * Why this file is over 450 lines: the write pipeline (queue, pump, chain, sign, commit) and the
 * replay both move the one chain tip, and the tip's invariant (it moves only once a batch is
 * durable) is easiest to check in one place. The indexes and queries' iteration live in
 * `audit-index.ts`, bundles in `dispute-evidence.ts`, the chain check in `audit-verify.ts`,
 * exports in `audit-export.ts`, its image section in `audit-image.ts`, the cold tier's reads and
 * merges in `audit-cold.ts`. Next seam to cut: the batch builder (enqueue to commitBatch).
 */
import { checkEventsWithCompanions, checkEventType, checkTime } from './audit-checks.ts';
import {
  AUDIT_HEAD_PAYLOAD_BYTES,
  AuditHasher,
  decodeEntryBody,
  decodeHeadPayload,
  encodeEntryBody,
  encodeEntryPayload,
  encodeHeadPayload,
  entryPayloadBytes,
  GENESIS_PREV_HASH,
  splitEntryPayload,
} from '../codec/audit-record.ts';
import { COMMIT_RECORD_BYTES, recordSpan } from '../codec/framing.ts';
import { AUDIT_EVENT_CODES, AUDIT_EVENT_TYPES, BYZANTINE_EVENT_TYPES, checkAuditEvent, NODE_KEY_NAME } from '../model/audit.ts';
import { encodeAuditEvent } from '../codec/audit-event.ts';
import { RecordKind } from '../codec/kinds.ts';
import { MerkleFrontier, merkleLeafHash, HASH_BYTES } from '../codec/merkle.ts';
import { checkNodeKey, signEd25519, toHex, verifyEd25519, type NodeKey } from '../codec/node-key.ts';
import { checkChainId, checkValidatorId } from '../model/vote.ts';
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import type { FileSystem } from '../io/types.ts';
import type { LogRecord, Lsn, RecordInput } from '../log/types.ts';
import { checkBoolean, checkInteger, checkObject, checkSafeUint, MAX_SAFE } from '../model/check.ts';
import { exportAuditRecords } from './audit-export.ts';
import type { AuditEvent, AuditEventType, ByzantineEvent, ConsensusEvent, KeyRotated, NodeKeyRecorded, OperationalEvent } from '../model/audit.ts';
import type {
  AuditHead,
  AuditLog,
  AuditLogLimits,
  AuditQueryOptions,
  DisputeEvidence,
  EvidenceQuery,
  HeightRange,
  IntegrityReport,
  LogEntry,
} from './audit-types.ts';
import { AuditChainVerifier, LOST_ENTRY_LEAF, feedAuditRecord } from './audit-verify.ts';
import type { ImageSection, RecordApplier, StoreContext } from './context.ts';
import type { ImageReader, ImageWriter } from '../codec/image-section.ts';
import { hotPartOfImage, readAuditImage, writeAuditImage } from './audit-image.ts';
import { buildDisputeEvidence } from './dispute-evidence.ts';
import { isColdByLsn, NO_CUT, type ColdCut, type ColdKeys, type ColdParticipant, type ColdRecord, type ColdTier } from '../cold/types.ts';
import {
  AUDIT_COLD_KINDS,
  auditColdKeys,
  checkCut,
  checkTier,
  ColdAuditReader,
  evidenceMatches,
  mergeByKey,
  mergeByLsn,
  NO_TAIL,
  proofLeaves,
  scanAuditRecords,
  tailOf,
  type ColdTail,
  type FoundEntry,
} from './audit-cold.ts';
import { MAX_EVIDENCE_PER_VOTE } from './evidence-types.ts';
import type { VoteBatchEvent } from './vote-types.ts';
import type { BatchPart } from './commit-pipeline.ts';
import { AuditIndex, makeEntry, take, type MutableEntry } from './audit-index.ts';
import { equalBytes } from '../codec/bytes.ts';
import { checkQuery, parseHeightRange, parseLimit } from './context.ts';
import { assertOpen, readClock } from './context.ts';

/** Default limits (docs/audit.md). */
export const DEFAULT_AUDIT_LIMITS: AuditLogLimits = {
  defaultQueryLimit: 1_000,
  maxQueryLimit: 10_000,
  defaultEvidenceLimit: 100,
  maxEvidenceLimit: 1_000,
  maxBatchRecords: 1_024,
  maxEventsPerCall: 64,
};

/** Options of `new LogAuditLog`. */
export interface AuditLogOptions {
  /** The node's 32-byte ed25519 private key (seed); see `loadOrCreateNodeKey`. */
  readonly privateKey: Uint8Array;
  /** Its public key (checked against the private key). */
  readonly publicKey: Uint8Array;
  /** The chain id every hash is bound to. */
  readonly chainId: string;
  /** File system for `export`; default the real one. */
  readonly fs?: FileSystem;
  readonly limits?: Partial<AuditLogLimits>;
}

/** Event types `logEvent` takes: consensus and operational ones (NodeKeyRecorded is the log's own). */
const LOG_EVENT_TYPES: readonly AuditEventType[] = AUDIT_EVENT_TYPES.filter(
  (t) => t !== 'NodeKeyRecorded' && !BYZANTINE_EVENT_TYPES.includes(t),
);
/** Event types `appendWithEvents` takes. */

/** The fields of an EvidenceQuery (any other key is a mistake the caller must hear about). */
const EVIDENCE_QUERY_KEYS: readonly string[] = ['validatorId', 'height', 'startHeight', 'endHeight', 'types', 'limit'];
/** The keys of a height range and of the list options. */
const HEIGHT_RANGE_KEYS: readonly string[] = ['startHeight', 'endHeight'];
const LIST_OPTION_KEYS: readonly string[] = ['limit', 'descending'];

/** An event checked and encoded, waiting for its batch. */
interface EncodedEvent {
  readonly event: AuditEvent;
  readonly bytes: Uint8Array;
  readonly timestamp: number;
}

/** One queued call. */
interface WriteRequest {
  readonly events: readonly EncodedEvent[];
  readonly companions: readonly RecordInput[];
  /** Records of the call (entries and companions). */
  readonly records: number;
  /** Bytes those records occupy in the log (`recordSpan` of each payload). */
  readonly bytes: number;
  readonly resolve: (result: { lsns: Lsn[]; entries: LogEntry[] }) => void;
  readonly reject: (err: unknown) => void;
  /** A rotation of the node key: the key heads are signed with from the next batch on (written alone in its batch). */
  readonly rotateTo?: NodeKey;
}

/** An entry built for a batch, before its LSN is known. */
interface BuiltEntry {
  readonly encoded: EncodedEvent;
  readonly sequence: number;
  readonly prevHash: Uint8Array;
  readonly hash: Uint8Array;
  readonly leafHash: Uint8Array;
  readonly record: number;
}

/** Chain tip: what the next entry links to. */
interface Tip {
  readonly sequence: number;
  readonly hash: Uint8Array;
  readonly frontier: MerkleFrontier;
}

/**
 * Checks audit-log limits (`value` may be undefined: the defaults) and fills in the defaults.
 * @throws ConsensusStoreError INVALID_ARGUMENT naming `${name}.<limit>`.
 */
export function resolveAuditLimits(name: string, value: unknown): AuditLogLimits {
  const limits = value === undefined ? {} : checkObject(name, value);
  const lim = (key: keyof AuditLogLimits, max: number): number =>
    limits[key] === undefined ? DEFAULT_AUDIT_LIMITS[key] : checkInteger(`${name}.${key}`, limits[key], 1, max);
  const r = {
    defaultQueryLimit: lim('defaultQueryLimit', 1_000_000),
    maxQueryLimit: lim('maxQueryLimit', 1_000_000),
    defaultEvidenceLimit: lim('defaultEvidenceLimit', 100_000),
    maxEvidenceLimit: lim('maxEvidenceLimit', 100_000),
    maxBatchRecords: lim('maxBatchRecords', 4_000),
    maxEventsPerCall: lim('maxEventsPerCall', 1_000),
  };
  if (r.defaultQueryLimit > r.maxQueryLimit) throw invalidArgument(`${name}.defaultQueryLimit`, 'must not exceed maxQueryLimit');
  if (r.defaultEvidenceLimit > r.maxEvidenceLimit) throw invalidArgument(`${name}.defaultEvidenceLimit`, 'must not exceed maxEvidenceLimit');
  if (r.maxEventsPerCall >= r.maxBatchRecords) throw invalidArgument(`${name}.maxEventsPerCall`, 'must be below maxBatchRecords');
  return r;
}

/**
 * The audit log over the shared log. Implements `AuditLog` and `RecordApplier` (kinds
 * AuditEvent and AuditHead). Entries it returns are shared with its indexes: never mutate them.
 */
export class LogAuditLog implements AuditLog, RecordApplier, ImageSection, ColdParticipant {
  /** Record kinds this store owns. */
  readonly kinds: readonly number[] = [RecordKind.AuditEvent, RecordKind.AuditHead];
  /** Both move to the cold tier, cut by LSN alone (the chain's order). */
  readonly coldKinds: readonly number[] = AUDIT_COLD_KINDS;
  readonly lsnCutKinds: readonly number[] = AUDIT_COLD_KINDS;
  /** Its section's tag in the local state image. */
  readonly imageTag = 6;
  /** The limits in force. */
  readonly limits: AuditLogLimits;
  /** The chain id. */
  readonly chainId: string;

  private readonly ctx: StoreContext;
  /** The key heads are signed with; changes only by `rotateNodeKey`. */
  private key: NodeKey;
  /** The last node-key rotation this open replayed or wrote (not kept in local images). */
  private nodeKeyRotation: { sequence: number; oldPublicKey: Uint8Array; newPublicKey: Uint8Array } | undefined;
  private readonly hasher: AuditHasher;
  private readonly fs: FileSystem | undefined;
  private entries = new AuditIndex();
  /** Entries and heads at or below this cut are in `tier`, not in memory. */
  private coldCut: ColdCut = NO_CUT;
  private tier: ColdTier | undefined;
  /** The newest cold entry's signature (what cold entries after the last cold head carry). */
  private coldTail: ColdTail = NO_TAIL;
  /** The newest entry replayed (hot or cold) that no head has signed yet. */
  private lastUnsignedId: Lsn | undefined;
  private tip: Tip = { sequence: 0, hash: GENESIS_PREV_HASH, frontier: new MerkleFrontier() };
  private latestHead: AuditHead | undefined;
  /** Entries replayed since the last head record (their head fields are filled when it comes). */
  private unsigned: MutableEntry[] = [];
  private recordedKey: Uint8Array | undefined;
  /** Audit entries missing in the replayed log (a repair's gaps), with the LSNs of the entries around each. */
  private readonly gaps: { first: number; last: number; afterLsn: number; beforeLsn: number }[] = [];
  /** LSN of the last entry replayed. */
  private lastEntryLsn = 0;
  /** The first damage replay met (a record that does not decode, a broken sequence). */
  private damage: { id: Lsn; reason: string } | undefined;
  private readonly queue: WriteRequest[] = [];
  private writing = false;
  /** Bytes the chain's entry 0 (NodeKeyRecorded) occupies in the log. */
  private readonly keyEntryBytes: number;

  /** @throws ConsensusStoreError INVALID_ARGUMENT on bad options (a public key that is not the private key's, ...). */
  constructor(ctx: StoreContext, options: AuditLogOptions) {
    const o = checkObject('options', options);
    this.ctx = ctx;
    this.key = checkNodeKey('options', o.privateKey, o.publicKey);
    this.chainId = checkChainId('options.chainId', o.chainId);
    this.hasher = new AuditHasher(this.chainId);
    this.fs = options.fs;
    this.limits = resolveAuditLimits('options.limits', o.limits);
    const keyEvent: AuditEvent = { type: 'NodeKeyRecorded', publicKey: this.key.publicKey };
    this.keyEntryBytes = recordSpan(entryPayloadBytes(encodeAuditEvent(keyEvent).length));
  }

  /** The node's public key (the one heads are signed with). */
  get publicKey(): Uint8Array {
    return this.key.publicKey.slice();
  }

  /** The latest signed head, or null before the first write. */
  get head(): AuditHead | undefined {
    return this.latestHead;
  }

  /** Entries in the chain. */
  get size(): number {
    return this.tip.sequence;
  }

  // ---- writes -------------------------------------------------------------------------------

  /**
   * Records a consensus or operational event. Resolves with the durable, signed entry.
   * @throws INVALID_ARGUMENT (bad event, a Byzantine type: use `logByzantineEvent`), and the
   *   log's write errors (DISK_FULL, IO_FAILED, CLOSED, ...), with nothing written.
   */
  async logEvent(event: ConsensusEvent | Exclude<OperationalEvent, NodeKeyRecorded>): Promise<LogEntry> {
    this.checkOpen();
    const encoded = this.encode(checkAuditEvent('event', event, LOG_EVENT_TYPES));
    const { entries } = await this.enqueue([encoded], []);
    return entries[0] as LogEntry;
  }

  /** Records a Byzantine event. Same contract as `logEvent`, for the Byzantine types only. */
  async logByzantineEvent(event: ByzantineEvent): Promise<LogEntry> {
    this.checkOpen();
    const encoded = this.encode(checkAuditEvent('event', event, BYZANTINE_EVENT_TYPES));
    const { entries } = await this.enqueue([encoded], []);
    return entries[0] as LogEntry;
  }

  /**
   * Appends `companions` (records other stores built, e.g. a conflicting vote and its evidence)
   * and audit entries for `events` in ONE log batch (D3). Resolves once durable with the
   * companions' LSNs (in order) and the entries; the audit entries are already indexed, the
   * caller applies the companions to their stores.
   * @throws INVALID_ARGUMENT (no event or too many, a bad event, a companion whose kind is not
   *   1..199 or is an audit kind), and the log's write errors, with nothing written.
   */
  async appendWithEvents(events: readonly AuditEvent[], companions: readonly RecordInput[]): Promise<{ lsns: Lsn[]; entries: LogEntry[] }> {
    this.checkOpen();
    const checked = checkEventsWithCompanions(events, companions, this.limits);
    return this.enqueue(checked.events.map((e) => this.encode(e)), checked.companions);
  }

  /**
   * Writes the chain's first entry (NodeKeyRecorded, the node's public key) if the chain is
   * empty; openStore calls it once the log is replayed ("recorded at first open"). Idempotent.
   * @throws INVALID_ARGUMENT when the chain records another node key (key rotation of the
   *   audit key is not supported: docs/audit.md); the log's write errors.
   */
  async recordNodeKey(): Promise<void> {
    this.checkOpen();
    this.checkRecordedKey();
    if (this.tip.sequence > 0) return;
    await this.enqueue([], []);
  }

  /**
   * The audit events of a vote batch (D3), for `openStore`'s vote batch hook: for a vote the
   * VoteStore found equivocating, one `EquivocationDetected` (earlier vote A, this vote B) per
   * earlier conflicting vote, oldest first, at most `MAX_EVIDENCE_PER_VOTE` (the evidence store
   * adds one Evidence record per pair, the same pairs); nothing otherwise. Pure, synchronous;
   * the caller hands the events with the batch's other records to `appendWithEvents`.
   */
  voteBatchEvents(event: VoteBatchEvent): ByzantineEvent[] {
    if (event.outcome !== 'equivocation') return [];
    return event.conflictsWith.slice(0, MAX_EVIDENCE_PER_VOTE).map((earlier) => ({ type: 'EquivocationDetected', voteA: earlier.vote, voteB: event.vote }));
  }

  /**
   * The audit log's part of a vote's batch (D3): the `EquivocationDetected` events of
   * `voteBatchEvents`, which the commit pipeline's audit stage (`appendWithEvents`) chains and
   * signs into that batch; undefined for a vote that does not equivocate.
   */
  voteBatchPart(event: VoteBatchEvent): BatchPart | undefined {
    const events = this.voteBatchEvents(event);
    return events.length === 0 ? undefined : { records: [], events };
  }

  private checkOpen(): void {
    assertOpen(this.ctx);
  }

  private encode(event: AuditEvent): EncodedEvent {
    const timestamp = readClock(this.ctx);
    return { event, bytes: encodeAuditEvent(event), timestamp };
  }

  /**
   * Rotates the node key (docs/audit.md, "Rotating the node key"): writes a `KeyRotated` entry
   * named `NODE_KEY_NAME` alone in its batch and signs every later head with the new key.
   * Planned (`lostKey` false): `next` is the new key, and the old key (this log's) signs the
   * rotation, vouching for the new one. Lost key (`lostKey` true): the log was built with the
   * new key while the chain records another one it no longer has; the new key signs the
   * rotation itself (nothing in the chain vouches for it; docs/audit.md says what a verifier
   * then needs). Nothing else can be written before a lost-key rotation.
   * @internal (the `cstore rotate-key` command and `rotateNodeKeyFile`)
   * @throws ConsensusStoreError INVALID_ARGUMENT (a bad key, the same key, no rotation to make),
   *   and the log's write errors, with nothing written.
   */
  async rotateNodeKey(next: NodeKey, lostKey: boolean): Promise<LogEntry> {
    this.checkOpen();
    const recorded = this.recordedKey;
    if (recorded === undefined) throw invalidArgument('audit log', 'records no node key yet: there is nothing to rotate');
    let rotateTo: NodeKey;
    let event: KeyRotated;
    if (lostKey) {
      if (equalBytes(recorded, this.key.publicKey)) throw invalidArgument('lostKey', 'is set, but this log holds the key the chain records: rotate it as planned');
      rotateTo = this.key;
      event = { type: 'KeyRotated', keyName: NODE_KEY_NAME, oldPublicKey: recorded.slice(), newPublicKey: this.key.publicKey.slice() };
    } else {
      this.checkRecordedKey();
      rotateTo = checkNodeKey('next', next.privateKey, next.publicKey);
      if (equalBytes(rotateTo.publicKey, this.key.publicKey)) throw invalidArgument('next', 'is the node key already in force');
      event = { type: 'KeyRotated', keyName: NODE_KEY_NAME, oldPublicKey: this.key.publicKey.slice(), newPublicKey: rotateTo.publicKey.slice() };
    }
    const encoded = this.encode(event);
    const bytes = recordSpan(entryPayloadBytes(encoded.bytes.length));
    const rotated = new Promise<{ lsns: Lsn[]; entries: LogEntry[] }>((resolve, reject) => {
      this.queue.push({ events: [encoded], companions: [], records: 1, bytes, resolve, reject, rotateTo });
    });
    // Planned: the new key then signs a batch of its own (a NodeKeyRecorded of it), so that a
    // verifier trusting the new key finds a head of it covering the whole chain.
    const confirmed = lostKey
      ? undefined
      : new Promise<{ lsns: Lsn[]; entries: LogEntry[] }>((resolve, reject) => {
          const confirm = this.encode({ type: 'NodeKeyRecorded', publicKey: rotateTo.publicKey.slice() });
          this.queue.push({ events: [confirm], companions: [], records: 1, bytes: recordSpan(entryPayloadBytes(confirm.bytes.length)), resolve, reject });
        });
    this.pump();
    // Both awaited together: when the rotation's batch fails, the confirmation behind it is
    // rejected too, and must not be left without a handler (an unhandled rejection).
    const [{ entries }] = await Promise.all([rotated, confirmed]);
    return entries[0] as LogEntry;
  }

  /**
   * The last node-key rotation this open replayed or wrote (an open that loaded a local image
   * past it does not know it). @internal
   */
  lastNodeKeyRotation(): { sequence: number; oldPublicKey: Uint8Array; newPublicKey: Uint8Array } | undefined {
    return this.nodeKeyRotation;
  }

  /**
   * After a planned rotation cut short between its two batches (the rotation, signed by the old
   * key; the new key's NodeKeyRecorded, signed by the new one): writes that second batch when
   * the chain's newest head is not signed by this log's key, so that a verifier trusting the new
   * key finds a head of it. Resolves with true when it wrote one. @internal
   */
  async confirmNodeKey(): Promise<boolean> {
    this.checkOpen();
    this.checkRecordedKey();
    const head = this.latestHead;
    if (head === undefined || verifyEd25519(head.signature, this.hasher.headSignBytes(head.treeSize, head.lastEntryHash, head.root), this.key.publicKey)) return false;
    await this.enqueue([this.encode({ type: 'NodeKeyRecorded', publicKey: this.key.publicKey.slice() })], []);
    return true;
  }

  /** True when the chain records a node key other than this log's (a lost-key rotation is due). @internal */
  recordsOtherKey(): boolean {
    return this.recordedKey !== undefined && !equalBytes(this.recordedKey, this.key.publicKey);
  }

  private checkRecordedKey(): void {
    if (this.recordedKey !== undefined && !equalBytes(this.recordedKey, this.key.publicKey)) {
      throw invalidArgument('options.publicKey', `is not the node key recorded in this audit log (${toHex(this.recordedKey)})`);
    }
  }

  /**
   * Queues one call. Its size is checked against the log's limits first: a record over
   * `maxRecordSize` rejects RECORD_TOO_LARGE, a call that cannot fit one batch even alone
   * (with the signed head and the commit marker) rejects BATCH_TOO_LARGE, nothing queued.
   */
  private enqueue(events: readonly EncodedEvent[], companions: readonly RecordInput[]): Promise<{ lsns: Lsn[]; entries: LogEntry[] }> {
    this.checkRecordedKey();
    const maxRecordSize = this.ctx.log.limits?.maxRecordSize ?? Number.POSITIVE_INFINITY;
    let bytes = 0;
    const add = (payloadBytes: number, what: string): void => {
      if (payloadBytes > maxRecordSize) {
        throw new ConsensusStoreError('RECORD_TOO_LARGE', `${what} has ${payloadBytes} bytes; the log's limit is ${maxRecordSize}`);
      }
      bytes += recordSpan(payloadBytes);
    };
    events.forEach((e, i) => add(entryPayloadBytes(e.bytes.length), `the audit entry of event ${i}`));
    companions.forEach((c, i) => add(c.payload.length, `companion record ${i}`));
    const records = events.length + companions.length;
    const limit = this.batchLimits();
    // Alone, without the key entry (which only the chain's first batch carries): the least it can need.
    if (records + 1 > limit.records || bytes + this.batchOverhead(false) > limit.bytes) {
      throw new ConsensusStoreError(
        'BATCH_TOO_LARGE',
        `one audit call needs ${records + 1} records and ${bytes + this.batchOverhead(false)} bytes with its head; the log's batch limit is ${limit.records} records and ${limit.bytes} bytes`,
      );
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ events, companions, records, bytes, resolve, reject });
      this.pump();
    });
  }

  /** The most records and bytes one audit batch may take: the audit log's own record limit and the log's limits. */
  private batchLimits(): { records: number; bytes: number } {
    const log = this.ctx.log.limits;
    return {
      records: Math.min(this.limits.maxBatchRecords, log?.maxBatchRecords ?? Number.POSITIVE_INFINITY),
      bytes: log?.maxBatchBytes ?? Number.POSITIVE_INFINITY,
    };
  }

  /** Bytes of a batch besides its calls' records: the signed head, the commit marker, and the key entry when the chain is empty. */
  private batchOverhead(withKeyEntry: boolean): number {
    return recordSpan(AUDIT_HEAD_PAYLOAD_BYTES) + COMMIT_RECORD_BYTES + (withKeyEntry ? this.keyEntryBytes : 0);
  }

  /**
   * Forms and writes the next batch unless one is in flight. Queued calls are merged in order
   * while the batch stays within both the record and the byte limits (D2, docs/audit.md): a call is
   * never merged into a batch it would overflow, so a merged batch is never refused
   * BATCH_TOO_LARGE when each call fits alone. The first call always goes (alone if need be).
   */
  private pump(): void {
    if (this.writing || this.queue.length === 0) return;
    const batch: WriteRequest[] = [];
    const keyEntry = this.tip.sequence === 0;
    const limit = this.batchLimits();
    let records = keyEntry ? 2 : 1;
    let bytes = this.batchOverhead(keyEntry);
    while (this.queue.length > 0) {
      const next = this.queue[0] as WriteRequest;
      if (batch.length > 0 && (records + next.records > limit.records || bytes + next.bytes > limit.bytes)) break;
      // A node-key rotation goes alone: the batches after it are signed with the new key.
      if (batch.length > 0 && next.rotateTo !== undefined) break;
      batch.push(this.queue.shift() as WriteRequest);
      records += next.records;
      bytes += next.bytes;
      if (next.rotateTo !== undefined) break;
    }
    this.writing = true;
    void this.writeBatch(batch).finally(() => {
      this.writing = false;
      this.pump();
    });
  }

  private async writeBatch(batch: readonly WriteRequest[]): Promise<void> {
    let built: ReturnType<LogAuditLog['buildBatch']>;
    let lsns: Lsn[];
    try {
      built = this.buildBatch(batch);
      if (built.headAt === 0) {
        // Nothing to chain (recordNodeKey on a chain that already has its key): no head either.
        for (const req of batch) req.resolve({ lsns: [], entries: [] });
        return;
      }
      lsns = await this.ctx.log.append(built.records);
    } catch (err) {
      for (const req of batch) req.reject(err);
      return;
    }
    this.commitBatch(batch, built, lsns);
  }

  /** Chains the batch's entries from the tip (without moving it), signs the head, lays out the records. */
  private buildBatch(batch: readonly WriteRequest[]) {
    const records: RecordInput[] = [];
    const frontier = this.tip.frontier.clone();
    let sequence = this.tip.sequence;
    let prevHash = this.tip.hash;
    const add = (encoded: EncodedEvent): BuiltEntry => {
      const body = encodeEntryBody({
        sequence,
        prevHash,
        eventCode: AUDIT_EVENT_CODES[encoded.event.type],
        timestamp: encoded.timestamp,
        eventBytes: encoded.bytes,
      });
      const hash = this.hasher.entryHash(body);
      const leafHash = merkleLeafHash(hash);
      const entry: BuiltEntry = { encoded, sequence, prevHash, hash, leafHash, record: records.length };
      records.push({ kind: RecordKind.AuditEvent, payload: encodeEntryPayload(hash, body) });
      frontier.append(leafHash);
      prevHash = hash;
      sequence++;
      return entry;
    };
    // The key entry takes the first event's time, so that the chain's times start in order.
    const firstTime = batch.find((r) => r.events.length > 0)?.events[0]?.timestamp;
    const keyEvent: AuditEvent = { type: 'NodeKeyRecorded', publicKey: this.key.publicKey.slice() };
    const keyEntry =
      sequence === 0 ? add(firstTime === undefined ? this.encode(keyEvent) : { event: keyEvent, bytes: encodeAuditEvent(keyEvent), timestamp: firstTime }) : undefined;
    const perRequest = batch.map((req) => {
      const companionAt = req.companions.map((c) => records.push(c) - 1);
      return { companionAt, entries: req.events.map(add) };
    });
    if (records.length === 0) return { records, keyEntry, perRequest, headAt: 0, tip: this.tip, root: frontier.root(), signature: new Uint8Array(0) };
    const root = frontier.root();
    const signature = signEd25519(this.hasher.headSignBytes(sequence, prevHash, root), this.key.privateKey);
    const headAt = records.push({ kind: RecordKind.AuditHead, payload: encodeHeadPayload({ treeSize: sequence, lastEntryHash: prevHash, root, signature }) }) - 1;
    return { records, keyEntry, perRequest, headAt, tip: { sequence, hash: prevHash, frontier }, root, signature };
  }

  /** The batch is durable: index its entries, move the tip, settle the calls. */
  private commitBatch(batch: readonly WriteRequest[], built: ReturnType<LogAuditLog['buildBatch']>, lsns: readonly Lsn[]): void {
    const lastEntryAt = built.headAt - 1;
    const signedHeadId = lsns[lastEntryAt] as Lsn;
    const toEntry = (b: BuiltEntry): MutableEntry => {
      const entry = makeEntry(lsns[b.record] as Lsn, b.sequence, b.encoded.event, b.encoded.timestamp, b.prevHash, b.hash);
      entry.signature = built.signature;
      entry.signedHeadId = signedHeadId;
      this.index(entry, b.leafHash);
      return entry;
    };
    if (built.keyEntry !== undefined) {
      toEntry(built.keyEntry);
      this.recordedKey = this.key.publicKey;
    }
    const results = built.perRequest.map((r) => ({ lsns: r.companionAt.map((i) => lsns[i] as Lsn), entries: r.entries.map(toEntry) }));
    const rotateTo = batch[0]?.rotateTo;
    if (rotateTo !== undefined) {
      // Durable: every later head is signed with the new key.
      const rotation = results[0]?.entries[0]?.event;
      if (rotation?.type === 'KeyRotated') {
        this.nodeKeyRotation = { sequence: results[0]?.entries[0]?.sequence ?? 0, oldPublicKey: rotation.oldPublicKey, newPublicKey: rotation.newPublicKey };
      }
      this.key = rotateTo;
      this.recordedKey = rotateTo.publicKey;
    }
    this.tip = built.tip;
    this.latestHead = {
      id: lsns[built.headAt] as Lsn,
      treeSize: built.tip.sequence,
      lastEntryHash: built.tip.hash,
      root: built.root,
      signature: built.signature,
    };
    batch.forEach((req, i) => req.resolve(results[i] as { lsns: Lsn[]; entries: LogEntry[] }));
  }

  private index(entry: MutableEntry, leafHash: Uint8Array | undefined): void {
    this.entries.add(entry, leafHash);
  }

  // ---- image --------------------------------------------------------------------------------

  /**
   * Captures the chain tip, head, key, damage, unsigned entries and the indexed entries
   * (`audit-image.ts`). Entries are only added after the newest and their fields never change
   * except the signature of an unsigned one: the count and the unsigned LSNs pin what the
   * writer later reads. The frontier changes in place: cloned.
   */
  captureImage(): (w: ImageWriter) => void {
    const count = this.entries.size;
    const leafHashes = this.entries.leafHashes;
    const state = {
      tipSequence: this.tip.sequence,
      tipHash: this.tip.hash,
      frontier: this.tip.frontier.clone(),
      head: this.latestHead,
      recordedKey: this.recordedKey,
      damage: this.damage,
      unsigned: this.unsigned.map((e) => e.id),
      entries: this.entries.firstEntries(count),
      count,
      leafHashes,
      leafBytes: Math.min(count * HASH_BYTES, leafHashes.length),
      cold: this.tier === undefined ? undefined : { cutLsn: this.coldCut.lsn, leafBase: this.entries.leafBase, lastUnsignedId: this.lastUnsignedId, tail: this.coldTail },
    };
    return (w) => writeAuditImage(w, state);
  }

  /** Loads the section into this fresh audit log. @throws Error on malformed bytes. */
  loadImage(r: ImageReader): void {
    const image = readAuditImage(r);
    const hot = hotPartOfImage(image, this.coldCut.lsn);
    for (const entry of hot.entries) this.index(entry, undefined);
    this.entries.restoreLeafHashes(hot.leafHashes, hot.leafBase);
    this.coldTail = hot.tail;
    this.tip = { sequence: image.tipSequence, hash: image.tipHash, frontier: image.frontier };
    this.latestHead = image.head;
    this.recordedKey = image.recordedKey;
    this.damage = image.damage;
    this.unsigned = hot.unsigned;
    this.lastUnsignedId = hot.lastUnsignedId;
  }

  // ---- cold tier (docs/audit.md, "What lives where") -------------------------------------------

  /**
   * The block-index keys of an audit record (`audit-cold.ts`). A record whose payload does not
   * decode (damage under a valid CRC) gets no keys and moves as it is: the replay and the cold
   * reads skip it alike, `verifyIntegrity` names it; refusing it would stop every compaction
   * for good and let the hot log grow without bound.
   * @throws INVALID_ARGUMENT (not an audit kind, not bytes).
   */
  coldKeys(kind: number, payload: Uint8Array): ColdKeys {
    try {
      return auditColdKeys(kind, payload);
    } catch (err) {
      if (err instanceof ConsensusStoreError && err.code === 'CORRUPTION') return {};
      throw err;
    }
  }

  /**
   * The audit records with `previous.lsn < lsn <= next.lsn`, verbatim from the log (the chain
   * hashes those bytes), in LSN order, read when the returned function's iterable is walked.
   * @throws INVALID_ARGUMENT (a bad cut, `next` below `previous`), CLOSED.
   */
  captureCold(previous: ColdCut, next: ColdCut): () => AsyncIterable<ColdRecord> {
    this.checkOpen();
    const p = checkCut('previous', previous);
    const n = checkCut('next', next);
    if (n.lsn < p.lsn) throw invalidArgument('next.lsn', `(${n.lsn}) is below previous.lsn (${p.lsn}): cuts only grow`);
    const log = this.ctx.log;
    return () => scanAuditRecords(log, p.lsn + 1, n.lsn);
  }

  /**
   * Drops every entry at or below `cut` from the indexes and their leaf hashes (the tier holds
   * them now); the chain state (tip, frontier, latest head, damage) stays. Synchronous.
   * @throws INVALID_ARGUMENT (a bad cut or tier, a cut below the one in force), nothing changed.
   */
  evictCold(cut: ColdCut, tier: ColdTier): void {
    const c = checkCut('cut', cut);
    const t = checkTier('tier', tier);
    if (c.lsn < this.coldCut.lsn) throw invalidArgument('cut.lsn', `(${c.lsn}) is below the cut in force (${this.coldCut.lsn}): cuts only grow`);
    let lastCold: MutableEntry | undefined;
    for (const e of this.entries.all()) {
      if (e.id > c.lsn) break;
      lastCold = e;
    }
    if (lastCold !== undefined) this.coldTail = tailOf(lastCold, this.unsigned);
    this.unsigned = this.unsigned.filter((e) => e.id > c.lsn);
    this.entries = this.entries.hotAbove(c.lsn, this.tip.sequence);
    this.coldCut = c;
    this.tier = t;
  }

  /** A reader of the cold tier for one query, or undefined when nothing is cold. */
  private coldReader(): ColdAuditReader | undefined {
    return this.tier === undefined || this.coldCut.lsn === 0 ? undefined : new ColdAuditReader(this.tier, this.coldCut, this.coldTail);
  }

  // ---- replay -------------------------------------------------------------------------------

  /**
   * Folds one durable audit record into the indexes (replay). A record that does not decode
   * is remembered as damage (reported by `verifyIntegrity`, refused by `getEvidence`), not
   * thrown: see the top comment. Signatures are checked by `verifyIntegrity`, not here.
   */
  apply(record: LogRecord): void {
    if (record.kind === RecordKind.AuditEvent) this.applyEntry(record);
    else if (record.kind === RecordKind.AuditHead) this.applyHead(record);
  }

  /**
   * The audit sequence numbers missing from the replayed chain between two entries that bracket
   * the LSNs `firstLsn..lastLsn` (a repair's lost range; `lastLsn` undefined: unknown, up to
   * the next entry), or undefined when no audit entry was lost there.
   */
  lostSequencesIn(firstLsn: number, lastLsn: number | undefined): { first: number; last: number } | undefined {
    const gap = this.gaps.find((g) => g.afterLsn < firstLsn && (lastLsn === undefined || lastLsn < g.beforeLsn));
    return gap === undefined ? undefined : { first: gap.first, last: gap.last };
  }

  private noteDamage(id: Lsn, reason: string): void {
    this.damage ??= { id, reason };
  }

  private applyEntry(record: LogRecord): void {
    let parts: ReturnType<typeof decodeEntryBody> & { hash: Uint8Array };
    try {
      const split = splitEntryPayload(record.payload);
      parts = { ...decodeEntryBody(split.body), hash: split.hash };
    } catch (err) {
      this.noteDamage(record.lsn, `entry does not decode: ${(err as Error).message}`);
      return;
    }
    const frontier = this.tip.frontier;
    if (parts.sequence > this.tip.sequence) {
      // A repair's gap (docs/durability.md, D5): the lost entries are leaves LOST_ENTRY_LEAF, as
      // the verifier counts them; the StoreRepaired entry recorded after the repair names them.
      this.gaps.push({ first: this.tip.sequence, last: parts.sequence - 1, afterLsn: this.lastEntryLsn, beforeLsn: record.lsn });
      frontier.appendRepeated(LOST_ENTRY_LEAF, parts.sequence - this.tip.sequence);
      this.noteDamage(record.lsn, `entries ${this.tip.sequence}..${parts.sequence - 1} are missing (a repair's gap; dispute evidence is not served over it)`);
    } else if (parts.sequence !== this.tip.sequence || !equalBytes(parts.prevHash, this.tip.hash)) {
      this.noteDamage(record.lsn, `entry ${parts.sequence} does not continue the chain at ${this.tip.sequence}`);
    }
    this.lastEntryLsn = record.lsn;
    if (parts.sequence === 0 && parts.event.type === 'NodeKeyRecorded') this.recordedKey = parts.event.publicKey;
    // A node-key rotation: the chain's key from here on (the verifier checks who signed it).
    if (parts.event.type === 'KeyRotated' && parts.event.keyName === NODE_KEY_NAME) {
      this.recordedKey = parts.event.newPublicKey;
      this.nodeKeyRotation = { sequence: parts.sequence, oldPublicKey: parts.event.oldPublicKey, newPublicKey: parts.event.newPublicKey };
    }
    const leafHash = merkleLeafHash(parts.hash);
    frontier.append(leafHash);
    this.tip = { sequence: parts.sequence + 1, hash: parts.hash, frontier };
    this.lastUnsignedId = record.lsn;
    if (isColdByLsn(this.coldCut, record.lsn)) {
      // In the cold tier: folded into the chain state above, never indexed.
      this.coldTail = { pending: true, signature: null, signedHeadId: null };
      this.entries.skipLeavesBelow(parts.sequence + 1);
      return;
    }
    const entry = makeEntry(record.lsn, parts.sequence, parts.event, parts.timestamp, parts.prevHash, parts.hash);
    this.index(entry, leafHash);
    this.unsigned.push(entry);
  }

  private applyHead(record: LogRecord): void {
    let head: ReturnType<typeof decodeHeadPayload>;
    try {
      head = decodeHeadPayload(record.payload);
    } catch (err) {
      this.noteDamage(record.lsn, `head does not decode: ${(err as Error).message}`);
      return;
    }
    const lastId = this.lastUnsignedId;
    if (lastId === undefined) {
      this.noteDamage(record.lsn, 'head record follows no unsigned entry');
      return;
    }
    for (const entry of this.unsigned) {
      entry.signature = head.signature;
      entry.signedHeadId = lastId;
    }
    if (this.coldTail.pending) this.coldTail = { pending: false, signature: head.signature, signedHeadId: lastId };
    this.unsigned = [];
    this.lastUnsignedId = undefined;
    this.latestHead = { id: record.lsn, ...head };
  }

  // ---- queries ------------------------------------------------------------------------------

  private listOptions(options: unknown): { limit: number; descending: boolean } {
    const o = checkQuery('options', checkObject('options', options), LIST_OPTION_KEYS);
    const limit = parseLimit('options.limit', o['limit'], { defaultLimit: this.limits.defaultQueryLimit, maxLimit: this.limits.maxQueryLimit });
    return { limit, descending: o['descending'] === undefined ? false : checkBoolean('options.descending', o['descending']) };
  }

  /**
   * Entries that concern a height (or an inclusive range `{ startHeight, endHeight }`), by
   * (height, id), at most `limit`. @throws INVALID_ARGUMENT.
   */
  async queryByHeight(height: number | HeightRange, options: AuditQueryOptions = {}): Promise<LogEntry[]> {
    this.checkOpen();
    let from: number;
    let to: number;
    if (typeof height === 'number') from = to = checkSafeUint('height', height);
    else {
      const r = checkQuery('height', checkObject('height', height), HEIGHT_RANGE_KEYS);
      if (r['startHeight'] === undefined || r['endHeight'] === undefined) throw invalidArgument('height', 'must give startHeight and endHeight');
      ({ startHeight: from, endHeight: to } = parseHeightRange('height', r));
    }
    const o = this.listOptions(options);
    const hot = take(this.entries.byHeight(from, to, o.descending), o.limit);
    const reader = this.coldReader();
    if (reader === undefined) return hot;
    const blocks = await reader.blocks({ height: [from, to] });
    if (blocks.length === 0) return hot;
    const found = await mergeByKey(reader, blocks, hot, {
      ...o,
      key: (e) => e.height as number,
      range: (b) => [b.minHeight, b.maxHeight],
      match: (e) => e.height !== undefined && e.height >= from && e.height <= to,
    });
    return found.map((f) => f.entry);
  }

  /** Entries that concern a validator, by id, at most `limit`. @throws INVALID_ARGUMENT. */
  async queryByValidator(validatorId: string, options: AuditQueryOptions = {}): Promise<LogEntry[]> {
    this.checkOpen();
    const id = checkValidatorId('validatorId', validatorId);
    const o = this.listOptions(options);
    const hot = take(this.entries.byValidator(id, o.descending), o.limit);
    const reader = this.coldReader();
    if (reader === undefined) return hot;
    const found = await mergeByLsn(reader, () => reader.blocks({ validator: id }), hot, { ...o, match: (e) => e.validatorId === id });
    return found.map((f) => f.entry);
  }

  /**
   * Entries logged between `from` and `to` (both inclusive; Dates or ms since the epoch), by
   * (timestamp, id), at most `limit`. @throws INVALID_ARGUMENT.
   */
  async queryByDateRange(from: Date | number, to: Date | number, options: AuditQueryOptions = {}): Promise<LogEntry[]> {
    this.checkOpen();
    const lo = checkTime('from', from);
    const hi = checkTime('to', to);
    if (lo > hi) throw invalidArgument('from', 'must not be after to');
    const o = this.listOptions(options);
    const hot = take(this.entries.byTime(lo, hi, o.descending), o.limit);
    const reader = this.coldReader();
    if (reader === undefined) return hot;
    const blocks = await reader.blocks({ time: [lo, hi] });
    if (blocks.length === 0) return hot;
    const found = await mergeByKey(reader, blocks, hot, {
      ...o,
      key: (e) => e.timestamp,
      range: (b) => [b.minTime, b.maxTime],
      match: (e) => e.timestamp >= lo && e.timestamp <= hi,
    });
    return found.map((f) => f.entry);
  }

  /**
   * A dispute bundle (docs/audit.md): the matching entries as stored, with RFC 6962 inclusion
   * proofs under the latest signed head, and that head's signature. Checkable offline with
   * `verifyDisputeEvidence`. Matching entries are taken oldest first, at most `limit`.
   * @throws INVALID_ARGUMENT (bad query), NOT_FOUND (no entry matches), CORRUPTION (the chain is
   *   damaged: run verifyIntegrity), and the log's read errors.
   */
  async getEvidence(query: EvidenceQuery): Promise<DisputeEvidence> {
    this.checkOpen();
    const q = checkObject('query', query);
    checkQuery('query', q, EVIDENCE_QUERY_KEYS);
    const validatorId = q.validatorId === undefined ? undefined : checkValidatorId('query.validatorId', q.validatorId);
    let { startHeight: from, endHeight: to } = parseHeightRange('query', q);
    if (q.height !== undefined) {
      const h = checkSafeUint('query.height', q.height);
      from = Math.max(from, h);
      to = Math.min(to, h);
    }
    if (from > to) throw invalidArgument('query', 'height range is empty');
    const heightGiven = q.height !== undefined || q.startHeight !== undefined || q.endHeight !== undefined;
    let types: ReadonlySet<AuditEventType> | undefined;
    if (q.types !== undefined) {
      if (!Array.isArray(q.types) || q.types.length === 0) throw invalidArgument('query.types', 'must be a non-empty array of event types');
      types = new Set(q.types.map((t, i) => checkEventType(`query.types[${i}]`, t)));
    }
    const limit = parseLimit('query.limit', q.limit, { defaultLimit: this.limits.defaultEvidenceLimit, maxLimit: this.limits.maxEvidenceLimit });
    const head = this.latestHead;
    if (this.damage !== undefined) {
      throw new ConsensusStoreError('CORRUPTION', `the audit chain is damaged at record ${this.damage.id}: ${this.damage.reason}`, { details: { lsn: this.damage.id } });
    }
    const source: Iterable<MutableEntry> =
      validatorId !== undefined ? this.entries.byValidator(validatorId) : heightGiven ? this.entries.byHeight(from, to) : this.entries.all();
    const match = (e: MutableEntry): boolean =>
      head !== undefined &&
      e.sequence < head.treeSize &&
      (!heightGiven || (e.height !== undefined && e.height >= from && e.height <= to)) &&
      (types === undefined || types.has(e.event.type)) &&
      (validatorId === undefined || e.validatorId === validatorId);
    const hot: MutableEntry[] = [];
    for (const e of source) {
      if (hot.length >= limit) break;
      if (match(e)) hot.push(e);
    }
    // The leaves held now, before any await: a write or an eviction meanwhile leaves them as they are.
    const leafBase = this.entries.leafBase;
    const hotLeaves = this.entries.leafHashes;
    const reader = this.coldReader();
    const matches: readonly FoundEntry[] =
      reader === undefined || head === undefined
        ? hot.map((entry) => ({ entry }))
        : await evidenceMatches(reader, hot, { limit, match, validatorId, heights: heightGiven ? [from, to] : undefined });
    if (head === undefined || matches.length === 0) throw new ConsensusStoreError('NOT_FOUND', 'no audit entry matches the query');
    const records: { sequence: number; payload: Uint8Array }[] = [];
    for (const { entry: e, payload } of matches) {
      if (payload !== undefined) {
        records.push({ sequence: e.sequence, payload });
        continue;
      }
      // An entry a compaction moved meanwhile (its segment may be released) is read from the tier.
      const record = (await this.ctx.log.get(e.id)) ?? (await this.coldReader()?.record(e.id));
      if (record === undefined || record.kind !== RecordKind.AuditEvent) {
        throw new ConsensusStoreError('CORRUPTION', `audit entry ${e.id} is not in the log`, { details: { lsn: e.id } });
      }
      records.push({ sequence: e.sequence, payload: record.payload });
    }
    // The cold leaves are recomputed from the cold blocks (docs/audit.md, "What lives where").
    const leafHashes = leafBase > 0 && reader !== undefined ? await proofLeaves(reader, hotLeaves, leafBase, head.treeSize) : hotLeaves;
    return buildDisputeEvidence({ chainId: this.chainId, publicKey: this.key.publicKey, head, leafHashes, records });
  }

  // ---- integrity and export ----------------------------------------------------------------

  /**
   * Reads every durable audit record back from the log and checks the chain: each hash
   * recomputed from the stored bytes, sequence and links, every head's tree size, root and
   * signature with the node key. The chain must also reach this store's latest acknowledged
   * head (or `expectHead`, an anchor kept elsewhere), which catches a cut tail.
   * @returns ok, entries checked, and on failure the first bad entry and why.
   * @throws INVALID_ARGUMENT (bad anchor), and the log's read errors.
   */
  async verifyIntegrity(options: { expectHead?: { treeSize: number; root: Uint8Array } } = {}): Promise<IntegrityReport> {
    this.checkOpen();
    const o = checkObject('options', options);
    let expect: { treeSize: number; root: Uint8Array } | undefined;
    if (o.expectHead !== undefined) {
      const a = checkObject('options.expectHead', o.expectHead);
      const root = a.root;
      if (!(root instanceof Uint8Array) || root.length !== HASH_BYTES) throw invalidArgument('options.expectHead.root', 'must be 32 bytes');
      expect = { treeSize: checkInteger('options.expectHead.treeSize', a.treeSize, 1, MAX_SAFE), root };
    } else if (this.latestHead !== undefined) {
      expect = { treeSize: this.latestHead.treeSize, root: this.latestHead.root };
    }
    const verifier = new AuditChainVerifier(this.chainId, this.key.publicKey, expect);
    // Cold records first, block by block (a damaged block rejects CORRUPTION, as a damaged hot
    // record does), then the hot log after the cut, through the one verifier.
    const after = await this.feedCold((records) => records.every((r) => feedAuditRecord(verifier, r)));
    if (!verifier.failed) await this.ctx.log.scan((record) => feedAuditRecord(verifier, record), after === 0 ? undefined : ((after + 1) as Lsn));
    return verifier.finish();
  }

  /**
   * Hands `feed` every cold audit record in LSN order, a block at a time, until it returns false;
   * when a compaction moves the cut meanwhile (and may release the log's segments below it),
   * the records it moved are read from the tier too. Returns the LSN the log is to be read after
   * (0: no cold tier).
   */
  private async feedCold(feed: (records: readonly ColdRecord[]) => boolean | Promise<boolean>): Promise<number> {
    let done = 0;
    for (let reader = this.coldReader(); reader !== undefined && reader.cutLsn > done; reader = this.coldReader()) {
      for await (const records of reader.all(done)) if (!(await feed(records))) return reader.cutLsn;
      done = reader.cutLsn;
    }
    return done;
  }

  /**
   * Writes the whole durable audit chain to `path` as JSON Lines (docs/audit.md, "Export"),
   * streamed in bounded chunks, temp file + datasync + rename + directory fsync.
   * Verify it offline with `verifyAuditExport`.
   * @throws INVALID_ARGUMENT (bad path), IO_FAILED / DISK_FULL, and the log's read errors.
   */
  async export(path: string): Promise<{ entries: number; heads: number; bytes: number }> {
    this.checkOpen();
    const fs = this.fs ?? (await import('../io/real-fs.ts')).defaultFileSystem();
    return exportAuditRecords({ log: this.ctx.log, fs, path, chainId: this.chainId, publicKey: this.key.publicKey, cold: (feed) => this.feedCold(feed) });
  }
}



