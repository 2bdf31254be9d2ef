/**
 * The cold side of the reward history (docs/stores.md, "Bounded history"; docs/format.md, "Cold
 * files"): distributions below the cold cut live in the cold tier, and what the totals need of
 * them stays in memory as exact aggregates, bounded by the number of validators, not of heights:
 * overall (count, total, the spans of heights and timestamps, the span of heights per reason) and
 * per validator (count, total, totals per reason, the spans of its heights and timestamps).
 *
 * Queries whose range reaches the cold spans read the tier here, decode each record with the
 * reward codec, keep exactly the matching distributions and yield them in the query's order,
 * reading blocks lazily (round-cold.ts, coldInOrder). The aggregates go in the image section's
 * trailer.
 *
 * It must never: pass an amount through `number`, do I/O in a synchronous member, yield a
 * distribution outside the asked range, or hide a CORRUPTION from the tier.
 */
import type { ColdCut, ColdFilter, ColdKeys, ColdRecord, ColdTier } from '../cold/types.ts';
import { isColdByHeight, NO_CUT } from '../cold/types.ts';
import { RecordKind } from '../codec/kinds.ts';
import { decodeDistributionRecord, encodeDistributionRecord, rewardReasonCode } from '../codec/reward-record.ts';
import type { ImageReader, ImageWriter } from '../codec/image-section.ts';
import type { Lsn } from '../log/types.ts';
import { REWARD_REASONS } from '../model/reward.ts';
import type { RewardDistribution, RewardReason } from '../model/reward.ts';
import type { StoredDistribution } from './reward-types.ts';
import {
  checkColdKeysArgs,
  coldInOrder,
  coldKeysCorruption,
  cutAtOrBelow,
  EMPTY_TIER,
  emptySpan,
  overlaps,
  readSpan,
  widen,
  widenSpan,
  writeSpan,
  type ColdOrder,
  type Span,
} from './round-cold.ts';

/** The cold kinds of the reward history. */
export const REWARD_COLD_KINDS: readonly number[] = [RecordKind.RewardDistribution];

/** What the block index records of a distribution: its height, each validator it paid, its timestamp. */
export function rewardColdKeys(kind: unknown, payload: unknown): ColdKeys {
  const bytes = checkColdKeysArgs(REWARD_COLD_KINDS, kind, payload);
  let d: RewardDistribution;
  try {
    d = decodeDistributionRecord(bytes, 0 as Lsn).distribution;
  } catch (err) {
    throw coldKeysCorruption(RecordKind.RewardDistribution, err);
  }
  return { height: d.height, validators: [...new Set(d.lines.map((l) => l.validatorId))], time: d.timestamp };
}

/** The producer `captureCold` returns: the fixed distributions as cold records, in LSN order. */
export function produceDistributions(fixed: readonly StoredDistribution[]): () => AsyncIterable<ColdRecord> {
  return async function* produce() {
    for (const d of fixed) yield { kind: RecordKind.RewardDistribution, lsn: d.id, payload: encodeDistributionRecord(d, d.recordedAt).payload };
  };
}

/** The cold aggregate of one validator. */
export interface ValidatorCold {
  count: number;
  total: bigint;
  readonly byReason: Record<RewardReason, bigint>;
  readonly heights: Span;
  readonly times: Span;
}

function emptyValidator(): ValidatorCold {
  return { count: 0, total: 0n, byReason: { BlockProposal: 0n, SuccessfulVote: 0n, ValidatorStaking: 0n, StorageProof: 0n }, heights: emptySpan(), times: emptySpan() };
}

function addValidator(into: ValidatorCold, from: ValidatorCold): void {
  into.count += from.count;
  into.total += from.total;
  for (const r of REWARD_REASONS) into.byReason[r] += from.byReason[r];
  widenSpan(into.heights, from.heights);
  widenSpan(into.times, from.times);
}

