/**
 * LogVoteStore: every validator's votes, durable, indexed, and answerable without touching the log;
 * plus finalization marks (`markFinalized`) that define which rounds are still open.
 *
 * Write path (docs/stores.md, Votes): validate, decide against the in-memory indexes (duplicate,
 * equivocation), append one batch, and fold the record into the indexes only once the append
 * resolved (durable, D4). Appends of one (validator, round, type) slot are serialized so that a
 * second vote always sees the first; an identical vote in flight shares the first one's write.
 *
 * Memory (a million votes are rebuilt on every open): a vote is a slot in typed-array columns,
 * not an object (`src/btree/vote-columns.ts`); the four indexes are sorted slot lists (B+trees
 * of slots once out-of-order inserts demand it, `src/btree/vote-slot-index.ts`) under
 * comparators that read the columns; replay decodes in place. Queries build their entries from the columns
 * (docs/stores.md, "In memory").
 *
 * It must never: write anything for bad input (every argument is checked first), answer a query
 * by scanning the log, return an unbounded result, or put a record in its indexes before the
 * log reported it durable.
 *
 * Bounded history (docs/stores.md, "Bounded history"): it is a `ColdParticipant`. Votes and
 * finalization marks cold under the cut live in the cold tier only; `evictCold` rebuilds the
 * columns and indexes from the hot slots; queries that may reach below the cut merge what the
 * tier holds (src/stores/vote-cold.ts) with what memory answers; a vote whose slot may hold a
 * cold vote is checked against it before its slot's decision. The last mark stays in memory.
 *
 * Why this file is over 450 lines: the four indexes, the per-slot serializer and the finality
 * marks share the columns and the slot map, which the write path reads synchronously between
 * checking a vote and handing its batch to the pipeline. The columns and slot sets themselves
 * live in `src/btree/`; the cold tier's reads and captures in `vote-cold.ts` and
 * `vote-cold-capture.ts`, but eviction replaces the columns and indexes, and each query merges
 * its hot part (read synchronously) with its cold part, so both stay here. Next seam to cut: the
 * finality marks (markFinalized, getLastFinalized, getEarliestOpenRound) with their own record kind.
 */
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import { RecordKind } from '../codec/kinds.ts';
import { checkValidatorId, checkVote, SIGNATURE_BYTES, VOTE_TYPES } from '../model/vote.ts';
import { voteTypeCode } from '../codec/vote-sign.ts';
import { checkVoteSignature, mintVerifiedVote, verifiedVoteFor, type VerifiedVote, type VoteVerification } from './verified-vote.ts';
import {
  decodeFinalizedRecord,
  decodeValidatorId,
  encodeFinalizedRecord,
  encodeVoteRecord,
  newVoteRecordFields,
  readVoteRecord,
  VOTE_HASH_OFFSET,
  VOTE_ID_OFFSET,
  VOTE_SIGNATURE_OFFSET,
} from '../codec/vote-record.ts';
import type { VoteRecordFields } from '../codec/vote-record.ts';
import type { LogRecord, Lsn } from '../log/types.ts';
import { checkInteger, checkObject, checkOneOf, checkSafeUint, checkU32, MAX_U32 } from '../model/check.ts';
import type { ImageSection, RecordApplier, StoreContext } from './context.ts';
import type { ImageReader, ImageWriter } from '../codec/image-section.ts';
import { MAX_VALIDATOR_ID_LENGTH } from '../model/vote.ts';
import {
  BlockHashes,
  FIRST_SLOT,
  heightOrder,
  lsnOrder,
  NO_VALIDATOR,
  PROBE_HI,
  PROBE_LO,
  roundInValidatorOrder,
  roundOrder,
  TYPE_ABOVE,
  TYPE_BELOW,
  ValidatorIds,
  VoteColumns,
} from '../btree/vote-columns.ts';
import type { SlotOrder } from '../btree/vote-columns.ts';
import { SlotIndex } from '../btree/vote-slot-index.ts';
import { compactVotes } from '../btree/vote-columns.ts';
import type { ColdCut, ColdKeys, ColdParticipant, ColdRecord, ColdTier } from '../cold/types.ts';
import { isColdByHeight, NO_CUT } from '../cold/types.ts';
import {
  checkCut,
  checkCutOrder,
  checkTier,
  coldRoundBounds,
  findColdMark,
  findColdVote,
  heightWalk,
  lastColdMark,
  mergeEntries,
  NEWEST_FIRST,
  readColdVotes,
  roundWalk,
  VOTE_COLD_KINDS,
  voteColdKeys,
  walkColdVotes,
} from './vote-cold.ts';
import type { ColdView, RoundBounds } from './vote-cold.ts';
import { captureVoteColdRecords } from './vote-cold-capture.ts';
import type {
  AppendVoteResult,
  FinalizedMark,
  RoundVotesOptions,
  ValidatorVotesOptions,
  VoteBatchEvent,
  VoteLogEntry,
  VoteQuery,
  VoteStore,
  VoteStoreLimits,
} from './vote-types.ts';
import type { ValidatorVote, VoteType } from '../model/vote.ts';
import { CommitPipeline, type BatchPart } from './commit-pipeline.ts';
import { equalBytes } from '../codec/bytes.ts';
import { assertOpen, checkQuery, parseHeightRange, parseLimit, parseRoundRange, readClock, type QueryLimits } from './context.ts';
import { SerialQueue } from './context.ts';
import { inRecentOrder, parseRecentVotesOrder } from './recent-votes.ts';
import type { RecentVotesOptions } from './vote-types.ts';

/** Default limits (docs/stores.md, Queries). */
export const DEFAULT_VOTE_STORE_LIMITS: VoteStoreLimits = {
  defaultQueryLimit: 1_000,
  maxQueryLimit: 10_000,
  maxRoundVotes: 100_000,
};

/** Largest configurable limit: a result of this many entries is the most a caller can ask for. */
const LIMIT_CEILING = 1_000_000;

export type { VoteVerification } from './verified-vote.ts';

/** Options of `new LogVoteStore`. */
export interface VoteStoreOptions {
  readonly limits?: Partial<VoteStoreLimits>;
  /**
   * How `appendVote` checks signatures (docs/stores.md, "Vote verification"): against
   * `publicKeyOf` (openStore: the validator registry), or `'off'` (stored unverified: importing
   * history). No default: every constructor says which.
   */
  readonly verification: VoteVerification | 'off';
  /** The pipeline a vote's batch goes through (openStore's, with the audit stage). Default: straight to the log. */
  readonly pipeline?: CommitPipeline;
}

/**
 * Another store's part of a new vote's batch (D3): for an equivocating vote, the evidence store
 * adds its records and the audit log its events. Synchronous, no I/O; undefined for nothing.
 */
export type VoteBatchContributor = (event: VoteBatchEvent) => BatchPart | undefined;

/** Same height and block hash (the identity of a vote within its slot, docs/stores.md). */
/** A copy of `vote` whose byte arrays are its own. */
function copyVote(vote: ValidatorVote): ValidatorVote {
  return { ...vote, blockHash: vote.blockHash === null ? null : vote.blockHash.slice(), signature: vote.signature.slice() };
}

