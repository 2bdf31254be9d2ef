/**
 * LogEvidenceStore: self-proving evidence of validator misbehavior (docs/evidence-and-rewards.md), indexed
 * by content id, by validator and by type, with offense counts per validator.
 *
 * A write checks the evidence's shape, puts a pair of messages in canonical order, derives the
 * content id (SHA-256 over fixed-layout bytes) and verifies the evidence against the validator's
 * key at that height, all before anything is queued; then, in the write queue, it deduplicates
 * by content id, appends one record and folds it into the indexes once durable. Equivocation
 * that the VoteStore detects joins the conflicting vote's own batch (D3) through
 * `voteBatchPart`, and is folded in by `apply` once that batch is durable.
 *
 * Why this file is over 450 lines: recording, verification upgrades, expiry and the vote-batch
 * part all update the same content-id map and offense counts under one rule (never count an
 * offense twice); the content ids and signature checks live in `codec/evidence-verify.ts`.
 *
 * Its image section (tag 7) is in `evidence-image.ts`.
 *
 * This module must never write for a call that fails its checks, never count one offense twice,
 * never let an index see a record before the log reports it durable, and never drop an offense
 * count when evidence expires.
 */
import { ConsensusStoreError, invalidArgument, isStoreError } from '../errors.ts';
import { checkEvidence, EVIDENCE_TYPES, MAX_SUBMITTER_LENGTH } from '../model/evidence.ts';
import {
  decodeEvidencePruneRecord,
  decodeEvidenceRecord,
  encodeEvidencePruneRecord,
  encodeEvidenceRecord,
  EVIDENCE_RECORD_KINDS,
  evidenceTypeCode,
} from '../codec/evidence-record.ts';
import { canonicalEvidence, evidenceContentId, verifyEvidenceContent } from '../codec/evidence-verify.ts';
import type { PublicKeyAt } from '../codec/evidence-verify.ts';
import { RecordKind } from '../codec/kinds.ts';
import { checkChainId, checkValidatorId, checkVote } from '../model/vote.ts';
import { BTree } from '../btree/btree.ts';
import { compareNumbers, compareStrings, tupleComparator } from '../btree/keys.ts';
import type { LogRecord, Lsn, RecordInput } from '../log/types.ts';
import { checkBoolean, checkObject, checkOneOf, checkSafeUint, checkString } from '../model/check.ts';
import { assertOpen, type ImageSection, type RecordApplier, type StoreContext } from './context.ts';
import type { ImageReader, ImageWriter } from '../codec/image-section.ts';
import { readEvidenceImage, writeEvidenceImage } from './evidence-image.ts';
import { DEFAULT_EVIDENCE_QUERY_LIMIT, MAX_EVIDENCE_PER_VOTE, MAX_EVIDENCE_QUERY_LIMIT } from './evidence-types.ts';
import type {
  ByzantineEvidence,
  EquivocationEvidence,
  EvidenceFailure,
  EvidencePruneRule,
  EvidenceType,
  EvidenceVerdict,
} from '../model/evidence.ts';
import type {
  ByzantineEvidenceStore,
  EvidenceQueryOptions,
  OffenseCount,
  RecordEvidenceOptions,
  RecordEvidenceResult,
  StoredEvidence,
} from './evidence-types.ts';
import type { ValidatorVote } from '../model/vote.ts';
import type { VoteBatchEvent } from './vote-types.ts';
import type { BatchPart } from './commit-pipeline.ts';
import { toHex } from '../codec/bytes.ts';
import { checkQuery, parseHeightRange, parseLimit } from './context.ts';
import { readClock, SerialQueue } from './context.ts';

export type { PublicKeyAt } from '../codec/evidence-verify.ts';

