/**
 * LogRewardHistory: what every validator was paid, per height, with the treasury before and after
 * (docs/evidence-and-rewards.md). Totals and statements are exact bigint sums; statements export for tax
 * reporting (reward-statement.ts).
 *
 * Indexes (B+trees, rebuilt from the log on open): distributions by height, by (reason, height)
 * and by (timestamp, height); rewards by (validator, height, line). A cumulative-total table
 * (heights ascending with running sums) is extended on in-order appends and rebuilt lazily after
 * an out-of-order one. Writes are serialized: one distribution per height, checked against the
 * index in the write queue, folded in only once the log reports it durable.
 *
 * Image section (tag 8): u32 version, i64 last applied LSN, u32 count, then each distribution
 * in height order: i64 LSN and its record's payload (recordedAt included). The indexes and the
 * cumulative table are rebuilt from them as on replay. Once a cut was set, a trailer follows:
 * the cold part's cut and aggregates (reward-cold.ts); an image without one has nothing cold.
 *
 * Bounded history (docs/stores.md, "Bounded history"): distributions below the cold cut move to
 * the cold tier; replay and image load skip them into exact aggregates (overall and per
 * validator), so `size`, totals over every height and cumulative totals at or above the cold
 * heights never read the tier. Queries whose range reaches the cold heights (or times) read it
 * and merge in the query's order and limit.
 *
 * This module must never write for a call that fails its checks, never pass an amount through
 * `number`, and never hold two different distributions for one height.
 */
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import { checkDistribution, MAX_REWARD_TIMESTAMP, REWARD_REASONS, sameDistribution } from '../model/reward.ts';
import {
  decodeDistributionRecord,
  encodeDistributionRecord,
  REWARD_RECORD_KINDS,
  rewardReasonCode,
} from '../codec/reward-record.ts';
import { checkValidatorId } from '../model/vote.ts';
import { BTree } from '../btree/btree.ts';
import { compareNumbers, compareStrings, tupleComparator } from '../btree/keys.ts';
import type { LogRecord, Lsn } from '../log/types.ts';
import { checkInteger, checkOneOf, checkSafeUint, MAX_SAFE } from '../model/check.ts';
import {
  assertOpen,
  checkQuery,
  parseHeightRange,
  parseLimit,
  readClock,
  SerialQueue,
  takePage,
  type ImageSection,
  type RecordApplier,
  type StoreContext,
} from './context.ts';
import type { ImageReader, ImageWriter } from '../codec/image-section.ts';
import { readCount, readSectionVersion, readUint, writeSectionVersion } from './image-common.ts';
import { RecordKind } from '../codec/kinds.ts';
import type { QueryPage } from './query-types.ts';
import { RewardStatement } from './reward-statement.ts';
import {
  DEFAULT_DISTRIBUTION_QUERY_LIMIT,
  DEFAULT_STATEMENT_ENTRIES,
  MAX_DISTRIBUTION_QUERY_LIMIT,
  MAX_STATEMENT_ENTRIES,
} from './reward-types.ts';
import type {
  DistributionQuery,
  RewardExportQuery,
  RewardHistory,
  StoredDistribution,
  ValidatorRewards,
  ValidatorRewardsQuery,
} from './reward-types.ts';
import type { RewardDistribution, RewardEntry, RewardReason, StatementPeriod } from '../model/reward.ts';
import type { ColdCut, ColdKeys, ColdParticipant, ColdRecord, ColdTier } from '../cold/types.ts';
import { isColdByHeight } from '../cold/types.ts';
import { checkCapture, checkEvict, mergeOrdered, stableUnderEviction, takePageAsync } from './round-cold.ts';
import { produceDistributions, REWARD_COLD_KINDS, REWARD_TRAILER_MIN_BYTES, RewardColdPart, rewardColdKeys } from './reward-cold.ts';

/** (validator, height, line index); a shorter tuple is a range bound. */
type ValidatorKey = readonly [string, number, number?];
/** (reason code or timestamp, height). */
type PairKey = readonly [number, number?];