function sameBlock(a: ValidatorVote, b: ValidatorVote): boolean {
  if (a.height !== b.height) return false;
  return equalBytes(a.blockHash, b.blockHash);
}

/** An append of one slot (validator, round, type) that has not settled yet. */
interface PendingAppend {
  readonly vote: ValidatorVote;
  readonly promise: Promise<AppendVoteResult>;
}

/** The appends of one slot, in call order, and the promise the next one waits for. */
interface Slot {
  readonly pending: PendingAppend[];
  tail: Promise<unknown>;
}

/** The keys of each query object (any other is INVALID_ARGUMENT). */
const ROUND_VOTES_KEYS: readonly string[] = ['limit'];
const VALIDATOR_VOTES_KEYS: readonly string[] = ['startRound', 'endRound', 'limit'];
const VOTE_QUERY_KEYS: readonly string[] = ['round', 'validatorId', 'voteType', 'startHeight', 'endHeight', 'limit'];

/**
 * Checks vote-store limits (`value` may be undefined: the defaults) and fills in the defaults.
 * @throws ConsensusStoreError INVALID_ARGUMENT naming `${name}.<limit>`.
 */
export function resolveVoteStoreLimits(name: string, value: unknown): VoteStoreLimits {
  const limits = value === undefined ? {} : checkObject(name, value);
  const lim = (key: keyof VoteStoreLimits): number =>
    limits[key] === undefined ? DEFAULT_VOTE_STORE_LIMITS[key] : checkInteger(`${name}.${key}`, limits[key], 1, LIMIT_CEILING);
  const resolved = { defaultQueryLimit: lim('defaultQueryLimit'), maxQueryLimit: lim('maxQueryLimit'), maxRoundVotes: lim('maxRoundVotes') };
  if (resolved.defaultQueryLimit > resolved.maxQueryLimit) throw invalidArgument(`${name}.defaultQueryLimit`, 'must not exceed maxQueryLimit');
  return resolved;
}

/** Version of the vote store's image section (2: version 1 plus the last mark, which may be cold). */
const IMAGE_VERSION = 2;
/** Bytes a block hash takes in an image (a bound for the loader). */
const BLOCK_HASH_BYTES_IN_IMAGE = 32;
/** Bytes a vote slot takes in an image's columns (a bound for the loader). */
const SLOT_BYTES_IN_IMAGE = 8 * 4 + 4 + 1 + 4 + 4 + SIGNATURE_BYTES;

/**
 * The vote store over the shared log. Implements `VoteStore` (the conformance suite's
 * interface) and `RecordApplier` (kinds Vote and Finalized). Votes live in columns (see
 * `VoteColumns`); each query builds fresh entries from them.
 */
export class LogVoteStore implements VoteStore, RecordApplier, ImageSection, ColdParticipant {
  /** Section tag of the vote store in a local image. */
  readonly imageTag = 2;
  /** Record kinds this store owns. */
  readonly kinds: readonly number[] = [RecordKind.Vote, RecordKind.Finalized];
  /** The limits in force. */
  readonly limits: VoteStoreLimits;
  /** Record kinds moved to the cold tier (both cut by height). */
  readonly coldKinds: readonly number[] = VOTE_COLD_KINDS;

  private readonly ctx: StoreContext;
  private readonly verification: VoteVerification | 'off';
  /** Replaced (with the ids, hashes and indexes) when `evictCold` drops cold slots. */
  private cols: VoteColumns;
  private ids = new ValidatorIds();
  private hashes = new BlockHashes();
  /** Slots by (round, type, validator id, LSN). */
  private byRound: SlotIndex;
  /**
   * Per validator index, its slots by (round, type, LSN): one tree each, so that a validator's
   * votes, arriving in round order, are appends.
   */
  private readonly byValidator: (SlotIndex | undefined)[] = [];
  private compareInValidator: SlotOrder;
  /** Slots by (height, LSN). */
  private byHeight: SlotIndex;
  /** Slots by LSN. */
  private byLsn: SlotIndex;
  /** Where the hot tier ends: every vote and mark at or below it is in `tier` only. */
  private cut: ColdCut = NO_CUT;
  private tier: ColdTier | undefined;
  /** Votes in the cold tier (its count when the cut was last set). */
  private coldVotes = 0;
  /** Bounds of the cold votes' rounds: null when there is none, undefined when not known yet (read from the footers). */
  private coldRounds: RoundBounds | null | undefined = null;
  /** Bumped by every `evictCold`: an async cold lookup that spans one looks again. */
  private coldGeneration = 0;
  /** Reused by `apply` (replay decodes in place). */
  private readonly fields: VoteRecordFields = newVoteRecordFields();
  private readonly finalizedByHeight = new Map<number, FinalizedMark>();
  private lastFinalized: FinalizedMark | undefined;
  private readonly finalizeWrites = new SerialQueue();
  private readonly slots = new Map<string, Slot>();
  private contributors: readonly VoteBatchContributor[] = [];
  private finalizedListener: ((height: number) => void) | undefined;
  private readonly pipeline: CommitPipeline;

  /** @throws ConsensusStoreError INVALID_ARGUMENT on bad options. */
  constructor(ctx: StoreContext, options: VoteStoreOptions) {
    this.ctx = ctx;
    const o = checkObject('options', options);
    this.limits = resolveVoteStoreLimits('options.limits', o.limits);
    if (options.verification !== 'off' && (typeof options.verification !== 'object' || options.verification === null)) {
      throw invalidArgument('options.verification', "must be { chainId, publicKeyOf } or 'off'");
    }
    this.verification = options.verification;
    this.pipeline = options.pipeline ?? new CommitPipeline(ctx.log);
    const expected = ctx.log.openReport?.recordsScanned;
    const c = (this.cols = new VoteColumns(typeof expected === 'number' && Number.isSafeInteger(expected) ? expected + FIRST_SLOT : 0));
    this.byRound = new SlotIndex(roundOrder(c, this.ids.names));
    this.compareInValidator = roundInValidatorOrder(c);
    this.byHeight = new SlotIndex(heightOrder(c));
    this.byLsn = new SlotIndex(lsnOrder(c));
  }

  /**
   * The other stores' parts of each new vote's batch (D3); `openStore` wires the evidence
   * store's and the audit log's, so that an equivocating vote, its evidence and its audit
   * entries are one batch. Setting again replaces them.
   * @internal wired by openStore, not part of the public API.
   */
  setBatchContributors(contributors: readonly VoteBatchContributor[]): void {
    this.contributors = [...contributors];
  }

  /**
   * Called with the height of every new finalization mark once it is durable (not on replay);
   * `openStore` wires the snapshot store's automatic snapshots. It must not throw.
   * @internal wired by openStore, not part of the public API.
   */
  setFinalizedListener(listener: ((height: number) => void) | undefined): void {
    this.finalizedListener = listener;
  }

  /** Number of stored votes (all of them, equivocating ones included, cold ones too). */
  get size(): number {
    return this.cols.count - FIRST_SLOT + this.coldVotes;
  }

