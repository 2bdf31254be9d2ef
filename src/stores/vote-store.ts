/**
 * VoteStore: every validator's votes, durable, indexed, and answerable without touching the log;
 * plus finalization marks (`markFinalized`) that define which rounds are still open.
 *
 * Write path (DESIGN 3, 5.2): validate, decide against the in-memory indexes (duplicate,
 * equivocation), append one batch, and fold the record into the indexes only once the append
 * resolved (durable, D4). Appends of one (validator, round, type) slot are serialized so that a
 * second vote always sees the first; an identical vote in flight shares the first one's write.
 *
 * It must never: write anything for bad input (every argument is checked first), answer a query
 * by scanning the log, return an unbounded result, or put a record in its indexes before the
 * log reported it durable.
 */
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import { BTree } from '../index/btree.ts';
import { compareNumbers, compareStrings, tupleComparator } from '../index/keys.ts';
import { RecordKind } from '../codec/kinds.ts';
import { checkValidatorId, checkVote, verifyVote, voteTypeCode } from '../codec/vote-sign.ts';
import { decodeFinalizedRecord, decodeVoteRecord, encodeFinalizedRecord, encodeVoteRecord } from '../codec/vote-record.ts';
import type { LogRecord, Lsn, RecordInput } from '../log/types.ts';
import { checkInteger, checkObject, checkOneOf, checkSafeUint, checkU32, MAX_U32 } from '../validate.ts';
import type { RecordApplier, StoreContext } from './context.ts';
import { VOTE_TYPES } from './vote-types.ts';
import type {
  AppendVoteResult,
  FinalizedMark,
  RoundVotesOptions,
  ValidatorVote,
  ValidatorVotesOptions,
  VoteBatchHook,
  VoteLogEntry,
  VoteQuery,
  VoteStoreApi,
  VoteStoreLimits,
  VoteType,
} from './vote-types.ts';

/** Default limits (DESIGN 6). */
export const DEFAULT_VOTE_STORE_LIMITS: VoteStoreLimits = {
  defaultQueryLimit: 1_000,
  maxQueryLimit: 10_000,
  maxRoundVotes: 100_000,
};

/** Largest configurable limit: a result of this many entries is the most a caller can ask for. */
const LIMIT_CEILING = 1_000_000;

/** Optional signature check on append. */
export interface VoteVerification {
  /** The chain id the sign bytes are bound to. */
  readonly chainId: string;
  /** The validator's 32-byte ed25519 public key at `height`, or undefined when unknown (NOT_FOUND). */
  readonly publicKeyOf: (validatorId: string, height: number) => Uint8Array | undefined;
}

/** Options of `new VoteStore`. */
export interface VoteStoreOptions {
  readonly limits?: Partial<VoteStoreLimits>;
  /** When given, `appendVote` verifies each vote's signature (INVALID_ARGUMENT if it fails). Default: not verified. */
  readonly verification?: VoteVerification;
}

/** Round and vote type in one sortable number: round * 4 + type code (1..3). */
type RoundType = number;
/** Index keys; a shorter tuple is a range bound for the group it begins (index/keys.ts). */
type RoundKey = readonly [RoundType, string?, number?];
type ValidatorKey = readonly [string, RoundType?, number?];
type HeightKey = readonly [number, number?];

function roundType(round: number, type: VoteType): RoundType {
  return round * 4 + voteTypeCode(type);
}

