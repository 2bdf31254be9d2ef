/**
 * VoteStore: every validator's votes, durable, indexed, and answerable without touching the log;
 * plus finalization marks (`markFinalized`) that define which rounds are still open.
 *
 * Write path (DESIGN 3, 5.2): validate, decide against the in-memory indexes (duplicate,
 * equivocation), append one batch, and fold the record into the indexes only once the append
 * resolved (durable, D4). Appends of one (validator, round, type) slot are serialized so that a
 * second vote always sees the first; an identical vote in flight shares the first one's write.
 *
 * Memory (a million votes are rebuilt on every open): a vote is a slot in typed-array columns,
 * not an object; the four indexes are sorted slot lists (B+trees of slots once out-of-order
 * inserts demand it) under comparators that read the columns; replay decodes in place. Queries
 * build their entries from the columns (docs/stores.md, "In memory").
 *
 * It must never: write anything for bad input (every argument is checked first), answer a query
 * by scanning the log, return an unbounded result, or put a record in its indexes before the
 * log reported it durable.
 */
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import { BTree } from '../index/btree.ts';
import { RecordKind } from '../codec/kinds.ts';
import { checkValidatorId, checkVote, verifyVote, voteTypeCode } from '../codec/vote-sign.ts';
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
import type { LogRecord, Lsn, RecordInput } from '../log/types.ts';
import { checkInteger, checkObject, checkOneOf, checkSafeUint, checkU32, MAX_U32 } from '../validate.ts';
import type { RecordApplier, StoreContext } from './context.ts';
import { BLOCK_HASH_BYTES, SIGNATURE_BYTES, VOTE_TYPES } from './vote-types.ts';
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

/** Column slots 0 and 1 hold no vote: they are the lower and upper range bound of a query (see `VoteColumns`). */
const PROBE_LO = 0;
const PROBE_HI = 1;
/** The first slot that holds a vote. */
const FIRST_SLOT = 2;
/** Type codes of probes, around the real codes 1..3: below and above every vote of a round. */
const TYPE_BELOW = 0;
const TYPE_ABOVE = 4;
/** Validator index of probes: the empty id, which sorts before every real id (ids are 1..128 units). */
const NO_VALIDATOR = 0;
/** Smallest capacity of the columns, in slots. */
const INITIAL_SLOTS = 1024;
/**
 * Most slots reserved up front from the log's record count (~110 bytes each). Untouched
 * capacity costs address space, not resident memory: fresh ArrayBuffers are zero pages.
 */
const MAX_RESERVED_SLOTS = 1 << 24;

const utf8 = new TextEncoder();

/**
 * Every stored vote, one slot each, as parallel typed arrays (columns) instead of one object per
 * vote: a million votes are ~110 bytes each in a dozen large ArrayBuffers, and the indexes are
 * B+trees of slot numbers ordered by comparators that read these columns. Block hashes are
 * interned (`BlockHashes`), validator ids too (`ValidatorIds`); a query builds its
 * `VoteLogEntry` objects from the columns (`VoteStore.entry`).
 *
 * Slots `PROBE_LO` and `PROBE_HI` are scratch: a query writes its range bounds there and hands
 * their slot numbers to the B+tree. Iterators compare against the bound lazily, so a range must
 * be consumed before the next query writes the probes: every range in this file is consumed
 * synchronously (never across an await).
 */
class VoteColumns {
  capacity = 0;
  /** Slots in use, probes included. */
  count = FIRST_SLOT;
  lsn = new Float64Array(0);
  height = new Float64Array(0);
  timestamp = new Float64Array(0);
  recordedAt = new Float64Array(0);
  round = new Uint32Array(0);
  /** Vote type code 1..3 (probes: 0 or 4). */
  type = new Uint8Array(0);
  /** Index into `ValidatorIds.names`. */
  validator = new Uint32Array(0);
  /** Index into `BlockHashes`, or -1 for a nil vote. */
  hash = new Int32Array(0);
  /** 64 bytes per slot. */
  signature = new Uint8Array(0);

  /** @param expected - slots to reserve up front (a replay then never copies a column). */
  constructor(expected: number) {
    this.resize(Math.max(INITIAL_SLOTS, Math.min(expected, MAX_RESERVED_SLOTS)));
  }

  /** A fresh slot at the end (the columns double when full). */
  add(): number {
    if (this.count === this.capacity) this.resize(this.capacity * 2);
    return this.count++;
  }