/** Height order (heights are unique across both tiers). */
const BY_HEIGHT: ColdOrder<StoredDistribution> = {
  key: (d) => d.height,
  blockMin: (b) => b.minHeight,
  compare: (a, b) => a.height - b.height || a.id - b.id,
};

/** (timestamp, height) order: the statements by dates. */
const BY_TIME: ColdOrder<StoredDistribution> = {
  key: (d) => d.timestamp,
  blockMin: (b) => b.minTime,
  compare: (a, b) => a.timestamp - b.timestamp || a.height - b.height,
};

/** Version of the reward image trailer. */
const REWARD_TRAILER_VERSION = 1;
/** The fewest bytes a reward trailer takes (fewer left over are trailing bytes, refused as such). */
export const REWARD_TRAILER_MIN_BYTES = 4 + 8 + 8 + 8 + 6 + 6 * 1 + 4;
/** Longest validator id in the trailer (bytes). */
const MAX_ID_BYTES = 1024;

/** True when `d` has a line of `validatorId` (when given) with `reason` (when given). */
export function hasLine(d: RewardDistribution, validatorId: string | undefined, reason: RewardReason | undefined): boolean {
  if (validatorId === undefined && reason === undefined) return true;
  return d.lines.some((l) => (validatorId === undefined || l.validatorId === validatorId) && (reason === undefined || l.reason === reason));
}

/** The cold part of one reward history: cut, tier and the aggregates (module comment). */
export class RewardColdPart {
  cut: ColdCut = NO_CUT;
  tier: ColdTier = EMPTY_TIER;
  /** Distributions in the cold tier. */
  count = 0;
  /** Sum of their `totalDistributed`. */
  total = 0n;
  readonly heights: Span = emptySpan();
  readonly times: Span = emptySpan();
  /** Heights of the cold distributions with a line of each reason (by reason code). */
  readonly reasons: Span[] = REWARD_REASONS.map(() => emptySpan());
  readonly validators = new Map<string, ValidatorCold>();
  /** Evictions so far (a query that awaited the tier across one runs again: stableUnderEviction). */
  evictions = 0;

  /** True when a distribution at `height` with `lsn` is cold under the cut. */
  isCold(lsn: number, height: number): boolean {
    return isColdByHeight(this.cut, lsn, height);
  }

  /** Folds one distribution that went (or is) cold into the aggregates. */
  add(d: RewardDistribution): void {
    this.count++;
    this.total += d.totalDistributed;
    widen(this.heights, d.height);
    widen(this.times, d.timestamp);
    for (const l of d.lines) {
      widen(this.reasons[rewardReasonCode(l.reason)] as Span, d.height);
      let v = this.validators.get(l.validatorId);
      if (v === undefined) this.validators.set(l.validatorId, (v = emptyValidator()));
      v.count++;
      v.total += l.amount;
      v.byReason[l.reason] += l.amount;
      widen(v.heights, d.height);
      widen(v.times, d.timestamp);
    }
  }

  /** True when no cut was set and nothing is cold (the image then has no trailer). */
  get blank(): boolean {
    return this.cut.height === 0 && this.cut.lsn === 0 && this.count === 0;
  }

  /** A copy, for an image captured now and written later. */
  copy(): RewardColdPart {
    const c = new RewardColdPart();
    c.cut = this.cut;
    c.tier = this.tier;
    c.#merge(this);
    return c;
  }