/** Options of the LogEvidenceStore. */
export interface EvidenceStoreOptions {
  /** The chain id every signature is bound to (1..64 characters). */
  readonly chainId: string;
  /** A validator's raw 32-byte ed25519 public key at a height, or undefined (openStore backs it with the ValidatorRegistry). */
  readonly publicKeyAt: PublicKeyAt;
  /** `submittedBy` of the evidence this node detects itself (vote batches). Default `local`. */
  readonly nodeId?: string;
}

/** What `buildEquivocationRecord` needs besides the two votes. */
export interface EquivocationRecordOptions {
  readonly chainId: string;
  readonly publicKeyAt: PublicKeyAt;
  /** When the conflict was detected, ms since the epoch (also the record's `recordedAt`). */
  readonly detectedAt: number;
  readonly submittedBy: string;
  /** Default false. */
  readonly verifiedByQuorum?: boolean;
}

const ID_PATTERN = /^[0-9a-f]{64}$/;

/** (validator, height, LSN); a shorter tuple is a range bound. */
type ValidatorKey = readonly [string, number, number?];
/** (type code, height, LSN). */
type TypeKey = readonly [number, number, number?];
/** (height, LSN). */
type HeightKey = readonly [number, number?];

interface MutableCounts {
  verified: number;
  unverified: number;
}

function checkEvidenceId(name: string, value: unknown): string {
  const s = checkString(name, value, 64);
  if (!ID_PATTERN.test(s)) throw invalidArgument(name, 'must be 64 lowercase hex characters (a content id)');
  return s;
}

function checkFunction<F>(name: string, value: unknown): F {
  if (typeof value !== 'function') throw invalidArgument(name, 'must be a function');
  return value as F;
}

function copyVote(v: ValidatorVote): ValidatorVote {
  return { ...v, blockHash: v.blockHash === null ? null : v.blockHash.slice(), signature: v.signature.slice() };
}

/** A deep copy: callers never hold the index's bytes. */
function copyEvidence(e: StoredEvidence): StoredEvidence {
  switch (e.type) {
    case 'Equivocation':
    case 'DoubleSign':
      return { ...e, details: { voteA: copyVote(e.details.voteA), voteB: copyVote(e.details.voteB) } };
    case 'InvalidSignature':
      return { ...e, details: { vote: copyVote(e.details.vote) } };
    case 'ReplayAttack':
      return { ...e, details: { ...e.details, vote: copyVote(e.details.vote) } };
    case 'ProposalEquivocation': {
      const { proposalA: a, proposalB: b } = e.details;
      return {
        ...e,
        details: {
          proposalA: { ...a, blockHash: a.blockHash.slice(), signature: a.signature.slice() },
          proposalB: { ...b, blockHash: b.blockHash.slice(), signature: b.signature.slice() },
        },
      };
    }
  }
}

function rejected(verdict: EvidenceVerdict & { ok: false }): ConsensusStoreError {
  return new ConsensusStoreError('INVALID_ARGUMENT', `evidence does not verify (${verdict.failure}): ${verdict.reason}`, {
    details: { argument: 'evidence', failure: verdict.failure, reason: verdict.reason },
  });
}

/**
 * The equivocation evidence of two votes of one validator for the same (round, type): the pair
 * in canonical order, `height` the lower of the two. Nothing is verified here.
 * @throws ConsensusStoreError INVALID_ARGUMENT on a malformed vote or option.
 */
export function equivocationEvidence(
  voteA: ValidatorVote,
  voteB: ValidatorVote,
  options: Omit<EquivocationRecordOptions, 'publicKeyAt'>,
): EquivocationEvidence {
  const a = checkVote('voteA', voteA);
  const b = checkVote('voteB', voteB);
  const evidence: EquivocationEvidence = {
    type: 'Equivocation',
    validatorId: a.validatorId,
    height: Math.min(a.height, b.height),
    detectedAt: checkSafeUint('options.detectedAt', options.detectedAt),
    submittedBy: checkString('options.submittedBy', options.submittedBy, MAX_SUBMITTER_LENGTH),
    verifiedByQuorum: options.verifiedByQuorum === undefined ? false : checkBoolean('options.verifiedByQuorum', options.verifiedByQuorum),
    details: { voteA: a, voteB: b },
  };
  return canonicalEvidence(checkEvidence('evidence', evidence) as EquivocationEvidence, checkChainId('options.chainId', options.chainId));
}