  private resize(n: number): void {
    this.lsn = grown(this.lsn, new Float64Array(n));
    this.height = grown(this.height, new Float64Array(n));
    this.timestamp = grown(this.timestamp, new Float64Array(n));
    this.recordedAt = grown(this.recordedAt, new Float64Array(n));
    this.round = grown(this.round, new Uint32Array(n));
    this.type = grown(this.type, new Uint8Array(n));
    this.validator = grown(this.validator, new Uint32Array(n));
    this.hash = grown(this.hash, new Int32Array(n));
    this.signature = grown(this.signature, new Uint8Array(n * SIGNATURE_BYTES));
    this.capacity = n;
  }
}

function grown<A extends Float64Array | Uint32Array | Int32Array | Uint8Array>(old: A, fresh: A): A {
  fresh.set(old as never);
  return fresh;
}

/** FNV-1a over `len` bytes of `p` from `off`. */
function hashBytes(p: Uint8Array, off: number, len: number): number {
  let h = 0x811c9dc5;
  for (let i = off; i < off + len; i++) h = Math.imul(h ^ (p[i] as number), 0x01000193);
  return h >>> 0;
}

/**
 * Interned validator ids: index -> id, with lookups by string (appends) and by UTF-8 bytes
 * (replay: a known id is found without decoding it; each distinct byte string is decoded and
 * checked once). Index 0 is the empty id of the probes.
 */
class ValidatorIds {
  readonly names: string[] = [''];
  private readonly byName = new Map<string, number>();
  /** UTF-8 bytes of every id, back to back. */
  private bytes = new Uint8Array(1024);
  private used = 0;
  private readonly starts: number[] = [0];
  private readonly lengths: number[] = [0];
  /** Open addressing over byte hashes: a name index, 0 for an empty bucket. */
  private buckets = new Int32Array(64);

  /** The index of `name`, or -1 when no vote of it is stored. */
  lookup(name: string): number {
    return this.byName.get(name) ?? -1;
  }

  /** The index of `name` (an id already checked), added when new. */
  intern(name: string): number {
    const known = this.byName.get(name);
    if (known !== undefined) return known;
    const encoded = utf8.encode(name);
    return this.add(name, encoded, 0, encoded.length, hashBytes(encoded, 0, encoded.length));
  }

  /** The index of the id whose UTF-8 bytes are `p[off, off + len)`, or -1 when there is none. */
  findBytes(p: Uint8Array, off: number, len: number): number {
    const mask = this.buckets.length - 1;
    for (let b = hashBytes(p, off, len) & mask; ; b = (b + 1) & mask) {
      const idx = this.buckets[b] as number;
      if (idx === 0) return -1;
      if (this.lengths[idx] === len && this.sameBytes(idx, p, off, len)) return idx;
    }
  }

  private sameBytes(idx: number, p: Uint8Array, off: number, len: number): boolean {
    const bytes = this.bytes;
    const start = this.starts[idx] as number;
    for (let i = 0; i < len; i++) if (bytes[start + i] !== p[off + i]) return false;
    return true;
  }

  private add(name: string, p: Uint8Array, off: number, len: number, h: number): number {
    const idx = this.names.length;
    if (this.used + len > this.bytes.length) this.bytes = grown(this.bytes, new Uint8Array(Math.max(this.bytes.length * 2, this.used + len)));
    this.bytes.set(p.subarray(off, off + len), this.used);
    this.names.push(name);
    this.starts.push(this.used);
    this.lengths.push(len);
    this.used += len;
    this.byName.set(name, idx);
    if (idx * 2 > this.buckets.length) this.rehash(this.buckets.length * 2);
    else this.place(idx, h);
    return idx;
  }

  private place(idx: number, h: number): void {
    const mask = this.buckets.length - 1;
    let b = h & mask;
    while (this.buckets[b] !== 0) b = (b + 1) & mask;
    this.buckets[b] = idx;
  }

  private rehash(size: number): void {
    this.buckets = new Int32Array(size);
    for (let idx = 1; idx < this.names.length; idx++) {
      this.place(idx, hashBytes(this.bytes, this.starts[idx] as number, this.lengths[idx] as number));
    }
  }
}

/** Recently seen block hashes looked up before a new one is added (the votes of a round mostly share a few). */
const RECENT_HASHES = 4;

/**
 * Block hashes, 32 bytes each, back to back. A hash equal to one of the last few added is not
 * stored again, so the votes of a round for the same block share one copy; the pool holds at
 * most one hash per vote.
 */
class BlockHashes {
  pool = new Uint8Array(BLOCK_HASH_BYTES * 256);
  private count = 0;
  private readonly recent = new Int32Array(RECENT_HASHES).fill(-1);
  private next = 0;