  #merge(from: RewardColdPart): void {
    this.count += from.count;
    this.total += from.total;
    widenSpan(this.heights, from.heights);
    widenSpan(this.times, from.times);
    from.reasons.forEach((s, i) => widenSpan(this.reasons[i] as Span, s));
    for (const [id, v] of from.validators) {
      let into = this.validators.get(id);
      if (into === undefined) this.validators.set(id, (into = emptyValidator()));
      addValidator(into, v);
    }
  }

  /**
   * The image trailer: u32 version, i64 cut height and LSN, i64 count, bigint total, spans of
   * heights and times, a span per reason, u32 validators, each (in id order): text id, i64 count,
   * bigint total, a bigint per reason, spans of heights and times.
   */
  write(w: ImageWriter): void {
    w.u32(REWARD_TRAILER_VERSION).i64(this.cut.height).i64(this.cut.lsn).i64(this.count).bigint(this.total);
    writeSpan(w, this.heights);
    writeSpan(w, this.times);
    for (const s of this.reasons) writeSpan(w, s);
    const ids = [...this.validators.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    w.u32(ids.length);
    for (const id of ids) {
      const v = this.validators.get(id) as ValidatorCold;
      w.text(id).i64(v.count).bigint(v.total);
      for (const r of REWARD_REASONS) w.bigint(v.byReason[r]);
      writeSpan(w, v.heights);
      writeSpan(w, v.times);
    }
  }

  /**
   * Adds a trailer's aggregates to this part (whose cut is the store's). @throws Error on
   * malformed bytes, a negative count or total, or an image cut above the store's (the image
   * was taken after a compaction this directory does not have).
   */
  read(r: ImageReader): void {
    const version = r.u32();
    if (version !== REWARD_TRAILER_VERSION) throw new Error(`reward image cold trailer has version ${version}, expected ${REWARD_TRAILER_VERSION}`);
    const height = r.i64();
    const lsn = r.i64();
    if (height < 0 || lsn < 0 || !cutAtOrBelow({ height, lsn }, this.cut)) {
      throw new Error(`reward image cold cut (${height}, ${lsn}) lies above the store's cut (${this.cut.height}, ${this.cut.lsn})`);
    }
    const part = new RewardColdPart();
    part.count = nonNegative(r.i64(), 'count');
    part.total = nonNegative(r.bigint(), 'total');
    widenSpan(part.heights, readSpan(r, 'reward heights'));
    widenSpan(part.times, readSpan(r, 'reward times'));
    part.reasons.forEach((s) => widenSpan(s, readSpan(r, 'reward reason heights')));
    const n = r.u32();
    if (n * 40 > r.remaining) throw new Error(`reward image cold trailer claims ${n} validators in ${r.remaining} bytes`);
    for (let i = 0; i < n; i++) {
      const id = r.text(MAX_ID_BYTES);
      const v = emptyValidator();
      v.count = nonNegative(r.i64(), 'validator count');
      v.total = nonNegative(r.bigint(), 'validator total');
      for (const reason of REWARD_REASONS) v.byReason[reason] = nonNegative(r.bigint(), 'validator reason total');
      widenSpan(v.heights, readSpan(r, 'validator heights'));
      widenSpan(v.times, readSpan(r, 'validator times'));
      if (part.validators.has(id)) throw new Error(`reward image cold trailer repeats validator ${JSON.stringify(id)}`);
      part.validators.set(id, v);
    }
    this.#merge(part);
  }

  /** The cold distribution at exactly `height`, if any (reads only when the height lies in the span). */
  async at(height: number): Promise<StoredDistribution | undefined> {
    let found: StoredDistribution | undefined;
    for await (const d of this.inHeights(height, height, undefined, undefined)) found = d;
    return found;
  }

  /**
   * The cold distributions with `lo <= height <= hi` and a line matching `validatorId` and
   * `reason` (when given), in height order, read lazily. Reads nothing when the aggregates
   * show none can match.
   */
  async *inHeights(lo: number, hi: number, validatorId: string | undefined, reason: RewardReason | undefined): AsyncGenerator<StoredDistribution> {
    const span = this.#heightSpan(validatorId, reason);
    const from = Math.max(lo, span.min);
    const to = Math.min(hi, span.max);
    if (from > to) return;
    const filter: ColdFilter = validatorId === undefined
      ? { kinds: REWARD_COLD_KINDS, height: [from, to] }
      : { kinds: REWARD_COLD_KINDS, height: [from, to], validator: validatorId };
    yield* coldInOrder(this.tier, filter, RecordKind.RewardDistribution, (r) => {
      const d = decodeStored(r);
      return d.height >= from && d.height <= to && hasLine(d, validatorId, reason) ? d : undefined;
    }, BY_HEIGHT);
  }

  /**
   * The cold distributions with `from <= timestamp < toExclusive` (and a line of `validatorId`,
   * when given), in (timestamp, height) order, read lazily.
   */
  async *inTimes(from: number, toExclusive: number, validatorId: string | undefined): AsyncGenerator<StoredDistribution> {
    const span = validatorId === undefined ? this.times : (this.validators.get(validatorId)?.times ?? emptySpan());
    const lo = Math.max(from, span.min);
    const hi = Math.min(toExclusive - 1, span.max);
    if (lo > hi) return;
    const filter: ColdFilter = validatorId === undefined
      ? { kinds: REWARD_COLD_KINDS, time: [lo, hi] }
      : { kinds: REWARD_COLD_KINDS, time: [lo, hi], validator: validatorId };
    yield* coldInOrder(this.tier, filter, RecordKind.RewardDistribution, (r) => {
      const d = decodeStored(r);
      return d.timestamp >= lo && d.timestamp <= hi && hasLine(d, validatorId, undefined) ? d : undefined;
    }, BY_TIME);
  }

  /** True when some cold distribution may match the height range, validator and reason (no read). */
  mayHold(lo: number, hi: number, validatorId: string | undefined, reason: RewardReason | undefined): boolean {
    return overlaps(this.#heightSpan(validatorId, reason), lo, hi);
  }

  /** True when some cold distribution may lie in `from <= timestamp < toExclusive` (with a line of `validatorId`). */
  mayHoldTimes(from: number, toExclusive: number, validatorId: string | undefined): boolean {
    const span = validatorId === undefined ? this.times : (this.validators.get(validatorId)?.times ?? emptySpan());
    return overlaps(span, from, toExclusive - 1);
  }

  /**
   * The cold total distributed at heights up to `height`: the aggregate when the cold heights
   * all lie at or below it, 0 when none does, else a read of the smaller side of the split
   * (the blocks below it summed, or those above it subtracted from the aggregate).
   */
  async totalUpTo(height: number): Promise<bigint> {
    if (height >= this.heights.max) return this.total;
    if (height < this.heights.min) return 0n;
    const below = await this.tier.blocks({ kinds: REWARD_COLD_KINDS, height: [this.heights.min, height] });
    const above = await this.tier.blocks({ kinds: REWARD_COLD_KINDS, height: [height + 1, this.heights.max] });
    const records = (blocks: readonly { count: number }[]): number => blocks.reduce((n, b) => n + b.count, 0);
    const readBelow = records(below) <= records(above);
    let sum = 0n;
    for (const block of readBelow ? below : above) {
      for (const r of await this.tier.read(block)) {
        if (r.kind !== RecordKind.RewardDistribution) continue;
        const d = decodeStored(r);
        if (readBelow ? d.height <= height : d.height > height) sum += d.totalDistributed;
      }
    }
    return readBelow ? sum : this.total - sum;
  }

  #heightSpan(validatorId: string | undefined, reason: RewardReason | undefined): Span {
    const byReason = reason === undefined ? this.heights : (this.reasons[rewardReasonCode(reason)] as Span);
    if (validatorId === undefined) return byReason;
    const v = this.validators.get(validatorId);
    if (v === undefined) return emptySpan();
    // Both are bounds of the heights that may match: so is their intersection.
    return { min: Math.max(v.heights.min, byReason.min), max: Math.min(v.heights.max, byReason.max) };
  }
}

/** A cold record as the store's stored distribution (CORRUPTION naming its LSN when it does not decode). */
function decodeStored(r: ColdRecord): StoredDistribution {
  const { distribution, recordedAt } = decodeDistributionRecord(r.payload, r.lsn);
  return { ...distribution, id: r.lsn, recordedAt };
}

function nonNegative<T extends number | bigint>(value: T, what: string): T {
  if (value < 0) throw new Error(`reward image cold ${what} is negative`);
  return value;
}