/** The content id (64 lowercase hex characters) of evidence under `chainId`. Throws INVALID_ARGUMENT on malformed evidence. */
export function evidenceId(evidence: ByzantineEvidence, chainId: string): string {
  const e = checkEvidence('evidence', evidence);
  return toHex(evidenceContentId(e, checkChainId('chainId', chainId)));
}

function buildEquivocation(voteA: ValidatorVote, voteB: ValidatorVote, options: EquivocationRecordOptions): { input: RecordInput; id: string } {
  const o = checkObject('options', options);
  const publicKeyAt = checkFunction<PublicKeyAt>('options.publicKeyAt', o['publicKeyAt']);
  const evidence = equivocationEvidence(voteA, voteB, options);
  const verdict = verifyEvidenceContent(evidence, options.chainId, publicKeyAt);
  if (!verdict.ok && verdict.failure !== 'BAD_SIGNATURE' && verdict.failure !== 'UNKNOWN_VALIDATOR') {
    throw invalidArgument('voteB', `does not equivocate with voteA (${verdict.failure}): ${verdict.reason}`);
  }
  const id = evidenceContentId(evidence, options.chainId);
  const input = encodeEvidenceRecord({
    id,
    evidence,
    status: verdict.ok ? 'verified' : 'unverified',
    failure: verdict.ok ? undefined : verdict.failure,
    recordedAt: evidence.detectedAt,
  });
  return { input, id: toHex(id) };
}

/**
 * The Evidence record of an equivocation (pure, synchronous), for the VoteStore to put into
 * the same atomic batch as the conflicting vote (D3); `apply` indexes it once that batch is
 * durable. The evidence is `verified` when both signatures check under the validator's key at
 * each vote's height, `unverified` (counted apart) when a key is unknown or a signature fails.
 * @throws ConsensusStoreError INVALID_ARGUMENT when an argument is malformed or the votes do not
 *   conflict (other validator, round or type; same height and block hash).
 */
export function buildEquivocationRecord(voteA: ValidatorVote, voteB: ValidatorVote, options: EquivocationRecordOptions): RecordInput {
  return buildEquivocation(voteA, voteB, options).input;
}

/** Prunes remembered with their LSNs (`#recentPrunes`): far more than can be in flight at once. */
const RECENT_PRUNES = 64;

/** True when `rule` expires `e` (CometBFT's rule: older than both `maxAgeBlocks` and `maxAgeMs`). */
function expires(rule: EvidencePruneRule, e: StoredEvidence): boolean {
  return rule.currentHeight > rule.maxAgeBlocks && e.height < rule.currentHeight - rule.maxAgeBlocks && rule.now - e.detectedAt > rule.maxAgeMs;
}

/**
 * Evidence of Byzantine behavior (the specification's LogEvidenceStore).
 *
 * Errors: INVALID_ARGUMENT for malformed arguments and for evidence that does not verify
 * (`details.failure` names the rule, see `EvidenceFailure`) unless recorded as unverified;
 * NOT_FOUND for `verifyEvidence` of an unknown id; CONFLICT for evidence that was recorded and
 * has expired since; CLOSED for every method once the store is closed. None of them writes
 * anything.
 */
export class LogEvidenceStore implements RecordApplier, ByzantineEvidenceStore, ImageSection {
  /** The record kinds this store owns (Evidence, EvidencePrune). */
  readonly kinds: readonly number[] = EVIDENCE_RECORD_KINDS;
  /** Its section's tag in the local state image. */
  readonly imageTag = 7;