  /**
   * Votes held in memory (the hot ones).
   * @internal for tests and metrics.
   */
  get residentVotes(): number {
    return this.cols.count - FIRST_SLOT;
  }

  /**
   * Stores a vote durably (D1) and indexes it.
   * - identical vote (same validator, round, type, height and block hash) already stored or in
   *   flight: writes nothing, resolves with the stored entry, `outcome: 'duplicate'` (a copy
   *   that differs only in timestamp or signature counts as identical: first stored copy wins);
   * - a vote for the same (validator, round, type) with another block hash or height:
   *   equivocation, persisted too (`outcome: 'equivocation'`, `conflictsWith` the earlier ones);
   * - otherwise `outcome: 'stored'`.
   * Appends of one slot are serialized: a second one always sees the first.
   *
   * The signature is verified first (docs/stores.md, "Vote verification"), unless `vote` is a
   * `VerifiedVote` this library minted for this chain id (`verify`), or verification is `'off'`.
   * @throws INVALID_ARGUMENT (bad field; a refused signature, with `details.reason`
   *   'unknown-validator', 'key-not-valid-at-height' or 'bad-signature'), CLOSED, and the log's
   *   write errors. Nothing is written when it throws before the write.
   */
  appendVote(vote: ValidatorVote | VerifiedVote): Promise<AppendVoteResult> {
    try {
      this.checkOpen();
      return this.enqueue(this.checked('vote', vote));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Appends several votes: every one is checked and verified before any is written, so one bad
   * vote (named `votes[i]`) rejects the call and writes nothing. Then each is appended as by
   * `appendVote` (their writes share group commits); resolves with the results in order.
   * @throws INVALID_ARGUMENT (not an array, more than `limits.maxRoundVotes` votes, or a bad or
   *   refused vote), CLOSED, and the log's write errors.
   */
  appendVotes(votes: readonly (ValidatorVote | VerifiedVote)[]): Promise<AppendVoteResult[]> {
    try {
      this.checkOpen();
      if (!Array.isArray(votes)) throw invalidArgument('votes', 'must be an array');
      if (votes.length > this.limits.maxRoundVotes) throw invalidArgument('votes', `must hold at most ${this.limits.maxRoundVotes} votes`);
      const checked = votes.map((v, i) => this.checked(`votes[${i}]`, v));
      return Promise.all(checked.map((v) => this.enqueue(v)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Checks `vote` and verifies its signature against this store's keys (docs/stores.md, "Vote
   * verification"), and returns it as a frozen `VerifiedVote` that `appendVote` takes without a
   * second check. A `VerifiedVote` of this chain is returned as it is.
   * @throws INVALID_ARGUMENT (bad field; a refused signature, with `details.reason`; and when
   *   verification is `'off'`, since there is nothing to verify against), CLOSED.
   */
  async verify(vote: ValidatorVote): Promise<VerifiedVote> {
    this.checkOpen();
    const chainId = this.verification === 'off' ? undefined : this.verification.chainId;
    if (chainId !== undefined && verifiedVoteFor(vote, chainId) !== undefined) return vote as VerifiedVote;
    const v = checkVote('vote', vote);
    if (this.verification === 'off') throw invalidArgument('vote', "cannot be verified: this store's vote verification is 'off'");
    return mintVerifiedVote(v, this.verification.chainId, checkVoteSignature('vote', v, this.verification));
  }

  /**
   * The votes of one round, in (voteType, validatorId, LSN) order, at most `limit`
   * (default and max `limits.maxRoundVotes`).
   * @throws INVALID_ARGUMENT, CLOSED.
   */
  async getVotesForRound(round: number, options: RoundVotesOptions = {}): Promise<VoteLogEntry[]> {
    this.checkOpen();
    const r = checkU32('round', round);
    const o = checkQuery('options', options, ROUND_VOTES_KEYS);
    const limit = parseLimit('options.limit', o['limit'], { defaultLimit: this.limits.maxRoundVotes, maxLimit: this.limits.maxRoundVotes });
    const hot = this.entries(this.roundRange(this.byRound, NO_VALIDATOR, r, TYPE_BELOW, r, TYPE_ABOVE, limit, undefined));
    const view = this.coldView();
    if (view === undefined || !(await this.roundsMayBeCold(view, r, r))) return hot;
    const cold = await readColdVotes(view, { kinds: [RecordKind.Vote], round: [r, r] }, (e) => e.vote.round === r);
    return mergeEntries(hot, cold, roundWalk(r).compare, limit);
  }

  /**
   * One validator's votes with `startRound <= round <= endRound`, in (round, voteType, LSN)
   * order, at most `limit` (default `defaultQueryLimit`).
   * @throws INVALID_ARGUMENT (also when startRound > endRound, or an unknown key), CLOSED.
   */
  async getValidatorVotes(validatorId: string, options: ValidatorVotesOptions = {}): Promise<VoteLogEntry[]> {
    this.checkOpen();
    const id = checkValidatorId('validatorId', validatorId);
    const o = checkQuery('options', options, VALIDATOR_VOTES_KEYS);
    const { startRound: from, endRound: to } = parseRoundRange('options', o);
    const limit = parseLimit('options.limit', o['limit'], this.queryLimits());
    const v = this.ids.lookup(id);
    const hot = v < 0 ? [] : this.entries(this.roundRange(this.byValidator[v], v, from, TYPE_BELOW, to, TYPE_ABOVE, limit, undefined));
    const view = this.coldView();
    if (view === undefined || !(await this.roundsMayBeCold(view, from, to))) return hot;
    const accept = (e: VoteLogEntry): boolean => e.vote.validatorId === id && e.vote.round >= from && e.vote.round <= to;
    return walkColdVotes(view, { kinds: [RecordKind.Vote], validator: id, round: [from, to] }, roundWalk(from), accept, limit, hot);
  }

  /**
   * The most recently recorded votes, at most `limit` (default `defaultQueryLimit`): newest
   * (highest LSN) first, or oldest first with `{ order: 'chronological' }` (recent-votes.ts).
   * @throws INVALID_ARGUMENT, CLOSED.
   */
  async getRecentVotes(limit?: number, options?: RecentVotesOptions): Promise<VoteLogEntry[]> {
    this.checkOpen();
    const n = parseLimit('limit', limit, this.queryLimits());
    const order = parseRecentVotesOrder(options);
    const hot = this.entries(this.byLsn.collectLast(n));
    const view = this.coldView();
    // A hot vote may lie at or below the cut's LSN (its height is above the cut's): cold votes
    // are read only when the hot part cannot fill the limit with votes above the cut's LSN.
    const floor = hot.length < n ? 0 : hot[n - 1]!.id;
    if (view === undefined || floor > view.cut.lsn) return inRecentOrder(hot, order);
    const merged = await walkColdVotes(view, { kinds: [RecordKind.Vote], lsn: [floor, view.cut.lsn] }, NEWEST_FIRST, () => true, n, hot);
    return inRecentOrder(merged, order);
  }

  /**
   * Votes matching every given field of `query`, at most `limit` (default `defaultQueryLimit`).
   * Order: (round, voteType, validatorId, LSN) when `round` or `validatorId` is given;
   * (height, LSN) otherwise. Answered from the round, validator or height index.
   * @throws INVALID_ARGUMENT (also when startHeight > endHeight, or an unknown key), CLOSED.
   */
  async queryVotes(query: VoteQuery): Promise<VoteLogEntry[]> {
    this.checkOpen();
    const q = checkQuery('query', checkObject('query', query), VOTE_QUERY_KEYS);
    const round = q['round'] === undefined ? undefined : checkU32('query.round', q['round']);
    const validatorId = q['validatorId'] === undefined ? undefined : checkValidatorId('query.validatorId', q['validatorId']);
    const type = q['voteType'] === undefined ? undefined : checkOneOf('query.voteType', q['voteType'], VOTE_TYPES);
    const { startHeight: start, endHeight: end } = parseHeightRange('query', q);
    const limit = parseLimit('query.limit', q['limit'], this.queryLimits());
    const code = type === undefined ? 0 : voteTypeCode(type);
    const c = this.cols;
    const match = (slot: number): boolean => {
      const h = c.height[slot]!;
      return h >= start && h <= end && (code === 0 || c.type[slot] === code);
    };
    const byHeight = validatorId === undefined && round === undefined;
    const hot = this.queryHot(byHeight, round, validatorId, code, start, end, limit, match);
    const view = this.coldView();
    if (view === undefined || start >= view.cut.height) return hot;
    if (round !== undefined && !(await this.roundsMayBeCold(view, round, round))) return hot;
    const filter = {
      kinds: [RecordKind.Vote],
      height: [start, Math.min(end, view.cut.height - 1)] as const,
      ...(round === undefined ? {} : { round: [round, round] as const }),
      ...(validatorId === undefined ? {} : { validator: validatorId }),
    };
    const accept = (e: VoteLogEntry): boolean =>
      e.vote.height >= start &&
      e.vote.height <= end &&
      (code === 0 || voteTypeCode(e.vote.voteType) === code) &&
      (round === undefined || e.vote.round === round) &&
      (validatorId === undefined || e.vote.validatorId === validatorId);
    return walkColdVotes(view, filter, byHeight ? heightWalk(start) : roundWalk(round ?? 0), accept, limit, hot);
  }

  /** The hot part of `queryVotes`, from the height, round or validator index. */
  private queryHot(
    byHeight: boolean,
    round: number | undefined,
    validatorId: string | undefined,
    code: number,
    start: number,
    end: number,
    limit: number,
    match: (slot: number) => boolean,
  ): VoteLogEntry[] {
    if (byHeight) {
      const lo = this.cols.probe(PROBE_LO, 0, TYPE_BELOW, NO_VALIDATOR, start, -1);
      const hi = this.cols.probe(PROBE_HI, 0, TYPE_BELOW, NO_VALIDATOR, end, Infinity);
      return this.entries(this.byHeight.collect(lo, hi, limit, code === 0 ? undefined : match));
    }
    const v = validatorId === undefined ? NO_VALIDATOR : this.ids.lookup(validatorId);
    if (v < 0) return [];
    const index = validatorId === undefined ? this.byRound : this.byValidator[v];
    const loType = code === 0 ? TYPE_BELOW : code;
    const hiType = code === 0 ? TYPE_ABOVE : code + 1;
    const slots =
      round === undefined
        ? this.roundRange(index, v, 0, TYPE_BELOW, MAX_U32, TYPE_ABOVE, limit, match)
        : this.roundRange(index, v, round, loType, round, hiType, limit, match);
    return this.entries(slots);
  }

  /**
   * How many votes are stored for `round` (of `voteType`, when given). Every stored vote counts,
   * equivocating ones included: count distinct validators by stake for a quorum.
   * @throws INVALID_ARGUMENT, CLOSED.
   */
  async countVotesForRound(round: number, voteType?: VoteType): Promise<number> {
    this.checkOpen();
    const r = checkU32('round', round);
    const code = voteType === undefined ? 0 : voteTypeCode(checkOneOf('voteType', voteType, VOTE_TYPES));
    const lo = this.cols.probe(PROBE_LO, r, code === 0 ? TYPE_BELOW : code, NO_VALIDATOR, 0, -1);
    const hi = this.cols.probe(PROBE_HI, r, code === 0 ? TYPE_ABOVE : code + 1, NO_VALIDATOR, 0, -1);
    const hot = this.byRound.count(lo, hi);
    const view = this.coldView();
    if (view === undefined || !(await this.roundsMayBeCold(view, r, r))) return hot;
    const accept = (e: VoteLogEntry): boolean => e.vote.round === r && (code === 0 || voteTypeCode(e.vote.voteType) === code);
    return hot + (await readColdVotes(view, { kinds: [RecordKind.Vote], round: [r, r] }, accept)).length;
  }

  /**
   * True when a vote of `validatorId` for (`round`, `voteType`) is stored (durable).
   * @throws INVALID_ARGUMENT, CLOSED.
   */
  async voteExists(validatorId: string, round: number, voteType: VoteType): Promise<boolean> {
    this.checkOpen();
    const id = checkValidatorId('validatorId', validatorId);
    const r = checkU32('round', round);
    const code = voteTypeCode(checkOneOf('voteType', voteType, VOTE_TYPES));
    const v = this.ids.lookup(id);
    if (v >= 0 && this.roundRange(this.byValidator[v], v, r, code, r, code + 1, 1, undefined).length > 0) return true;
    const view = this.coldView();
    if (view === undefined || !(await this.roundsMayBeCold(view, r, r))) return false;
    return (await this.coldSlotVotes(view, id, r, code, true)).length > 0;
  }

  /**
   * The lowest round that has a stored vote and is not finalized, or null when there is none.
   * With F = the last finalization mark (height Fh, round Fr), a vote is finalized when its
   * round is below Fr, or equal to Fr at a height <= Fh; without a mark no vote is finalized.
   * @throws CLOSED.
   */
  async getEarliestOpenRound(): Promise<number | undefined> {
    this.checkOpen();
    const f = await this.lastMark();
    const hot = this.earliestOpenHot(f);
    const view = this.coldView();
    const top = hot ?? MAX_U32;
    const fromRound = f === undefined ? 0 : f.round;
    if (view === undefined || fromRound > top) return hot;
    // Cold votes of round f.round are all finalized when every cold height is <= f.height.
    const lo = f !== undefined && view.cut.height - 1 <= f.height ? fromRound + 1 : fromRound;
    if (lo > top || !(await this.roundsMayBeCold(view, lo, top))) return hot;
    const open = (e: VoteLogEntry): boolean => f === undefined || e.vote.round > f.round || (e.vote.round === f.round && e.vote.height > f.height);
    const [first] = await walkColdVotes(view, { kinds: [RecordKind.Vote], round: [lo, top] }, roundWalk(lo), open, 1, []);
    return first === undefined || (hot !== undefined && hot <= first.vote.round) ? hot : first.vote.round;
  }

  /** `getEarliestOpenRound` over the hot votes, under the last mark `f`. */
  private earliestOpenHot(f: FinalizedMark | undefined): number | undefined {
    const c = this.cols;
    if (f === undefined) {
      const first = this.byRound.first();
      return first === undefined ? undefined : c.round[first]!;
    }
    const inRound = this.roundRange(this.byRound, NO_VALIDATOR, f.round, TYPE_BELOW, f.round, TYPE_ABOVE, Infinity, undefined);
    for (const slot of inRound) if (c.height[slot]! > f.height) return f.round;
    const next = this.byRound.first(this.cols.probe(PROBE_LO, f.round, TYPE_ABOVE, NO_VALIDATOR, 0, -1));
    return next === undefined ? undefined : c.round[next]!;
  }

  /**
   * Records durably that `height` was finalized in `round` (record kind Finalized). Marks move
   * forward: a repeat of a recorded (height, round) writes nothing and returns the stored mark;
   * another round for a recorded height, a height below the last mark, or a round below the
   * last mark's round is CONFLICT.
   * @throws INVALID_ARGUMENT, CONFLICT, CLOSED, and the log's write errors.
   */
  markFinalized(height: number, round: number): Promise<FinalizedMark> {
    try {
      this.checkOpen();
      const h = checkSafeUint('height', height);
      const r = checkU32('round', round);
      return this.finalizeWrites.run(() => this.writeFinalized(h, r));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The last finalization mark, or undefined. @throws CLOSED. */
  async getLastFinalized(): Promise<FinalizedMark | undefined> {
    this.checkOpen();
    return this.lastMark();
  }

  /**
   * The finalization marks with `from <= height <= to` and an LSN <= `maxLsn`, ascending;
   * synchronous, for a snapshot's frozen view (marks are never removed). Hot marks only: a mark
   * cold under the cut is in the cold tier (docs/stores.md, "Bounded history").
   * @internal used by the snapshot store.
   */
  finalizedMarks(from: number, to: number, maxLsn = Number.MAX_SAFE_INTEGER): FinalizedMark[] {
    const out: FinalizedMark[] = [];
    if (to - from < this.finalizedByHeight.size) {
      for (let h = from; h <= to; h++) {
        const m = this.finalizedByHeight.get(h);
        if (m !== undefined && m.id <= maxLsn) out.push(m);
      }
      return out;
    }
    for (const m of this.finalizedByHeight.values()) if (m.height >= from && m.height <= to && m.id <= maxLsn) out.push(m);
    return out.sort((a, b) => a.height - b.height);
  }

  /**
   * The stored precommits of (`height`, `round`) of an LSN <= `maxLsn`, equivocating ones
   * included, in validator id order; synchronous, for a snapshot's frozen view (votes are never
   * removed). Hot votes only: a height below the cut is in the cold tier.
   * @internal used by the snapshot store.
   */
  precommitsAt(height: number, round: number, maxLsn = Number.MAX_SAFE_INTEGER): { validatorId: string; blockHash: Uint8Array | null; timestamp: number; signature: Uint8Array }[] {
    const code = voteTypeCode('precommit');
    const c = this.cols;
    const slots = this.roundRange(this.byRound, NO_VALIDATOR, round, code, round, code + 1, Infinity, (slot) => c.height[slot] === height && c.lsn[slot]! <= maxLsn);
    return slots.map((slot) => {
      const h = c.hash[slot]!;
      const at = slot * SIGNATURE_BYTES;
      return {
        validatorId: this.ids.names[c.validator[slot]!]!,
        blockHash: h < 0 ? null : this.hashes.copy(h),
        timestamp: c.timestamp[slot]!,
        signature: c.signature.slice(at, at + SIGNATURE_BYTES),
      };
    });
  }

  /**
   * Folds one durable Vote or Finalized record into the indexes (replay). Throws CORRUPTION on a
   * bad payload (and then changes nothing). Decodes in place: no object per vote.
   */
  apply(record: LogRecord): void {
    if (record.kind === RecordKind.Vote) {
      const f = this.fields;
      readVoteRecord(record, f);
      // The cold tier holds it (and counts it): never indexed again.
      if (isColdByHeight(this.cut, record.lsn, f.height)) return;
      const p = record.payload;
      const known = this.ids.findBytes(p, VOTE_ID_OFFSET, f.idLength);
      // A new byte string is decoded and checked once (CORRUPTION before anything changes).
      const v = known >= 0 ? known : this.ids.intern(decodeValidatorId(record));
      const slot = this.cols.add();
      const c = this.cols;
      c.lsn[slot] = record.lsn;
      c.height[slot] = f.height;
      c.timestamp[slot] = f.timestamp;
      c.recordedAt[slot] = f.recordedAt;
      c.round[slot] = f.round;
      c.type[slot] = f.typeCode;
      c.validator[slot] = v;
      c.hash[slot] = f.nil ? -1 : this.hashes.intern(p, VOTE_HASH_OFFSET);
      // A plain view: `subarray` of a Buffer payload would build a FastBuffer, which costs more.
      c.signature.set(new Uint8Array(p.buffer, p.byteOffset + VOTE_SIGNATURE_OFFSET, SIGNATURE_BYTES), slot * SIGNATURE_BYTES);
      this.link(slot);
    } else if (record.kind === RecordKind.Finalized) {
      const f = decodeFinalizedRecord(record);
      const mark = { id: record.lsn, height: f.height, round: f.round, recordedAt: f.recordedAt };
      if (isColdByHeight(this.cut, record.lsn, f.height)) this.foldLast(mark);
      else this.indexFinalized(mark);
    }
  }

  /**
   * Captures the columns, the interned ids and hashes, every index and the finalization marks
   * for a local image (docs/format.md, section 2). The columns and pools are only appended to,
   * so they are captured by reference; the indexes are copied (4 bytes a vote each).
   */
  captureImage(): (w: ImageWriter) => void {
    const names = this.ids.names;
    const idCount = names.length;
    const cols = this.cols.capture();
    const hashes = this.hashes.capture();
    const byRound = this.byRound.ordered();
    const byHeight = this.byHeight.ordered();
    const byLsn = this.byLsn.ordered();
    const byValidator: Int32Array[] = [];
    for (let v = 1; v < idCount; v++) byValidator.push(this.byValidator[v]?.ordered() ?? new Int32Array(0));
    const marks = [...this.finalizedByHeight.values()].sort((a, b) => a.height - b.height);
    const last = this.lastFinalized;
    return (w) => {
      w.u32(IMAGE_VERSION);
      w.u32(idCount - 1);
      for (let v = 1; v < idCount; v++) w.text(names[v]!);
      hashes(w);
      cols(w);
      w.array(byRound).array(byHeight).array(byLsn);
      for (const list of byValidator) w.array(list);
      w.u32(marks.length);
      for (const m of marks) w.i64(m.id).i64(m.height).u32(m.round).i64(m.recordedAt);
      // The last mark, which may be cold (not among the marks above): version 2.
      w.flag(last !== undefined);
      if (last !== undefined) w.i64(last.id).i64(last.height).u32(last.round).i64(last.recordedAt);
    };
  }

  /** Loads a section written by `captureImage` into this fresh store. @throws Error on malformed bytes. */
  loadImage(r: ImageReader): void {
    if (this.cols.count !== FIRST_SLOT || this.finalizedByHeight.size > 0) throw new Error('the vote store is not empty');
    const version = r.u32();
    if (version !== IMAGE_VERSION && version !== 1) throw new Error(`vote section version ${version} is not ${IMAGE_VERSION}`);
    const idCount = r.u32() + 1;
    if (idCount > r.remaining / 4) throw new Error(`vote section claims ${idCount} validator ids`);
    for (let v = 1; v < idCount; v++) {
      const name = r.text(MAX_VALIDATOR_ID_LENGTH * 4);
      if (name.length === 0 || this.ids.intern(name) !== v) throw new Error(`validator id ${v} is empty or repeated`);
    }
    this.hashes.load(r, Math.floor(r.remaining / BLOCK_HASH_BYTES_IN_IMAGE));
    const c = this.cols;
    // Room for every record the log holds after the image: the tail's replay never copies a column.
    c.load(r, Math.floor(r.remaining / SLOT_BYTES_IN_IMAGE) + FIRST_SLOT, (lastLsn) => Math.max(1024, this.ctx.log.nextLsn - 1 - lastLsn));
    const slots = c.count;
    const hashCount = this.hashes.size;
    for (let s = FIRST_SLOT; s < slots; s++) {
      const t = c.type[s]!;
      const v = c.validator[s]!;
      const h = c.hash[s]!;
      if (t < 1 || t > 3 || v < 1 || v >= idCount || h < -1 || h >= hashCount) throw new Error(`vote slot ${s} holds an impossible value`);
    }
    const votes = slots - FIRST_SLOT;
    const list = (index: SlotIndex, expected: number | undefined): number => {
      const { array, count } = r.array(Int32Array, votes);
      if (expected !== undefined && count !== expected) throw new Error(`a vote index holds ${count} slots, not ${expected}`);
      for (let i = 0; i < count; i++) if (array[i]! < FIRST_SLOT || array[i]! >= slots) throw new Error('a vote index holds a slot out of range');
      index.loadOrdered(array, count);
      return count;
    };
    list(this.byRound, votes);
    list(this.byHeight, votes);
    list(this.byLsn, votes);
    let inValidators = 0;
    for (let v = 1; v < idCount; v++) {
      const index = new SlotIndex(this.compareInValidator);
      const n = list(index, undefined);
      if (n > 0) this.byValidator[v] = index;
      inValidators += n;
    }
    if (inValidators !== votes) throw new Error(`the validator indexes hold ${inValidators} slots, not ${votes}`);
    const marks = r.u32();
    if (marks > r.remaining / 28) throw new Error(`vote section claims ${marks} finalization marks`);
    for (let i = 0; i < marks; i++) {
      const id = r.i64();
      const height = r.i64();
      const round = r.u32();
      const recordedAt = r.i64();
      if (id < 1 || height < 0 || recordedAt < 0 || this.finalizedByHeight.has(height)) throw new Error('a finalization mark is malformed');
      this.indexFinalized(Object.freeze({ id: id as Lsn, height, round, recordedAt }));
    }
    if (version !== 1 && r.flag()) {
      const id = r.i64();
      const height = r.i64();
      const round = r.u32();
      const recordedAt = r.i64();
      if (id < 1 || height < 0 || recordedAt < 0) throw new Error('the last finalization mark is malformed');
      this.foldLast(Object.freeze({ id: id as Lsn, height, round, recordedAt }));
    }
    r.end();
    // What became cold since the image was taken is the cold tier's now.
    this.dropCold(this.cut);
  }

  /**
   * The vote store's records cold under `next` and not under `previous` (docs/stores.md,
   * "Bounded history"), fixed now; the function yields them later, in LSN order, as they are
   * encoded in the log. Synchronous, no I/O.
   * @throws INVALID_ARGUMENT on a malformed cut, or `next` below `previous`.
   */
  captureCold(previous: ColdCut, next: ColdCut): () => AsyncIterable<ColdRecord> {
    const p = checkCut('previous', previous);
    const n = checkCut('next', next);
    checkCutOrder('next', p, n);
    const src = { cols: this.cols, names: this.ids.names, hashPool: this.hashes.pool, slotsByLsn: this.byLsn.ordered(), marks: this.finalizedByHeight.values() };
    return captureVoteColdRecords(src, p, n);
  }

  /**
   * Drops from memory every vote and mark cold under `cut` (the cold tier `tier` holds them and
   * answers for them from now on): the columns, ids, hashes and indexes are rebuilt from the hot
   * slots. The last mark stays. Synchronous.
   * @throws INVALID_ARGUMENT (nothing changed) on a malformed cut or tier, or a cut below the current one.
   */
  evictCold(cut: ColdCut, tier: ColdTier): void {
    const c = checkCut('cut', cut);
    const t = checkTier('tier', tier);
    checkCutOrder('cut', this.cut, c);
    const before = this.coldVotes;
    const dropped = this.dropCold(c);
    this.cut = c;
    this.tier = t;
    this.coldVotes = t.countOf(RecordKind.Vote);
    // The bounds stay known when the tier holds exactly the cold votes known before and those just dropped.
    if (this.coldVotes !== before + dropped.count) this.coldRounds = undefined;
    else if (dropped.bounds !== null && this.coldRounds !== undefined) this.coldRounds = widen(this.coldRounds, dropped.bounds);
    this.coldGeneration++;
  }

  /** What the cold tier's block index records of one Vote or Finalized record. @throws INVALID_ARGUMENT, CORRUPTION. */
  coldKeys(kind: number, payload: Uint8Array): ColdKeys {
    return voteColdKeys(kind, payload);
  }

  /** Drops the slots and marks cold under `cut`; rebuilds the columns and indexes when any slot went. */
  private dropCold(cut: ColdCut): { count: number; bounds: RoundBounds | null } {
    // Nothing is cold under a cut with a zero field (LSNs start at 1): no pass over the slots.
    if (cut.lsn === 0 || cut.height === 0) return { count: 0, bounds: null };
    for (const [h, m] of this.finalizedByHeight) if (isColdByHeight(cut, m.id, h)) this.finalizedByHeight.delete(h);
    const c = this.cols;
    const order = this.byLsn.ordered();
    const keep = new Int32Array(order.length);
    let kept = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const s of order) {
      if (!isColdByHeight(cut, c.lsn[s]!, c.height[s]!)) keep[kept++] = s;
      else {
        min = Math.min(min, c.round[s]!);
        max = Math.max(max, c.round[s]!);
      }
    }
    const count = order.length - kept;
    if (count === 0) return { count, bounds: null };
    const next = compactVotes(c, this.ids, this.hashes, keep.subarray(0, kept));
    this.cols = next.cols;
    this.ids = next.ids;
    this.hashes = next.hashes;
    this.rebuildIndexes();
    return { count, bounds: { min, max } };
  }

  /** New indexes over the columns (their slots are in LSN order, from FIRST_SLOT). */
  private rebuildIndexes(): void {
    const c = this.cols;
    const all = new Int32Array(c.count - FIRST_SLOT);
    for (let i = 0; i < all.length; i++) all[i] = FIRST_SLOT + i;
    const sorted = (order: SlotOrder): Int32Array => all.slice().sort(order);
    const roundOrdered = sorted(roundOrder(c, this.ids.names));
    this.byRound = new SlotIndex(roundOrder(c, this.ids.names));
    this.byRound.loadOrdered(roundOrdered, roundOrdered.length);
    this.byHeight = new SlotIndex(heightOrder(c));
    const heights = sorted(heightOrder(c));
    this.byHeight.loadOrdered(heights, heights.length);
    this.byLsn = new SlotIndex(lsnOrder(c));
    this.byLsn.loadOrdered(all, all.length);
    this.compareInValidator = roundInValidatorOrder(c);
    // A validator's slots in round order are its slots in (round, type, LSN) order.
    const perValidator: number[][] = [];
    for (const s of roundOrdered) (perValidator[c.validator[s]!] ??= []).push(s);
    this.byValidator.length = 0;
    perValidator.forEach((slots, v) => {
      const index = new SlotIndex(this.compareInValidator);
      index.loadOrdered(Int32Array.from(slots), slots.length);
      this.byValidator[v] = index;
    });
  }

  /** The tier and cut a query reads, or undefined when no vote is cold. */
  private coldView(): ColdView | undefined {
    return this.tier === undefined || this.coldVotes === 0 ? undefined : { tier: this.tier, cut: this.cut };
  }

  /** True when a cold vote may have a round in [lo, hi]; reads the tier's footers once when the bounds are not known. */
  private async roundsMayBeCold(view: ColdView, lo: number, hi: number): Promise<boolean> {
    let b = this.coldRounds;
    if (b === undefined) {
      const generation = this.coldGeneration;
      b = await coldRoundBounds(view.tier);
      if (generation === this.coldGeneration) this.coldRounds = b;
    }
    return b !== null && b.min <= hi && b.max >= lo;
  }

  /** The cold votes of the slot (validator, round, type code), in LSN order; the first one only with `firstOnly`. */
  private async coldSlotVotes(view: ColdView, id: string, round: number, code: number, firstOnly: boolean): Promise<VoteLogEntry[]> {
    const filter = { kinds: [RecordKind.Vote], round: [round, round] as const, validator: id };
    const accept = (e: VoteLogEntry): boolean => e.vote.validatorId === id && e.vote.round === round && voteTypeCode(e.vote.voteType) === code;
    if (firstOnly) {
      const found = await findColdVote(view, filter, accept);
      return found === undefined ? [] : [found];
    }
    return (await readColdVotes(view, filter, accept)).sort((a, b) => a.id - b.id);
  }

  /** The last mark: in memory, or (after an open that saw no mark) the cold tier's highest. */
  private async lastMark(): Promise<FinalizedMark | undefined> {
    const tier = this.tier;
    if (this.lastFinalized !== undefined || tier === undefined || tier.countOf(RecordKind.Finalized) === 0) return this.lastFinalized;
    const cold = await lastColdMark({ tier, cut: this.cut });
    if (cold !== undefined) this.foldLast(cold);
    return this.lastFinalized;
  }

  /** Makes `mark` the last one when it is above it (a cold mark: not indexed). */
  private foldLast(mark: FinalizedMark): void {
    if (this.lastFinalized === undefined || mark.height > this.lastFinalized.height) this.lastFinalized = mark;
  }

  private checkOpen(): void {
    assertOpen(this.ctx);
  }

  private queryLimits(): QueryLimits {
    return { defaultLimit: this.limits.defaultQueryLimit, maxLimit: this.limits.maxQueryLimit };
  }

  private recordedAt(): number {
    return readClock(this.ctx);
  }

  /**
   * The vote to write: a token of this chain as it was verified, else `vote` checked and (unless
   * verification is off) verified.
   */
  private checked(name: string, vote: ValidatorVote): ValidatorVote {
    if (this.verification === 'off') return checkVote(name, vote);
    const trusted = verifiedVoteFor(vote, this.verification.chainId);
    // A copy: the result hands the written vote to the caller, and the token's must stay as verified.
    if (trusted !== undefined) return copyVote(trusted);
    const v = checkVote(name, vote);
    checkVoteSignature(name, v, this.verification);
    return v;
  }

  /** Serializes appends of one slot; shares the write of an identical vote in flight. */
  private enqueue(v: ValidatorVote): Promise<AppendVoteResult> {
    const key = `${v.round * 4 + voteTypeCode(v.voteType)}\u0000${v.validatorId}`;
    let slot = this.slots.get(key);
    const twin = slot?.pending.find((p) => sameBlock(p.vote, v));
    if (twin !== undefined) return twin.promise.then((r) => ({ ...r, vote: copyVote(r.vote), outcome: 'duplicate', conflictsWith: [] }));
    const promise = slot === undefined ? this.write(v) : slot.tail.then(() => this.write(v));
    if (slot === undefined) {
      slot = { pending: [], tail: promise };
      this.slots.set(key, slot);
    }
    const pending: PendingAppend = { vote: v, promise };
    const s = slot;
    s.pending.push(pending);
    s.tail = promise.catch(() => undefined);
    const settle = (): void => {
      s.pending.splice(s.pending.indexOf(pending), 1);
      if (s.pending.length === 0 && this.slots.get(key) === s) this.slots.delete(key);
    };
    promise.then(settle, settle);
    return promise;
  }

  /** Decides (duplicate, equivocation, new) against the durable index and writes one batch. */
  private async write(v: ValidatorVote): Promise<AppendVoteResult> {
    this.checkOpen();
    const code = voteTypeCode(v.voteType);
    // Only a round the cold tier may hold costs a lookup (docs/stores.md, "Bounded history"); it
    // is looked up again when an eviction ran meanwhile (a vote it moved would be in neither answer).
    let cold: VoteLogEntry[] = [];
    for (let generation = -1; generation !== this.coldGeneration; ) {
      generation = this.coldGeneration;
      cold = this.mayHoldColdRound(v.round) ? await this.coldSlot(v, code) : [];
    }
    const validator = this.ids.lookup(v.validatorId);
    const existing = validator < 0 ? [] : this.roundRange(this.byValidator[validator], validator, v.round, code, v.round, code + 1, Infinity, undefined);
    const twin = existing.find((slot) => this.sameBlockAt(slot, v));
    const coldTwin = cold.find((e) => sameBlock(e.vote, v));
    if (coldTwin !== undefined) return { ...coldTwin, outcome: 'duplicate', conflictsWith: [] };
    if (twin !== undefined) return { ...this.entry(twin), outcome: 'duplicate', conflictsWith: [] };
    const conflictsWith = cold.length === 0 ? this.entries(existing) : [...cold, ...this.entries(existing)].sort((a, b) => a.id - b.id);
    const outcome = conflictsWith.length === 0 ? 'stored' : 'equivocation';
    const recordedAt = this.recordedAt();
    const event: VoteBatchEvent = { vote: v, outcome, conflictsWith, recordedAt };
    const parts: BatchPart[] = [{ records: [{ kind: RecordKind.Vote, payload: encodeVoteRecord(v, recordedAt) }] }];
    for (const contribute of this.contributors) {
      const part = contribute(event);
      if (part !== undefined) parts.push(part);
    }
    // Indexed first, before the other parts' steps: the pipeline runs them in part order.
    const [own] = await this.pipeline.commit([{ ...(parts[0] as BatchPart), onDurable: ([r]) => this.index(v, (r as LogRecord).lsn, recordedAt) }, ...parts.slice(1)]);
    const lsn = (own as LogRecord[])[0]!.lsn;
    // `v` is checkVote's private copy and the columns copied from it: the caller may own it.
    return { id: lsn, vote: v, timestamp: v.timestamp, recordedAt, outcome, conflictsWith };
  }

  /** True when the cold tier may hold a vote of round `round` (synchronous: unknown bounds say yes). */
  private mayHoldColdRound(round: number): boolean {
    if (this.tier === undefined || this.coldVotes === 0) return false;
    const b = this.coldRounds;
    return b === undefined || (b !== null && b.min <= round && b.max >= round);
  }

  /** The cold votes of `v`'s slot, in LSN order, under the current cut. */
  private async coldSlot(v: ValidatorVote, code: number): Promise<VoteLogEntry[]> {
    const view = this.coldView();
    if (view === undefined || !(await this.roundsMayBeCold(view, v.round, v.round))) return [];
    return this.coldSlotVotes(view, v.validatorId, v.round, code, false);
  }

  /** True when the stored vote in `slot` has `v`'s height and block hash. */
  private sameBlockAt(slot: number, v: ValidatorVote): boolean {
    const c = this.cols;
    if (c.height[slot] !== v.height) return false;
    const h = c.hash[slot]!;
    if (h < 0 || v.blockHash === null) return h < 0 && v.blockHash === null;
    return this.hashes.equals(h, v.blockHash, 0);
  }

  /** Puts a checked vote, durable at `lsn`, into a new slot and the indexes. */
  private index(vote: ValidatorVote, lsn: Lsn, recordedAt: number): number {
    const v = this.ids.intern(vote.validatorId);
    const hash = vote.blockHash === null ? -1 : this.hashes.intern(vote.blockHash, 0);
    const slot = this.cols.add();
    const c = this.cols;
    c.lsn[slot] = lsn;
    c.height[slot] = vote.height;
    c.timestamp[slot] = vote.timestamp;
    c.recordedAt[slot] = recordedAt;
    c.round[slot] = vote.round;
    c.type[slot] = voteTypeCode(vote.voteType);
    c.validator[slot] = v;
    c.hash[slot] = hash;
    c.signature.set(vote.signature, slot * SIGNATURE_BYTES);
    this.link(slot);
    return slot;
  }

  /** Adds a filled slot to every index. */
  private link(slot: number): void {
    const v = this.cols.validator[slot]!;
    (this.byValidator[v] ??= new SlotIndex(this.compareInValidator)).insert(slot);
    this.byRound.insert(slot);
    this.byHeight.insert(slot);
    this.byLsn.insert(slot);
  }

  /**
   * Slots of `tree` (byRound, or one validator's tree; none: no slots) from (validator, fromRound, fromType) up to, not
   * including, (validator, toRound, toType), at most `limit` of those `keep` accepts.
   */
  private roundRange(
    index: SlotIndex | undefined,
    validator: number,
    fromRound: number,
    fromType: number,
    toRound: number,
    toType: number,
    limit: number,
    keep: ((slot: number) => boolean) | undefined,
  ): number[] {
    if (index === undefined) return [];
    const lo = this.cols.probe(PROBE_LO, fromRound, fromType, validator, 0, -1);
    const hi = this.cols.probe(PROBE_HI, toRound, toType, validator, 0, -1);
    return index.collect(lo, hi, limit, keep);
  }

  /** The entries of `slots`, built from the columns. */
  private entries(slots: readonly number[]): VoteLogEntry[] {
    const out = new Array<VoteLogEntry>(slots.length);
    for (let i = 0; i < slots.length; i++) out[i] = this.entry(slots[i]!);
    return out;
  }

  /**
   * A fresh entry for the vote in `slot`, byte arrays copied: the caller owns it, and changing
   * it changes nothing stored (so it is not frozen: freezing costs more than building it).
   */
  private entry(slot: number): VoteLogEntry {
    const c = this.cols;
    const h = c.hash[slot]!;
    const timestamp = c.timestamp[slot]!;
    const at = slot * SIGNATURE_BYTES;
    const vote: ValidatorVote = {
      validatorId: this.ids.names[c.validator[slot]!]!,
      height: c.height[slot]!,
      round: c.round[slot]!,
      voteType: VOTE_TYPES[c.type[slot]! - 1]!,
      blockHash: h < 0 ? null : this.hashes.copy(h),
      timestamp,
      signature: c.signature.slice(at, at + SIGNATURE_BYTES),
    };
    return { id: c.lsn[slot]! as Lsn, vote, timestamp, recordedAt: c.recordedAt[slot]! };
  }

  private async writeFinalized(height: number, round: number): Promise<FinalizedMark> {
    this.checkOpen();
    // A mark not in memory is cold already or does not exist: an eviction meanwhile cannot hide it.
    const known = this.finalizedByHeight.get(height) ?? (await this.coldMarkAt(height));
    if (known !== undefined) {
      if (known.round === round) return known;
      throw conflict(`height ${height} was finalized in round ${known.round}, not ${round}`, { height, round });
    }
    const last = await this.lastMark();
    if (last !== undefined && (height < last.height || round < last.round)) {
      throw conflict(`finalization of (${height}, ${round}) is behind the last mark (${last.height}, ${last.round})`, {
        height,
        round,
      });
    }
    const recordedAt = this.recordedAt();
    const [lsn] = await this.ctx.log.append([{ kind: RecordKind.Finalized, payload: encodeFinalizedRecord(height, round, recordedAt) }]);
    const mark: FinalizedMark = Object.freeze({ id: lsn as Lsn, height, round, recordedAt });
    this.indexFinalized(mark);
    this.finalizedListener?.(height);
    return mark;
  }

  /** The cold mark of `height`, or undefined; reads nothing for a height at or above the cut. */
  private async coldMarkAt(height: number): Promise<FinalizedMark | undefined> {
    const tier = this.tier;
    if (tier === undefined || height >= this.cut.height || tier.countOf(RecordKind.Finalized) === 0) return undefined;
    return findColdMark({ tier, cut: this.cut }, height);
  }

  private indexFinalized(mark: FinalizedMark): void {
    this.finalizedByHeight.set(mark.height, mark);
    if (this.lastFinalized === undefined || mark.height > this.lastFinalized.height) this.lastFinalized = mark;
  }
}

/** The smallest bounds holding both. */
function widen(a: RoundBounds | null, b: RoundBounds): RoundBounds {
  return a === null ? b : { min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) };
}

function conflict(message: string, details: Record<string, unknown>): ConsensusStoreError {
  return new ConsensusStoreError('CONFLICT', message, { details });
}