  /** The index of the hash at `p[off, off + 32)`. */
  intern(p: Uint8Array, off: number): number {
    for (let k = 0; k < RECENT_HASHES; k++) {
      const id = this.recent[k] as number;
      if (id >= 0 && this.equals(id, p, off)) return id;
    }
    if ((this.count + 1) * BLOCK_HASH_BYTES > this.pool.length) this.pool = grown(this.pool, new Uint8Array(this.pool.length * 2));
    const id = this.count++;
    const pool = this.pool;
    const at = id * BLOCK_HASH_BYTES;
    for (let i = 0; i < BLOCK_HASH_BYTES; i++) pool[at + i] = p[off + i] as number;
    this.recent[this.next] = id;
    this.next = (this.next + 1) % RECENT_HASHES;
    return id;
  }

  /** True when hash `id` equals `p[off, off + 32)`. */
  equals(id: number, p: Uint8Array, off: number): boolean {
    const pool = this.pool;
    const at = id * BLOCK_HASH_BYTES;
    for (let i = 0; i < BLOCK_HASH_BYTES; i++) if (pool[at + i] !== p[off + i]) return false;
    return true;
  }

  /** A copy of hash `id`. */
  copy(id: number): Uint8Array {
    return this.pool.slice(id * BLOCK_HASH_BYTES, (id + 1) * BLOCK_HASH_BYTES);
  }
}

/** Farthest from the end that a `SlotIndex` list takes an insert (a memmove of that many slots); farther converts it to a B+tree. */
const MAX_TAIL_INSERT = 4096;

/**
 * An ordered set of slots under a comparator that reads the columns: while inserts arrive in
 * order, or near the end (the replay and live cases: votes come in LSN, round and height
 * order, shuffled only within the latest round), a sorted Int32Array, 4 bytes a vote and an
 * append each; the first insert farther than `maxTailInsert` from the end turns it into a
 * B+tree (O(n) once), which then takes any order in O(log n). Range bounds are slots too (the
 * probes). Every range is collected at once, never iterated across an await.
 * @internal exported for tests.
 */
export class SlotIndex {
  private list: Int32Array | null = new Int32Array(16);
  private length = 0;
  private tree: BTree<number, number> | null = null;

  /**
   * @param compare - total order on slots (and probe slots).
   * @param maxTailInsert - farthest insert from the end the list takes (default 4,096).
   */
  constructor(
    private readonly compare: (a: number, b: number) => number,
    private readonly maxTailInsert = MAX_TAIL_INSERT,
  ) {}

  get size(): number {
    return this.tree === null ? this.length : this.tree.size;
  }

  /** True once an out-of-order insert turned the list into a B+tree. */
  get isTree(): boolean {
    return this.tree !== null;
  }

  /** Adds `slot` (not present yet). */
  insert(slot: number): void {
    const tree = this.tree;
    if (tree !== null) {
      if (!tree.append(slot, slot)) tree.set(slot, slot);
      return;
    }
    let list = this.list as Int32Array;
    const n = this.length;
    let i = n;
    if (n > 0 && this.compare(list[n - 1]!, slot) > 0) {
      i = this.lowerBound(slot);
      if (n - i > this.maxTailInsert) {
        this.toTree().set(slot, slot);
        return;
      }
    }
    if (n === list.length) {
      const grownList = new Int32Array(n * 2);
      grownList.set(list);
      list = this.list = grownList;
    }
    if (i < n) list.copyWithin(i + 1, i, n);
    list[i] = slot;
    this.length = n + 1;
  }