  readonly #ctx: StoreContext;
  readonly #chainId: string;
  readonly #publicKeyAt: PublicKeyAt;
  readonly #nodeId: string;
  readonly #byId = new Map<string, StoredEvidence>();
  readonly #byValidator = new BTree<ValidatorKey, string>(tupleComparator(compareStrings, compareNumbers, compareNumbers));
  readonly #byType = new BTree<TypeKey, string>(tupleComparator(compareNumbers, compareNumbers, compareNumbers));
  readonly #byHeight = new BTree<HeightKey, string>(tupleComparator(compareNumbers, compareNumbers));
  /** Per validator, per type code (index 0 unused): counts that survive pruning. */
  readonly #counts = new Map<string, MutableCounts[]>();
  /** Content ids of expired evidence: recording one again is refused, replaying one is ignored. */
  readonly #pruned = new Set<string>();
  /**
   * The prunes applied by this open, with their LSNs (the last `RECENT_PRUNES`). A vote batch's
   * Evidence records can be folded in after a prune written after them (their continuation runs
   * later): such evidence is expired on arrival by every prune of a later LSN, as a replay in LSN
   * order would have. Not in the image: at a capture every record up to it has been folded.
   */
  readonly #recentPrunes: { readonly lsn: number; readonly rule: EvidencePruneRule }[] = [];
  /** Unverified evidence expired by this open's prunes, with the prune's LSN (for a late upgrade written before it). */
  readonly #prunedUnverified = new Map<string, { readonly lsn: number; readonly evidence: StoredEvidence }>();
  readonly #writes = new SerialQueue();

  /**
   * @param ctx - the shared log and clock.
   * @param options - chain id, public-key lookup, and the node's id for evidence it detects.
   * @throws ConsensusStoreError INVALID_ARGUMENT on a bad option.
   */
  constructor(ctx: StoreContext, options: EvidenceStoreOptions) {
    const o = checkObject('options', options);
    this.#ctx = ctx;
    this.#chainId = checkChainId('options.chainId', o['chainId']);
    this.#publicKeyAt = checkFunction<PublicKeyAt>('options.publicKeyAt', o['publicKeyAt']);
    this.#nodeId = o['nodeId'] === undefined ? 'local' : checkString('options.nodeId', o['nodeId'], MAX_SUBMITTER_LENGTH);
  }

  /** Number of pieces of evidence held (expired ones excluded). */
  get size(): number {
    return this.#byId.size;
  }