function copyDistribution(d: StoredDistribution): StoredDistribution {
  return { ...d, lines: d.lines.map((l) => ({ ...l })) };
}

function entriesOf(d: RewardDistribution, filter?: (e: RewardEntry) => boolean): RewardEntry[] {
  const out: RewardEntry[] = [];
  for (const l of d.lines) {
    const e = { height: d.height, timestamp: d.timestamp, ...l };
    if (filter === undefined || filter(e)) out.push(e);
  }
  return out;
}

/** Height order of distributions (a height holds one, in either tier). */
function byHeightOrder(a: StoredDistribution, b: StoredDistribution): number {
  return a.height - b.height;
}

/** (timestamp, height) order of distributions. */
function byTimeOrder(a: StoredDistribution, b: StoredDistribution): number {
  return a.timestamp - b.timestamp || a.height - b.height;
}

function checkDate(name: string, value: unknown): number {
  const ms = value instanceof Date ? value.getTime() : value;
  return checkInteger(name, ms, 0, MAX_REWARD_TIMESTAMP);
}

/** The default and largest `limit` of `getValidatorRewards`, `maxEntries` of `exportRewards`. */
const STATEMENT_LIMITS = { defaultLimit: DEFAULT_STATEMENT_ENTRIES, maxLimit: MAX_STATEMENT_ENTRIES };
/** The keys of each query. */
const REWARDS_QUERY_KEYS: readonly string[] = ['startHeight', 'endHeight', 'limit'];
const DISTRIBUTION_QUERY_KEYS: readonly string[] = ['startHeight', 'endHeight', 'validatorId', 'reason', 'limit'];
const EXPORT_QUERY_KEYS: readonly string[] = ['validatorId', 'startHeight', 'endHeight', 'startDate', 'endDate', 'maxEntries'];

function tooMany(maxEntries: number): ConsensusStoreError {
  return new ConsensusStoreError('INVALID_ARGUMENT', `query.maxEntries the period holds more than ${maxEntries} rewards: narrow it`, {
    details: { argument: 'query.maxEntries', maxEntries },
  });
}

/**
 * Reward distributions per height (the specification's LogRewardHistory).
 *
 * Errors: INVALID_ARGUMENT for malformed arguments, a distribution whose treasury or lines do
 * not add up, or an export period holding more than `maxEntries` rewards; CONFLICT for a second,
 * different distribution at a height. None of them writes anything.
 */
export class LogRewardHistory implements RecordApplier, RewardHistory, ImageSection, ColdParticipant {
  /** The record kinds this store owns. */
  readonly kinds: readonly number[] = REWARD_RECORD_KINDS;
  /** The kinds it moves to the cold tier (by height). */
  readonly coldKinds: readonly number[] = REWARD_COLD_KINDS;
  /** Its section's tag in the local state image. */
  readonly imageTag = 8;
  /** The highest LSN folded in (a distribution with a higher id came after a capture). */
  #lastLsn = 0;

  readonly #ctx: StoreContext;
  readonly #byHeight = new BTree<number, StoredDistribution>(compareNumbers);
  readonly #byValidator = new BTree<ValidatorKey, RewardEntry>(tupleComparator(compareStrings, compareNumbers, compareNumbers));
  readonly #byReason = new BTree<PairKey, StoredDistribution>(tupleComparator(compareNumbers, compareNumbers));
  readonly #byTime = new BTree<PairKey, StoredDistribution>(tupleComparator(compareNumbers, compareNumbers));
  /** Heights ascending with the running total up to each; undefined until needed after an out-of-order insert. */
  #cumulative: { heights: number[]; sums: bigint[] } | undefined = { heights: [], sums: [] };
  /** The write queue: one distribution per height, checked against every earlier write. */
  readonly #writes = new SerialQueue();
  /** The distributions below the cut: cut, tier and aggregates. */
  readonly #cold = new RewardColdPart();

  /** @param ctx - the shared log and clock. */
  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Number of distributions held (in both tiers). */
  get size(): number {
    return this.#byHeight.size + this.#cold.count;
  }