  /** The slots from `lo` (inclusive) to `hi` (exclusive), at most `limit` of those `keep` accepts. */
  collect(lo: number, hi: number, limit: number, keep: ((slot: number) => boolean) | undefined): number[] {
    const out: number[] = [];
    if (limit <= 0) return out;
    if (this.tree !== null) {
      const it = this.tree.keys(lo, hi);
      for (let r = it.next(); r.done !== true; r = it.next()) {
        if (keep !== undefined && !keep(r.value)) continue;
        out.push(r.value);
        if (out.length >= limit) break;
      }
      return out;
    }
    const list = this.list as Int32Array;
    for (let i = this.lowerBound(lo); i < this.length; i++) {
      const slot = list[i]!;
      if (this.compare(slot, hi) >= 0) break;
      if (keep !== undefined && !keep(slot)) continue;
      out.push(slot);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** The last `limit` slots, largest first. */
  collectLast(limit: number): number[] {
    const out: number[] = [];
    if (limit <= 0) return out;
    if (this.tree !== null) {
      const it = this.tree.keysReversed();
      for (let r = it.next(); r.done !== true && out.length < limit; r = it.next()) out.push(r.value);
      return out;
    }
    const list = this.list as Int32Array;
    for (let i = this.length - 1; i >= 0 && out.length < limit; i--) out.push(list[i]!);
    return out;
  }

  /** How many slots lie in [lo, hi). */
  count(lo: number, hi: number): number {
    if (this.tree !== null) return this.tree.countRange(lo, hi);
    const a = this.lowerBound(lo);
    const b = this.lowerBound(hi);
    return b > a ? b - a : 0;
  }

  /** The smallest slot at or above `lo` (the smallest of all without `lo`), or undefined. */
  first(lo?: number): number | undefined {
    if (this.tree !== null) {
      const r = this.tree.keys(lo).next();
      return r.done === true ? undefined : r.value;
    }
    const i = lo === undefined ? 0 : this.lowerBound(lo);
    return i < this.length ? (this.list as Int32Array)[i] : undefined;
  }

  /** First list index whose slot is >= `key`. */
  private lowerBound(key: number): number {
    const list = this.list as Int32Array;
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compare(list[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private toTree(): BTree<number, number> {
    const tree = new BTree<number, number>(this.compare);
    const list = this.list as Int32Array;
    for (let i = 0; i < this.length; i++) tree.append(list[i]!, list[i]!);
    this.tree = tree;
    this.list = null;
    this.length = 0;
    return tree;
  }
}

/** Same height and block hash (the identity of a vote within its slot, DESIGN 5.2). */
function sameBlock(a: ValidatorVote, b: ValidatorVote): boolean {
  if (a.height !== b.height) return false;
  if (a.blockHash === null || b.blockHash === null) return a.blockHash === b.blockHash;
  if (a.blockHash.length !== b.blockHash.length) return false;
  for (let i = 0; i < a.blockHash.length; i++) if (a.blockHash[i] !== b.blockHash[i]) return false;
  return true;
}

function compareLsn(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
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
 * interface) and `RecordApplier` (kinds Vote and Finalized). Votes live in columns (see
 * `VoteColumns`); each query builds fresh entries from them.
 */
export class VoteStore implements VoteStoreApi, RecordApplier {
  /** Record kinds this store owns. */
  readonly kinds: readonly number[] = [RecordKind.Vote, RecordKind.Finalized];
  /** The limits in force. */
  readonly limits: VoteStoreLimits;

  private readonly ctx: StoreContext;
  private readonly verification: VoteVerification | undefined;
  private readonly cols: VoteColumns;
  private readonly ids = new ValidatorIds();
  private readonly hashes = new BlockHashes();
  /** Slots by (round, type, validator id, LSN). */
  private readonly byRound: SlotIndex;
  /**
   * Per validator index, its slots by (round, type, LSN): one tree each, so that a validator's
   * votes, arriving in round order, are appends.
   */
  private readonly byValidator: (SlotIndex | undefined)[] = [];
  private readonly compareInValidator: (a: number, b: number) => number;
  /** Slots by (height, LSN). */
  private readonly byHeight: SlotIndex;
  /** Slots by LSN. */
  private readonly byLsn: SlotIndex;
  /** Reused by `apply` (replay decodes in place). */
  private readonly fields: VoteRecordFields = newVoteRecordFields();
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
    const expected = ctx.log.openReport?.recordsScanned;
    const c = (this.cols = new VoteColumns(typeof expected === 'number' && Number.isSafeInteger(expected) ? expected + FIRST_SLOT : 0));
    const names = this.ids.names;
    this.byRound = new SlotIndex((a, b) => {
      const d = c.round[a]! - c.round[b]! || c.type[a]! - c.type[b]!;
      if (d !== 0) return d;
      const va = c.validator[a]!;
      const vb = c.validator[b]!;
      if (va !== vb) return names[va]! < names[vb]! ? -1 : 1;
      return compareLsn(c.lsn[a]!, c.lsn[b]!);
    });
    this.compareInValidator = (a, b) => {
      const d = c.round[a]! - c.round[b]! || c.type[a]! - c.type[b]!;
      return d !== 0 ? d : compareLsn(c.lsn[a]!, c.lsn[b]!);
    };
    this.byHeight = new SlotIndex((a, b) => compareLsn(c.height[a]!, c.height[b]!) || compareLsn(c.lsn[a]!, c.lsn[b]!));
    this.byLsn = new SlotIndex((a, b) => compareLsn(c.lsn[a]!, c.lsn[b]!));
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
    return this.entries(this.roundRange(this.byRound, NO_VALIDATOR, r, TYPE_BELOW, r, TYPE_ABOVE, limit, undefined));
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
    const v = this.ids.lookup(id);
    if (v < 0) return [];
    return this.entries(this.roundRange(this.byValidator[v], v, from, TYPE_BELOW, to, TYPE_ABOVE, limit, undefined));
  }

  /**
   * The most recently recorded votes, newest (highest LSN) first, at most `limit`
   * (default `defaultQueryLimit`).
   * @throws INVALID_ARGUMENT, CLOSED.
   */
  async getRecentVotes(limit?: number): Promise<VoteLogEntry[]> {
    this.checkOpen();
    const n = this.limit('limit', limit, this.limits.defaultQueryLimit, this.limits.maxQueryLimit);
    return this.entries(this.byLsn.collectLast(n));
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
    const code = type === undefined ? 0 : voteTypeCode(type);
    const c = this.cols;
    const match = (slot: number): boolean => {
      const h = c.height[slot]!;
      return h >= start && h <= end && (code === 0 || c.type[slot] === code);
    };
    if (validatorId === undefined && round === undefined) {
      const lo = this.probe(PROBE_LO, 0, TYPE_BELOW, NO_VALIDATOR, start, -1);
      const hi = this.probe(PROBE_HI, 0, TYPE_BELOW, NO_VALIDATOR, end, Infinity);
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
    const lo = this.probe(PROBE_LO, r, code === 0 ? TYPE_BELOW : code, NO_VALIDATOR, 0, -1);
    const hi = this.probe(PROBE_HI, r, code === 0 ? TYPE_ABOVE : code + 1, NO_VALIDATOR, 0, -1);
    return this.byRound.count(lo, hi);
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
    return v >= 0 && this.roundRange(this.byValidator[v], v, r, code, r, code + 1, 1, undefined).length > 0;
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
    const c = this.cols;
    if (f === null) {
      const first = this.byRound.first();
      return first === undefined ? null : c.round[first]!;
    }
    const inRound = this.roundRange(this.byRound, NO_VALIDATOR, f.round, TYPE_BELOW, f.round, TYPE_ABOVE, Infinity, undefined);
    for (const slot of inRound) if (c.height[slot]! > f.height) return f.round;
    const next = this.byRound.first(this.probe(PROBE_LO, f.round, TYPE_ABOVE, NO_VALIDATOR, 0, -1));
    return next === undefined ? null : c.round[next]!;
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

  /**
   * Folds one durable Vote or Finalized record into the indexes (replay). Throws CORRUPTION on a
   * bad payload (and then changes nothing). Decodes in place: no object per vote.
   */
  apply(record: LogRecord): void {
    if (record.kind === RecordKind.Vote) {
      const f = this.fields;
      readVoteRecord(record, f);
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
    const key = `${v.round * 4 + voteTypeCode(v.voteType)}\u0000${v.validatorId}`;
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
    const code = voteTypeCode(v.voteType);
    const validator = this.ids.lookup(v.validatorId);
    const existing = validator < 0 ? [] : this.roundRange(this.byValidator[validator], validator, v.round, code, v.round, code + 1, Infinity, undefined);
    const twin = existing.find((slot) => this.sameBlockAt(slot, v));
    if (twin !== undefined) return { ...this.entry(twin), outcome: 'duplicate', conflictsWith: [] };
    const conflictsWith = this.entries(existing);
    const outcome = existing.length === 0 ? 'stored' : 'equivocation';
    const recordedAt = this.recordedAt();
    const extension = this.batchHook?.({ vote: v, outcome, conflictsWith, recordedAt });
    const extra: readonly RecordInput[] = extension?.records ?? [];
    const lsns = await this.ctx.log.append([{ kind: RecordKind.Vote, payload: encodeVoteRecord(v, recordedAt) }, ...extra]);
    const slot = this.index(v, lsns[0] as Lsn, recordedAt);
    extension?.onDurable?.(extra.map((r, i) => ({ lsn: lsns[i + 1] as Lsn, kind: r.kind, payload: r.payload })));
    return { ...this.entry(slot), outcome, conflictsWith };
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

  /** Writes a range bound into probe slot `slot`. */
  private probe(slot: number, round: number, type: number, validator: number, height: number, lsn: number): number {
    const c = this.cols;
    c.round[slot] = round;
    c.type[slot] = type;
    c.validator[slot] = validator;
    c.height[slot] = height;
    c.lsn[slot] = lsn;
    return slot;
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
    const lo = this.probe(PROBE_LO, fromRound, fromType, validator, 0, -1);
    const hi = this.probe(PROBE_HI, toRound, toType, validator, 0, -1);
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