function sameBlock(a: ValidatorVote, b: ValidatorVote): boolean {
  if (a.height !== b.height) return false;
  if (a.blockHash === null || b.blockHash === null) return a.blockHash === b.blockHash;
  if (a.blockHash.length !== b.blockHash.length) return false;
  for (let i = 0; i < a.blockHash.length; i++) if (a.blockHash[i] !== b.blockHash[i]) return false;
  return true;
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

/**
 * The vote store over the shared log. Implements `VoteStoreApi` (the conformance suite's
 * interface) and `RecordApplier` (kinds Vote and Finalized). Entries it returns are frozen and
 * shared with its indexes: never mutate their byte arrays.
 */
export class VoteStore implements VoteStoreApi, RecordApplier {
  /** Record kinds this store owns. */
  readonly kinds: readonly number[] = [RecordKind.Vote, RecordKind.Finalized];
  /** The limits in force. */
  readonly limits: VoteStoreLimits;

  private readonly ctx: StoreContext;
  private readonly verification: VoteVerification | undefined;
  private readonly byLsn = new BTree<number, VoteLogEntry>(compareNumbers);
  private readonly byRound = new BTree<RoundKey, VoteLogEntry>(tupleComparator(compareNumbers, compareStrings, compareNumbers));
  private readonly byValidator = new BTree<ValidatorKey, VoteLogEntry>(
    tupleComparator(compareStrings, compareNumbers, compareNumbers),
  );
  private readonly byHeight = new BTree<HeightKey, VoteLogEntry>(tupleComparator(compareNumbers, compareNumbers));
  private readonly finalizedByHeight = new Map<number, FinalizedMark>();
  private lastFinalized: FinalizedMark | null = null;
  private finalizeTail: Promise<unknown> = Promise.resolve();
  private readonly slots = new Map<string, Slot>();
  private batchHook: VoteBatchHook | undefined;

  /** @throws ConsensusStoreError INVALID_ARGUMENT on bad options. */
  constructor(ctx: StoreContext, options: VoteStoreOptions = {}) {
    this.ctx = ctx;
    const o = checkObject('options', options);
    const limits = o.limits === undefined ? {} : checkObject('options.limits', o.limits);
    const lim = (name: keyof VoteStoreLimits): number =>
      limits[name] === undefined
        ? DEFAULT_VOTE_STORE_LIMITS[name]
        : checkInteger(`options.limits.${name}`, limits[name], 1, LIMIT_CEILING);
    this.limits = { defaultQueryLimit: lim('defaultQueryLimit'), maxQueryLimit: lim('maxQueryLimit'), maxRoundVotes: lim('maxRoundVotes') };
    if (this.limits.defaultQueryLimit > this.limits.maxQueryLimit) {
      throw invalidArgument('options.limits.defaultQueryLimit', 'must not exceed maxQueryLimit');
    }
    this.verification = options.verification;
  }

  /**
   * Lets another store add records to the batch of each new vote (D3); the next issue uses it
   * for evidence and audit entries of equivocation. One hook; setting again replaces it.
   * @internal wired by openStore, not part of the public API.
   */
  setBatchHook(hook: VoteBatchHook | undefined): void {
    this.batchHook = hook;
  }

  /** Number of stored votes (all of them, equivocating ones included). */
  get size(): number {
    return this.byLsn.size;
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
   * @throws INVALID_ARGUMENT (bad field, or signature check failed when verification is on),
   *   NOT_FOUND (verification on, unknown validator), CLOSED, and the log's write errors.
   */
  appendVote(vote: ValidatorVote): Promise<AppendVoteResult> {
    try {
      this.checkOpen();
      const v = checkVote('vote', vote);
      this.verify(v);
      return this.enqueue(v);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * The votes of one round, in (voteType, validatorId, LSN) order, at most `limit`
   * (default and max `limits.maxRoundVotes`).
   * @throws INVALID_ARGUMENT, CLOSED.
   */
  async getVotesForRound(round: number, options: RoundVotesOptions = {}): Promise<VoteLogEntry[]> {
    this.checkOpen();
    const r = checkU32('round', round);
    const o = checkObject('options', options);
    const limit = this.limit('options.limit', o.limit, this.limits.maxRoundVotes, this.limits.maxRoundVotes);
    return take(this.byRound.values([r * 4], [r * 4 + 4]), limit);
  }

  /**
   * One validator's votes with `fromRound <= round <= toRound`, in (round, voteType, LSN)
   * order, at most `limit` (default `defaultQueryLimit`).
   * @throws INVALID_ARGUMENT (also when fromRound > toRound), CLOSED.
   */
  async getValidatorVotes(validatorId: string, options: ValidatorVotesOptions = {}): Promise<VoteLogEntry[]> {
    this.checkOpen();
    const id = checkValidatorId('validatorId', validatorId);
    const o = checkObject('options', options);
    const from = o.fromRound === undefined ? 0 : checkU32('options.fromRound', o.fromRound);
    const to = o.toRound === undefined ? MAX_U32 : checkU32('options.toRound', o.toRound);
    if (from > to) throw invalidArgument('options.fromRound', 'must not exceed options.toRound');
    const limit = this.limit('options.limit', o.limit, this.limits.defaultQueryLimit, this.limits.maxQueryLimit);
    return take(this.byValidator.values([id, from * 4], [id, to * 4 + 4]), limit);
  }

  /**
   * The most recently recorded votes, newest (highest LSN) first, at most `limit`
   * (default `defaultQueryLimit`).
   * @throws INVALID_ARGUMENT, CLOSED.
   */
  async getRecentVotes(limit?: number): Promise<VoteLogEntry[]> {
    this.checkOpen();
    const n = this.limit('limit', limit, this.limits.defaultQueryLimit, this.limits.maxQueryLimit);
    const out: VoteLogEntry[] = [];
    for (const [, entry] of this.byLsn.entriesReversed()) {
      if (out.length >= n) break;
      out.push(entry);
    }
    return out;
  }

  /**
   * Votes matching every given field of `query`, at most `limit` (default `defaultQueryLimit`).
   * Order: (round, voteType, validatorId, LSN) when `round` or `validatorId` is given;
   * (height, LSN) otherwise. Answered from the round, validator or height index.
   * @throws INVALID_ARGUMENT (also when startHeight > endHeight), CLOSED.
   */
  async queryVotes(query: VoteQuery): Promise<VoteLogEntry[]> {
    this.checkOpen();
    const q = checkObject('query', query);
    const round = q.round === undefined ? undefined : checkU32('query.round', q.round);
    const validatorId = q.validatorId === undefined ? undefined : checkValidatorId('query.validatorId', q.validatorId);
    const type = q.voteType === undefined ? undefined : checkOneOf('query.voteType', q.voteType, VOTE_TYPES);
    const start = q.startHeight === undefined ? 0 : checkSafeUint('query.startHeight', q.startHeight);
    const end = q.endHeight === undefined ? Number.MAX_SAFE_INTEGER : checkSafeUint('query.endHeight', q.endHeight);
    if (start > end) throw invalidArgument('query.startHeight', 'must not exceed query.endHeight');
    const limit = this.limit('query.limit', q.limit, this.limits.defaultQueryLimit, this.limits.maxQueryLimit);
    const match = (e: VoteLogEntry): boolean =>
      e.vote.height >= start && e.vote.height <= end && (type === undefined || e.vote.voteType === type);
    let candidates: Iterable<VoteLogEntry>;
    if (round !== undefined) {
      const lo = type === undefined ? round * 4 : roundType(round, type);
      const hi = type === undefined ? round * 4 + 4 : lo + 1;
      candidates = validatorId === undefined ? this.byRound.values([lo], [hi]) : this.byValidator.values([validatorId, lo], [validatorId, hi]);
    } else if (validatorId !== undefined) {
      candidates = this.byValidator.values([validatorId], [validatorId, Infinity]);
    } else {
      candidates = this.byHeight.values([start], [end, Infinity]);
    }
    return take(filter(candidates, match), limit);
  }

  /**
   * How many votes are stored for `round` (of `voteType`, when given). Every stored vote counts,
   * equivocating ones included: count distinct validators by stake for a quorum.
   * @throws INVALID_ARGUMENT, CLOSED.
   */
  async countVotesForRound(round: number, voteType?: VoteType): Promise<number> {
    this.checkOpen();
    const r = checkU32('round', round);
    if (voteType === undefined) return this.byRound.countRange([r * 4], [r * 4 + 4]);
    const rt = roundType(r, checkOneOf('voteType', voteType, VOTE_TYPES));
    return this.byRound.countRange([rt], [rt + 1]);
  }

  /**
   * True when a vote of `validatorId` for (`round`, `voteType`) is stored (durable).
   * @throws INVALID_ARGUMENT, CLOSED.
   */
  async voteExists(validatorId: string, round: number, voteType: VoteType): Promise<boolean> {
    this.checkOpen();
    const id = checkValidatorId('validatorId', validatorId);
    const rt = roundType(checkU32('round', round), checkOneOf('voteType', voteType, VOTE_TYPES));
    return this.byValidator.countRange([id, rt], [id, rt + 1]) > 0;
  }

  /**
   * The lowest round that has a stored vote and is not finalized, or null when there is none.
   * With F = the last finalization mark (height Fh, round Fr), a vote is finalized when its
   * round is below Fr, or equal to Fr at a height <= Fh; without a mark no vote is finalized.
   * @throws CLOSED.
   */
  async getEarliestOpenRound(): Promise<number | null> {
    this.checkOpen();
    const f = this.lastFinalized;
    if (f === null) {
      const first = this.byRound.minKey();
      return first === undefined ? null : Math.floor(first[0] / 4);
    }
    for (const entry of this.byRound.values([f.round * 4], [f.round * 4 + 4])) {
      if (entry.vote.height > f.height) return f.round;
    }
    if (f.round === MAX_U32) return null;
    const next = this.byRound.keys([(f.round + 1) * 4]).next();
    return next.done === true ? null : Math.floor(next.value[0] / 4);
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
      const run = this.finalizeTail.then(() => this.writeFinalized(h, r));
      this.finalizeTail = run.catch(() => undefined);
      return run;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The last finalization mark, or null. @throws CLOSED. */
  async getLastFinalized(): Promise<FinalizedMark | null> {
    this.checkOpen();
    return this.lastFinalized;
  }

  /** Folds one durable Vote or Finalized record into the indexes (replay). Throws CORRUPTION on a bad payload. */
  apply(record: LogRecord): void {
    if (record.kind === RecordKind.Vote) {
      const { vote, recordedAt } = decodeVoteRecord(record);
      this.index(vote, record.lsn, recordedAt);
    } else if (record.kind === RecordKind.Finalized) {
      const f = decodeFinalizedRecord(record);
      this.indexFinalized({ id: record.lsn, height: f.height, round: f.round, recordedAt: f.recordedAt });
    }
  }

  private checkOpen(): void {
    const status = this.ctx.log.status;
    if (status === 'closing' || status === 'closed') throw new ConsensusStoreError('CLOSED', 'the store is closed');
  }

  private limit(name: string, value: unknown, defaultValue: number, max: number): number {
    return value === undefined ? defaultValue : checkInteger(name, value, 1, max);
  }

  private recordedAt(): number {
    const t = this.ctx.now();
    if (!Number.isSafeInteger(t) || t < 0) throw new RangeError(`now() returned ${t}, not a safe non-negative integer`);
    return t;
  }

  private verify(v: ValidatorVote): void {
    if (this.verification === undefined) return;
    const key = this.verification.publicKeyOf(v.validatorId, v.height);
    if (key === undefined) {
      throw new ConsensusStoreError('NOT_FOUND', `no public key for validator ${JSON.stringify(v.validatorId)}`, {
        details: { validatorId: v.validatorId },
      });
    }
    if (!verifyVote(v, key, this.verification.chainId)) throw invalidArgument('vote.signature', 'does not verify');
  }

  /** Serializes appends of one slot; shares the write of an identical vote in flight. */
  private enqueue(v: ValidatorVote): Promise<AppendVoteResult> {
    const key = `${roundType(v.round, v.voteType)}\u0000${v.validatorId}`;
    let slot = this.slots.get(key);
    const twin = slot?.pending.find((p) => sameBlock(p.vote, v));
    if (twin !== undefined) return twin.promise.then((r) => ({ ...r, outcome: 'duplicate', conflictsWith: [] }));
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
    const rt = roundType(v.round, v.voteType);
    const existing = take(this.byValidator.values([v.validatorId, rt], [v.validatorId, rt + 1]), Infinity);
    const twin = existing.find((e) => sameBlock(e.vote, v));
    if (twin !== undefined) return { ...twin, outcome: 'duplicate', conflictsWith: [] };
    const outcome = existing.length === 0 ? 'stored' : 'equivocation';
    const recordedAt = this.recordedAt();
    const extension = this.batchHook?.({ vote: v, outcome, conflictsWith: existing, recordedAt });
    const extra: readonly RecordInput[] = extension?.records ?? [];
    const lsns = await this.ctx.log.append([{ kind: RecordKind.Vote, payload: encodeVoteRecord(v, recordedAt) }, ...extra]);
    const entry = this.index(v, lsns[0] as Lsn, recordedAt);
    extension?.onDurable?.(extra.map((r, i) => ({ lsn: lsns[i + 1] as Lsn, kind: r.kind, payload: r.payload })));
    return { ...entry, outcome, conflictsWith: existing };
  }

  private index(vote: ValidatorVote, lsn: Lsn, recordedAt: number): VoteLogEntry {
    const entry: VoteLogEntry = Object.freeze({ id: lsn, vote: Object.freeze(vote), timestamp: vote.timestamp, recordedAt });
    const rt = roundType(vote.round, vote.voteType);
    this.byLsn.set(lsn, entry);
    this.byRound.set([rt, vote.validatorId, lsn], entry);
    this.byValidator.set([vote.validatorId, rt, lsn], entry);
    this.byHeight.set([vote.height, lsn], entry);
    return entry;
  }

  private async writeFinalized(height: number, round: number): Promise<FinalizedMark> {
    this.checkOpen();
    const known = this.finalizedByHeight.get(height);
    if (known !== undefined) {
      if (known.round === round) return known;
      throw conflict(`height ${height} was finalized in round ${known.round}, not ${round}`, { height, round });
    }
    const last = this.lastFinalized;
    if (last !== null && (height < last.height || round < last.round)) {
      throw conflict(`finalization of (${height}, ${round}) is behind the last mark (${last.height}, ${last.round})`, {
        height,
        round,
      });
    }
    const recordedAt = this.recordedAt();
    const [lsn] = await this.ctx.log.append([{ kind: RecordKind.Finalized, payload: encodeFinalizedRecord(height, round, recordedAt) }]);
    const mark: FinalizedMark = Object.freeze({ id: lsn as Lsn, height, round, recordedAt });
    this.indexFinalized(mark);
    return mark;
  }

  private indexFinalized(mark: FinalizedMark): void {
    this.finalizedByHeight.set(mark.height, mark);
    if (this.lastFinalized === null || mark.height > this.lastFinalized.height) this.lastFinalized = mark;
  }
}

function conflict(message: string, details: Record<string, unknown>): ConsensusStoreError {
  return new ConsensusStoreError('CONFLICT', message, { details });
}

function take<T>(items: Iterable<T>, limit: number): T[] {
  const out: T[] = [];
  if (limit <= 0) return out;
  for (const item of items) {
    out.push(item);
    if (out.length >= limit) break;
  }
  return out;
}

function* filter<T>(items: Iterable<T>, keep: (item: T) => boolean): Generator<T> {
  for (const item of items) if (keep(item)) yield item;
}