  /**
   * Records one height's distribution once durable. The same distribution again (every field
   * equal, lines in order) writes nothing and resolves with the stored one. Rejects
   * INVALID_ARGUMENT (malformed; `treasuryBefore - totalDistributed !== treasuryAfter`; lines
   * not summing to `totalDistributed`; an amount negative or above 2^128-1; more than
   * MAX_REWARD_LINES lines), CONFLICT (another distribution at that height), the log's errors.
   */
  recordDistribution(distribution: RewardDistribution): Promise<StoredDistribution> {
    let d: RewardDistribution;
    try {
      assertOpen(this.#ctx);
      d = checkDistribution('distribution', distribution);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#writes.run(async () => {
      assertOpen(this.#ctx);
      let existing = this.#byHeight.get(d.height);
      if (existing === undefined && this.#cold.mayHold(d.height, d.height, undefined, undefined)) existing = await this.#cold.at(d.height);
      if (existing !== undefined) {
        if (sameDistribution(existing, d)) return copyDistribution(existing);
        throw new ConsensusStoreError('CONFLICT', `height ${d.height} already has a different distribution`, {
          details: { height: d.height, id: existing.id },
        });
      }
      const input = encodeDistributionRecord(d, readClock(this.#ctx));
      const [lsn] = await this.#ctx.log.append([input]);
      if (lsn === undefined) throw new ConsensusStoreError('CORRUPTION', 'log append resolved without an LSN');
      this.apply({ lsn, kind: input.kind, payload: input.payload });
      return copyDistribution(this.#byHeight.get(d.height) as StoredDistribution);
    });
  }

  /**
   * A validator's rewards with `startHeight <= height <= endHeight` (absent ends: every
   * height): exact totals (overall and per reason) over the whole range, and the rewards
   * themselves in (height, line) order up to `limit` (default 100,000, at most 1,000,000;
   * `truncated` says when the list stopped, the totals never do). Rejects INVALID_ARGUMENT (a
   * malformed id or query, an unknown query key, a limit above the maximum,
   * `startHeight > endHeight`).
   */
  async getValidatorRewards(validatorId: string, query: ValidatorRewardsQuery = {}): Promise<ValidatorRewards> {
    assertOpen(this.#ctx);
    const id = checkValidatorId('validatorId', validatorId);
    const q = checkQuery('query', query, REWARDS_QUERY_KEYS);
    const { startHeight, endHeight } = parseHeightRange('query', q);
    const limit = parseLimit('query.limit', q['limit'], STATEMENT_LIMITS);
    return stableUnderEviction(this.#cold, () => this.#validatorRewards(id, startHeight, endHeight, limit));
  }

  async #validatorRewards(id: string, startHeight: number, endHeight: number, limit: number): Promise<ValidatorRewards> {
    const byReason: Record<RewardReason, bigint> = { BlockProposal: 0n, SuccessfulVote: 0n, ValidatorStaking: 0n, StorageProof: 0n };
    let total = 0n;
    let count = 0;
    const entries: RewardEntry[] = [];
    const cold = this.#cold.validators.get(id);
    const withCold = cold !== undefined && this.#cold.mayHold(startHeight, endHeight, id, undefined);
    // The cold totals come from the aggregate when the range covers every cold height of the
    // validator; the list then reads only as far as its limit.
    const fromAggregate = withCold && startHeight <= cold.heights.min && endHeight >= cold.heights.max;
    if (!withCold || fromAggregate) {
      for (const e of this.#byValidator.values([id, startHeight], [id, endHeight + 1])) {
        total += e.amount;
        byReason[e.reason] += e.amount;
        count++;
        if (!withCold && entries.length < limit) entries.push({ ...e });
      }
    }
    if (fromAggregate) {
      total += cold.total;
      for (const r of REWARD_REASONS) byReason[r] += cold.byReason[r];
      count += cold.count;
    }
    if (withCold) {
      const mine = (e: RewardEntry): boolean => e.validatorId === id;
      for await (const d of this.#merged(startHeight, endHeight, id, undefined)) {
        for (const e of entriesOf(d, mine)) {
          if (!fromAggregate) {
            total += e.amount;
            byReason[e.reason] += e.amount;
            count++;
          }
          if (entries.length < limit) entries.push(e);
        }
        if (fromAggregate && entries.length >= limit) break;
      }
    }
    return { validatorId: id, startHeight, endHeight, total, byReason, count, entries, truncated: count > entries.length };
  }

  /**
   * The distributions of both tiers with a height in the range and a matching line, in height
   * order; hot ones below every cold height that may match are yielded before any cold read.
   */
  #merged(startHeight: number, endHeight: number, validatorId: string | undefined, reason: RewardReason | undefined): AsyncGenerator<StoredDistribution> {
    return mergeOrdered(
      this.#cold.inHeights(startHeight, endHeight, validatorId, reason),
      this.#distributions(startHeight, endHeight, validatorId, reason),
      byHeightOrder,
      (d) => !this.#cold.mayHold(startHeight, d.height, validatorId, reason),
    );
  }

  /** The total distributed at exactly `height` (0n when no distribution is recorded there). Rejects INVALID_ARGUMENT. */
  async getTotalDistributed(height: number): Promise<bigint> {
    assertOpen(this.#ctx);
    const h = checkSafeUint('height', height);
    const hot = this.#byHeight.get(h);
    if (hot !== undefined || !this.#cold.mayHold(h, h, undefined, undefined)) return hot?.totalDistributed ?? 0n;
    return (await this.#cold.at(h))?.totalDistributed ?? 0n;
  }

  /**
   * The total distributed at every height up to and including `height`. O(log n) (after an
   * out-of-order insert, one O(n) rebuild), plus the cold aggregate; a height inside the cold
   * heights reads the smaller side of the cold tier (reward-cold.ts). Rejects INVALID_ARGUMENT.
   */
  async getCumulativeDistributed(height: number): Promise<bigint> {
    assertOpen(this.#ctx);
    const h = checkSafeUint('height', height);
    return stableUnderEviction(this.#cold, async () => this.#hotCumulative(h) + (await this.#cold.totalUpTo(h)));
  }

  /** The hot part of the cumulative total up to `h`: a binary search of the table. */
  #hotCumulative(h: number): bigint {
    const table = this.#cumulativeTable();
    let lo = 0;
    let hi = table.heights.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((table.heights[mid] as number) <= h) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0n : (table.sums[lo - 1] as bigint);
  }

  /**
   * Distributions matching `query` (see DistributionQuery), in height order, at most `limit`
   * (default 1,000, at most 10,000); `truncated` says when more matched. Rejects
   * INVALID_ARGUMENT (malformed, an unknown key, a limit above the maximum,
   * `startHeight > endHeight`).
   */
  async queryDistributions(query: DistributionQuery = {}): Promise<QueryPage<StoredDistribution>> {
    assertOpen(this.#ctx);
    const q = checkQuery('query', query, DISTRIBUTION_QUERY_KEYS);
    const { startHeight, endHeight } = parseHeightRange('query', q);
    const validatorId = q['validatorId'] === undefined ? undefined : checkValidatorId('query.validatorId', q['validatorId']);
    const reason = q['reason'] === undefined ? undefined : checkOneOf('query.reason', q['reason'], REWARD_REASONS);
    const limit = parseLimit('query.limit', q['limit'], { defaultLimit: DEFAULT_DISTRIBUTION_QUERY_LIMIT, maxLimit: MAX_DISTRIBUTION_QUERY_LIMIT });
    if (!this.#cold.mayHold(startHeight, endHeight, validatorId, reason)) {
      return takePage(this.#distributions(startHeight, endHeight, validatorId, reason), limit, copyDistribution);
    }
    return stableUnderEviction(this.#cold, () => takePageAsync(this.#merged(startHeight, endHeight, validatorId, reason), limit, copyDistribution));
  }

  /** The distributions in height order with a height in the range and, when given, a line of `validatorId` and/or `reason`. */
  *#distributions(startHeight: number, endHeight: number, validatorId: string | undefined, reason: RewardReason | undefined): Generator<StoredDistribution> {
    if (validatorId !== undefined) {
      let last = -1;
      for (const e of this.#byValidator.values([validatorId, startHeight], [validatorId, endHeight + 1])) {
        if (e.height === last || (reason !== undefined && e.reason !== reason)) continue;
        last = e.height;
        yield this.#byHeight.get(e.height) as StoredDistribution;
      }
      return;
    }
    yield* reason === undefined
      ? this.#byHeight.values(startHeight, endHeight, { hiInclusive: true })
      : this.#byReason.values([rewardReasonCode(reason), startHeight], [rewardReasonCode(reason), endHeight + 1]);
  }

  /**
   * A statement of the rewards in a period, optionally of one validator, with exact totals per
   * reason; `toCSV()` and `toJSON()` export it. By heights (`startHeight`, `endHeight`,
   * inclusive), entries are in (height, line) order; by dates (`startDate` inclusive, `endDate`
   * exclusive), in (timestamp, height, line) order. Never cut short. Rejects INVALID_ARGUMENT
   * (malformed, an unknown key, heights and dates mixed, a start after its end, a period holding
   * more than `maxEntries` rewards).
   */
  async exportRewards(query: RewardExportQuery = {}): Promise<RewardStatement> {
    assertOpen(this.#ctx);
    const q = checkQuery('query', query, EXPORT_QUERY_KEYS);
    const validatorId = q['validatorId'] === undefined ? undefined : checkValidatorId('query.validatorId', q['validatorId']);
    const maxEntries = parseLimit('query.maxEntries', q['maxEntries'], STATEMENT_LIMITS);
    const byHeights = q['startHeight'] !== undefined || q['endHeight'] !== undefined;
    const byDates = q['startDate'] !== undefined || q['endDate'] !== undefined;
    if (byHeights && byDates) throw invalidArgument('query', 'must give heights or dates, not both');
    let period: StatementPeriod = { kind: 'all' };
    if (byHeights) {
      const { startHeight, endHeight } = parseHeightRange('query', q);
      // The statement's own period (its JSON and CSV format) keeps its names.
      period = { kind: 'heights', fromHeight: startHeight, toHeight: endHeight };
    } else if (byDates) {
      const startDate = q['startDate'] === undefined ? 0 : checkDate('query.startDate', q['startDate']);
      const endDate = q['endDate'] === undefined ? MAX_REWARD_TIMESTAMP : checkDate('query.endDate', q['endDate']);
      if (startDate > endDate) throw invalidArgument('query.startDate', 'must not be after query.endDate');
      period = { kind: 'dates', fromDate: startDate, toDate: endDate };
    }
    const entries = await stableUnderEviction(this.#cold, () => this.#statementEntries(period, validatorId, maxEntries));
    return new RewardStatement({ validatorId, period, generatedAt: readClock(this.#ctx), entries });
  }

  /**
   * Folds one durable distribution record (replay, or this store's own append). A record for a
   * height that already holds the same distribution is ignored. Throws CORRUPTION when the
   * payload does not decode or a height would hold two different distributions.
   */
  apply(record: LogRecord): void {
    const { distribution: d, recordedAt } = decodeDistributionRecord(record.payload, record.lsn);
    if (record.lsn > this.#lastLsn) this.#lastLsn = record.lsn;
    // Cold under the cut: the tier holds it, the aggregates count it.
    if (this.#cold.isCold(record.lsn, d.height)) {
      this.#cold.add(d);
      return;
    }
    const existing = this.#byHeight.get(d.height);
    if (existing !== undefined) {
      if (sameDistribution(existing, d)) return;
      throw new ConsensusStoreError('CORRUPTION', `reward record at LSN ${record.lsn}: height ${d.height} already has another distribution`, {
        details: { lsn: record.lsn, height: d.height },
      });
    }
    this.#index({ ...d, id: record.lsn as Lsn, recordedAt });
  }

  /** Adds one distribution to every index and the cumulative table. */
  #index(stored: StoredDistribution): void {
    const d = stored;
    this.#byHeight.set(d.height, stored);
    this.#byTime.set([d.timestamp, d.height], stored);
    const reasons = new Set<number>();
    d.lines.forEach((l, i) => {
      this.#byValidator.set([l.validatorId, d.height, i], { height: d.height, timestamp: d.timestamp, ...l });
      reasons.add(rewardReasonCode(l.reason));
    });
    for (const code of reasons) this.#byReason.set([code, d.height], stored);
    this.#extendCumulative(d.height, d.totalDistributed);
  }

  /**
   * Captures the distributions (module comment) and the cold aggregates. A compaction may drop
   * held distributions before the section is written, so the list is copied now.
   */
  captureImage(): (w: ImageWriter) => void {
    const lastLsn = this.#lastLsn;
    const held = [...this.#byHeight.values()];
    const cold = this.#cold.blank ? undefined : this.#cold.copy();
    return (w) => {
      const kept = held.filter((d) => d.id <= lastLsn);
      writeSectionVersion(w);
      w.i64(lastLsn).u32(kept.length);
      for (const d of kept) w.i64(d.id).bytes(encodeDistributionRecord(d, d.recordedAt).payload);
      cold?.write(w);
    };
  }

  /** Loads the section into this fresh store. @throws Error or CORRUPTION on malformed bytes. */
  loadImage(r: ImageReader): void {
    readSectionVersion(r, 'reward history');
    const lastLsn = readUint(r, 'last applied LSN');
    const count = readCount(r, 12, 'distributions');
    for (let i = 0; i < count; i++) {
      const lsn = readUint(r, 'distribution LSN');
      const payload = r.bytes(r.remaining);
      if (lsn < 1 || lsn > lastLsn) throw new Error(`reward image: distribution ${i} has LSN ${lsn} outside 1..${lastLsn}`);
      this.apply({ lsn: lsn as Lsn, kind: RecordKind.RewardDistribution, payload });
      // In strict height order, each one is new (hot, or cold and counted) and keeps the cumulative table.
      if (this.size !== i + 1 || this.#cumulative === undefined) throw new Error(`reward image: distribution ${i} is out of height order`);
    }
    if (r.remaining >= REWARD_TRAILER_MIN_BYTES) this.#cold.read(r);
    r.end();
    this.#lastLsn = lastLsn;
  }

  /** What the cold tier's block index records of a distribution. Throws INVALID_ARGUMENT (another kind), CORRUPTION (does not decode). */
  coldKeys(kind: number, payload: Uint8Array): ColdKeys {
    return rewardColdKeys(kind, payload);
  }

  /**
   * Fixes the held distributions cold under `next` and not under `previous` (the store's cut);
   * returns their producer (LSN order, payloads as the log's). Synchronous, no I/O. Throws
   * INVALID_ARGUMENT on a malformed cut, a `previous` that is not the store's cut, or a `next`
   * below it.
   */
  captureCold(previous: ColdCut, next: ColdCut): () => AsyncIterable<ColdRecord> {
    const cuts = checkCapture(this.#cold.cut, previous, next);
    const fixed: StoredDistribution[] = [];
    for (const d of this.#byHeight.values()) {
      if (isColdByHeight(cuts.next, d.id, d.height) && !isColdByHeight(cuts.previous, d.id, d.height)) fixed.push(d);
    }
    fixed.sort((a, b) => a.id - b.id);
    return produceDistributions(fixed);
  }

  /**
   * Drops the distributions cold under `cut` from every index into the cold aggregates, and
   * reads them from `tier` from now on. Synchronous. Throws INVALID_ARGUMENT on a malformed cut
   * or tier, or a cut below the store's.
   */
  evictCold(cut: ColdCut, tier: ColdTier): void {
    const checked = checkEvict(this.#cold.cut, cut, tier);
    const gone: StoredDistribution[] = [];
    const kept: StoredDistribution[] = [];
    for (const d of this.#byHeight.values()) (isColdByHeight(checked.cut, d.id, d.height) ? gone : kept).push(d);
    for (const d of gone) this.#cold.add(d);
    if (gone.length > kept.length) {
      // Most of the indexes go: rebuilding them from what stays is cheaper than deleting.
      for (const tree of [this.#byHeight, this.#byTime, this.#byValidator, this.#byReason]) tree.clear();
      this.#cumulative = { heights: [], sums: [] };
      for (const d of kept) this.#index(d);
    } else {
      for (const d of gone) {
        this.#byHeight.delete(d.height);
        this.#byTime.delete([d.timestamp, d.height]);
        const reasons = new Set<number>();
        d.lines.forEach((l, i) => {
          this.#byValidator.delete([l.validatorId, d.height, i]);
          reasons.add(rewardReasonCode(l.reason));
        });
        for (const code of reasons) this.#byReason.delete([code, d.height]);
      }
      if (gone.length > 0) this.#cumulative = undefined;
    }
    this.#cold.cut = checked.cut;
    this.#cold.tier = checked.tier;
    this.#cold.evictions++;
  }

  #extendCumulative(height: number, total: bigint): void {
    const table = this.#cumulative;
    if (table === undefined) return;
    const n = table.heights.length;
    if (n > 0 && (table.heights[n - 1] as number) >= height) {
      this.#cumulative = undefined;
      return;
    }
    table.heights.push(height);
    table.sums.push((n === 0 ? 0n : (table.sums[n - 1] as bigint)) + total);
  }

  #cumulativeTable(): { heights: number[]; sums: bigint[] } {
    if (this.#cumulative !== undefined) return this.#cumulative;
    const table = { heights: [] as number[], sums: [] as bigint[] };
    let sum = 0n;
    for (const d of this.#byHeight.values()) {
      sum += d.totalDistributed;
      table.heights.push(d.height);
      table.sums.push(sum);
    }
    this.#cumulative = table;
    return table;
  }

  async #statementEntries(period: StatementPeriod, validatorId: string | undefined, maxEntries: number): Promise<RewardEntry[]> {
    const out: RewardEntry[] = [];
    const push = (items: readonly RewardEntry[]): void => {
      if (out.length + items.length > maxEntries) throw tooMany(maxEntries);
      out.push(...items);
    };
    const mine = validatorId === undefined ? undefined : (e: RewardEntry): boolean => e.validatorId === validatorId;
    if (period.kind === 'dates') {
      const { fromDate, toDate } = period;
      const hot = this.#byTime.values([fromDate], [toDate]);
      if (!this.#cold.mayHoldTimes(fromDate, toDate, validatorId)) {
        for (const d of hot) push(entriesOf(d, mine));
        return out;
      }
      const mineOnly = validatorId === undefined ? hot : (function* only() { for (const d of hot) if (d.lines.some((l) => l.validatorId === validatorId)) yield d; })();
      const before = (d: StoredDistribution): boolean => !this.#cold.mayHoldTimes(fromDate, d.timestamp + 1, validatorId);
      for await (const d of mergeOrdered(this.#cold.inTimes(fromDate, toDate, validatorId), mineOnly, byTimeOrder, before)) push(entriesOf(d, mine));
      return out;
    }
    const from = period.kind === 'heights' ? period.fromHeight : 0;
    const to = period.kind === 'heights' ? period.toHeight : MAX_SAFE;
    if (this.#cold.mayHold(from, to, validatorId, undefined)) {
      for await (const d of this.#merged(from, to, validatorId, undefined)) push(entriesOf(d, mine));
      return out;
    }
    if (validatorId !== undefined) {
      for (const e of this.#byValidator.values([validatorId, from], [validatorId, to + 1])) push([{ ...e }]);
      return out;
    }
    for (const d of this.#byHeight.values(from, to, { hiInclusive: true })) push(entriesOf(d));
    return out;
  }
}