  /**
   * Records evidence once durable. Evidence that verifies is stored `verified`; evidence that
   * does not is rejected (INVALID_ARGUMENT, `details.failure`), or with `unverified: true`
   * stored `unverified` and counted apart. The same content again (in either order of a pair)
   * writes nothing and resolves `duplicate`, except unverified evidence that now verifies, and
   * evidence stored without `verifiedByQuorum` that comes again with it: each writes one record
   * and resolves `upgraded` (the first report's other fields are kept).
   * Rejects INVALID_ARGUMENT, CONFLICT (the evidence expired since it was recorded), and the
   * log's write errors.
   */
  recordEvidence(evidence: ByzantineEvidence, options: RecordEvidenceOptions = {}): Promise<RecordEvidenceResult> {
    let prepared: { e: ByzantineEvidence; id: Uint8Array; verdict: EvidenceVerdict };
    try {
      assertOpen(this.#ctx);
      const o = checkObject('options', options);
      const allowUnverified = o['unverified'] === undefined ? false : checkBoolean('options.unverified', o['unverified']);
      const e = canonicalEvidence(checkEvidence('evidence', evidence), this.#chainId);
      const verdict = verifyEvidenceContent(e, this.#chainId, this.#publicKeyAt);
      if (!verdict.ok && !allowUnverified) throw rejected(verdict);
      prepared = { e, id: evidenceContentId(e, this.#chainId), verdict };
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#enqueue(() => this.#writeEvidence(prepared.e, prepared.id, prepared.verdict));
  }

  /** The stored evidence with this content id, or undefined. Rejects INVALID_ARGUMENT on a malformed id. */
  async getEvidence(id: string): Promise<StoredEvidence | undefined> {
    assertOpen(this.#ctx);
    const stored = this.#byId.get(checkEvidenceId('id', id));
    return stored === undefined ? undefined : copyEvidence(stored);
  }

  /**
   * A validator's evidence with `startHeight <= height <= endHeight`, in (height, LSN) order, at
   * most `limit` (default 1,000, at most 10,000). Expired evidence is not returned. Rejects
   * INVALID_ARGUMENT.
   */
  async queryByValidator(validatorId: string, options: EvidenceQueryOptions = {}): Promise<StoredEvidence[]> {
    assertOpen(this.#ctx);
    const id = checkValidatorId('validatorId', validatorId);
    const { from, to, limit } = parseEvidenceQuery(options);
    return this.#collect(this.#byValidator.values([id, from], [id, to + 1]), limit);
  }

  /** Evidence of one type, as `queryByValidator` (same range, order and limits). Rejects INVALID_ARGUMENT. */
  async queryByType(type: EvidenceType, options: EvidenceQueryOptions = {}): Promise<StoredEvidence[]> {
    assertOpen(this.#ctx);
    const code = evidenceTypeCode(checkOneOf('type', type, EVIDENCE_TYPES));
    const { from, to, limit } = parseEvidenceQuery(options);
    return this.#collect(this.#byType.values([code, from], [code, to + 1]), limit);
  }

  /**
   * A validator's offenses: verified and unverified apart, and per type. Expired (pruned)
   * evidence still counts; an upgrade moves one from unverified to verified. Zeros for a
   * validator with no evidence. Rejects INVALID_ARGUMENT.
   */
  async getOffenseCount(validatorId: string): Promise<OffenseCount> {
    assertOpen(this.#ctx);
    const counts = this.#counts.get(checkValidatorId('validatorId', validatorId));
    let verified = 0;
    let unverified = 0;
    const byType = {} as Record<EvidenceType, { verified: number; unverified: number }>;
    EVIDENCE_TYPES.forEach((type, i) => {
      const c = counts?.[i + 1] ?? { verified: 0, unverified: 0 };
      byType[type] = { verified: c.verified, unverified: c.unverified };
      verified += c.verified;
      unverified += c.unverified;
    });
    return { verified, unverified, byType };
  }

  /**
   * Re-checks evidence (given, or stored under a content id) against the validator's key at
   * that height now: signatures and the conflict itself. Never writes.
   * @returns `{ ok: true }`, or `{ ok: false, failure, reason }`.
   * Rejects INVALID_ARGUMENT (malformed evidence or id), NOT_FOUND (no evidence with that id).
   */
  async verifyEvidence(evidenceOrId: ByzantineEvidence | string): Promise<EvidenceVerdict> {
    assertOpen(this.#ctx);
    if (typeof evidenceOrId === 'string') {
      const id = checkEvidenceId('evidenceOrId', evidenceOrId);
      const stored = this.#byId.get(id);
      if (stored === undefined) throw new ConsensusStoreError('NOT_FOUND', `no evidence ${id}`, { details: { evidenceId: id } });
      return verifyEvidenceContent(stored, this.#chainId, this.#publicKeyAt);
    }
    return verifyEvidenceContent(checkEvidence('evidenceOrId', evidenceOrId), this.#chainId, this.#publicKeyAt);
  }

  /**
   * Expires evidence as CometBFT does: evidence with `currentHeight - height > maxAgeBlocks`
   * and `now - detectedAt > maxAgeMs` (both) leaves every index; offense counts keep it, and
   * recording it again is refused (CONFLICT). Writes one record when anything expires, nothing
   * otherwise. Rejects INVALID_ARGUMENT and the log's write errors.
   */
  pruneExpired(rule: EvidencePruneRule): Promise<{ readonly pruned: number }> {
    let checked: EvidencePruneRule;
    try {
      assertOpen(this.#ctx);
      const r = checkObject('rule', rule);
      checked = {
        currentHeight: checkSafeUint('rule.currentHeight', r['currentHeight']),
        now: checkSafeUint('rule.now', r['now']),
        maxAgeBlocks: checkSafeUint('rule.maxAgeBlocks', r['maxAgeBlocks']),
        maxAgeMs: checkSafeUint('rule.maxAgeMs', r['maxAgeMs']),
      };
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#enqueue(async () => {
      assertOpen(this.#ctx);
      if (this.#expired(checked).length === 0) return { pruned: 0 };
      const input = encodeEvidencePruneRecord(checked, this.#clock());
      const [lsn] = await this.#ctx.log.append([input]);
      return { pruned: this.#prune(checked, lsn as number) };
    });
  }

  /**
   * This store's part of a vote's batch (D3): for a vote that equivocates, one Evidence record
   * per earlier conflicting vote (oldest first, at most MAX_EVIDENCE_PER_VOTE, skipping content
   * already stored verified), written in the vote's own batch; `onDurable` folds them in.
   * Synchronous, no I/O, never throws for a vote the VoteStore accepted.
   */
  voteBatchPart(event: VoteBatchEvent): BatchPart | undefined {
    if (event.outcome !== 'equivocation') return undefined;
    const records: RecordInput[] = [];
    const options = { chainId: this.#chainId, publicKeyAt: this.#publicKeyAt, detectedAt: event.recordedAt, submittedBy: this.#nodeId };
    for (const earlier of event.conflictsWith.slice(0, MAX_EVIDENCE_PER_VOTE)) {
      try {
        const built = buildEquivocation(earlier.vote, event.vote, options);
        if (this.#byId.get(built.id)?.status !== 'verified') records.push(built.input);
      } catch (err) {
        if (!isStoreError(err, 'INVALID_ARGUMENT')) throw err;
      }
    }
    if (records.length === 0) return undefined;
    return { records, onDurable: (durable) => durable.forEach((r) => this.apply(r)) };
  }

  /**
   * Folds one durable record (replay, this store's own appends, vote batches). Idempotent by
   * content id. Throws CORRUPTION when the payload does not decode or its content id does not
   * match its content under this store's chain id.
   */
  apply(record: LogRecord): void {
    if (record.kind === RecordKind.EvidencePrune) {
      this.#prune(decodeEvidencePruneRecord(record.payload, record.lsn).rule, record.lsn);
      return;
    }
    if (record.kind !== RecordKind.Evidence) throw new RangeError(`record kind ${record.kind} is not an evidence kind`);
    const decoded = decodeEvidenceRecord(record.payload, record.lsn);
    const e = canonicalEvidence(decoded.evidence, this.#chainId);
    const id = toHex(decoded.id);
    if (toHex(evidenceContentId(e, this.#chainId)) !== id) {
      throw new ConsensusStoreError('CORRUPTION', `evidence record at LSN ${record.lsn}: content id does not match its content under chain ${this.#chainId}`, {
        details: { lsn: record.lsn, evidenceId: id },
      });
    }
    this.#fold(record.lsn, id, e, decoded.status === 'verified' ? undefined : decoded.failure, decoded.recordedAt);
  }

  /**
   * Captures the evidence, the offense counts and the expired ids (`evidence-image.ts`).
   * Stored evidence is replaced on upgrade, never changed, so the map's values are copied; the
   * counts change in place, so they are copied too.
   */
  captureImage(): (w: ImageWriter) => void {
    const evidence = [...this.#byId.values()];
    const counts = [...this.#counts].map(([id, row]) => [id, row.map((c) => ({ ...c }))] as const);
    const pruned = [...this.#pruned];
    return (w) => writeEvidenceImage(w, { evidence, counts, pruned });
  }

  /** Loads the section into this fresh store and rebuilds the indexes. @throws Error or CORRUPTION on malformed bytes. */
  loadImage(r: ImageReader): void {
    const image = readEvidenceImage(r, this.#chainId);
    for (const e of image.evidence) {
      this.#byId.set(e.id, e);
      this.#byValidator.set([e.validatorId, e.height, e.lsn], e.id);
      this.#byType.set([evidenceTypeCode(e.type), e.height, e.lsn], e.id);
      this.#byHeight.set([e.height, e.lsn], e.id);
    }
    for (const [id, row] of image.counts) this.#counts.set(id, row.map((c) => ({ ...c })));
    for (const id of image.pruned) {
      if (this.#byId.has(id)) throw new Error(`evidence image: ${id} is both held and expired`);
      this.#pruned.add(id);
    }
  }

  #fold(lsn: Lsn, id: string, e: ByzantineEvidence, failure: EvidenceFailure | undefined, recordedAt: number): void {
    if (this.#pruned.has(id)) {
      // An upgrade written before the prune that expired it, folded after: counted as a replay would.
      const late = this.#prunedUnverified.get(id);
      if (late !== undefined && lsn < late.lsn && failure === undefined) {
        this.#prunedUnverified.delete(id);
        const c = this.#countsOf(late.evidence.validatorId, evidenceTypeCode(late.evidence.type));
        c.unverified--;
        c.verified++;
      }
      return;
    }
    const existing = this.#byId.get(id);
    const code = evidenceTypeCode(e.type);
    if (existing !== undefined) {
      // A verified record naming a quorum marks the stored evidence `verifiedByQuorum` (the first report's other fields stay).
      const byQuorum = existing.verifiedByQuorum || (failure === undefined && e.verifiedByQuorum);
      if (existing.status === 'verified' || failure !== undefined) {
        if (byQuorum !== existing.verifiedByQuorum) this.#byId.set(id, { ...existing, verifiedByQuorum: true });
        return;
      }
      const { failure: _dropped, ...rest } = existing;
      this.#byId.set(id, { ...rest, status: 'verified', verifiedByQuorum: byQuorum } as StoredEvidence);
      const c = this.#countsOf(e.validatorId, code);
      c.unverified--;
      c.verified++;
      return;
    }
    const info = { id, lsn, recordedAt, status: failure === undefined ? 'verified' : 'unverified' } as const;
    const stored = (failure === undefined ? { ...e, ...info } : { ...e, ...info, failure }) as StoredEvidence;
    this.#byId.set(id, stored);
    this.#byValidator.set([e.validatorId, e.height, lsn], id);
    this.#byType.set([code, e.height, lsn], id);
    this.#byHeight.set([e.height, lsn], id);
    const c = this.#countsOf(e.validatorId, code);
    if (failure === undefined) c.verified++;
    else c.unverified++;
    for (const p of this.#recentPrunes) {
      if (p.lsn > lsn && expires(p.rule, stored)) {
        this.#drop(stored, p.lsn);
        break;
      }
    }
  }

  #countsOf(validatorId: string, code: number): MutableCounts {
    let counts = this.#counts.get(validatorId);
    if (counts === undefined) {
      counts = Array.from({ length: EVIDENCE_TYPES.length + 1 }, () => ({ verified: 0, unverified: 0 }));
      this.#counts.set(validatorId, counts);
    }
    return counts[code] as MutableCounts;
  }

  /** The evidence `rule` expires, without changing anything. */
  #expired(rule: EvidencePruneRule): StoredEvidence[] {
    const out: StoredEvidence[] = [];
    if (rule.currentHeight <= rule.maxAgeBlocks) return out;
    for (const id of this.#byHeight.values(undefined, [rule.currentHeight - rule.maxAgeBlocks])) {
      const e = this.#byId.get(id) as StoredEvidence;
      if (expires(rule, e)) out.push(e);
    }
    return out;
  }

  /** Applies the prune written at `lsn`. */
  #prune(rule: EvidencePruneRule, lsn: number): number {
    const expired = this.#expired(rule);
    for (const e of expired) this.#drop(e, lsn);
    this.#recentPrunes.push({ lsn, rule });
    if (this.#recentPrunes.length > RECENT_PRUNES) this.#recentPrunes.shift();
    return expired.length;
  }

  /** Removes `e` from every index (its offense counts stay), expired by the prune at `pruneLsn`. */
  #drop(e: StoredEvidence, pruneLsn: number): void {
    this.#byId.delete(e.id);
    this.#byValidator.delete([e.validatorId, e.height, e.lsn]);
    this.#byType.delete([evidenceTypeCode(e.type), e.height, e.lsn]);
    this.#byHeight.delete([e.height, e.lsn]);
    this.#pruned.add(e.id);
    if (e.status === 'unverified') this.#prunedUnverified.set(e.id, { lsn: pruneLsn, evidence: e });
  }

  async #writeEvidence(e: ByzantineEvidence, id: Uint8Array, verdict: EvidenceVerdict): Promise<RecordEvidenceResult> {
    assertOpen(this.#ctx);
    const key = toHex(id);
    if (this.#pruned.has(key)) {
      throw new ConsensusStoreError('CONFLICT', `evidence ${key} was recorded and has expired since`, { details: { evidenceId: key } });
    }
    const existing = this.#byId.get(key);
    const quorumNews = existing !== undefined && verdict.ok && e.verifiedByQuorum && !existing.verifiedByQuorum;
    if (existing !== undefined && (existing.status === 'verified' || !verdict.ok) && !quorumNews) {
      return { evidence: copyEvidence(existing), outcome: 'duplicate' };
    }
    const input = encodeEvidenceRecord({
      id,
      evidence: e,
      status: verdict.ok ? 'verified' : 'unverified',
      failure: verdict.ok ? undefined : verdict.failure,
      recordedAt: this.#clock(),
    });
    const [lsn] = await this.#ctx.log.append([input]);
    if (lsn === undefined) throw new ConsensusStoreError('CORRUPTION', 'log append resolved without an LSN');
    this.apply({ lsn, kind: input.kind, payload: input.payload });
    const stored = this.#byId.get(key) as StoredEvidence;
    return { evidence: copyEvidence(stored), outcome: existing === undefined ? 'stored' : 'upgraded' };
  }

  #collect(ids: Iterable<string>, limit: number): StoredEvidence[] {
    const out: StoredEvidence[] = [];
    for (const id of ids) {
      if (out.length >= limit) break;
      out.push(copyEvidence(this.#byId.get(id) as StoredEvidence));
    }
    return out;
  }

  #clock(): number {
    return readClock(this.#ctx);
  }

  /** Runs `task` after every earlier write of this store has settled. */
  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    return this.#writes.run(task);
  }
}

/** Checks the range and limit of an evidence query. */
function parseEvidenceQuery(options: EvidenceQueryOptions): { from: number; to: number; limit: number } {
  const o = checkQuery('options', options, EVIDENCE_QUERY_KEYS);
  const { startHeight: from, endHeight: to } = parseHeightRange('options', o);
  const limit = parseLimit('options.limit', o['limit'], { defaultLimit: DEFAULT_EVIDENCE_QUERY_LIMIT, maxLimit: MAX_EVIDENCE_QUERY_LIMIT });
  return { from, to, limit };
}

/** The keys of an evidence query (any other is INVALID_ARGUMENT). */
const EVIDENCE_QUERY_KEYS: readonly string[] = ['startHeight', 'endHeight', 'limit'];
