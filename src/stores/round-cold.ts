/**
 * The cold side of the round-state store (docs/stores.md, "Bounded history"; docs/format.md,
 * "Cold files"), and the small helpers the reward history's cold side shares (reward-cold.ts):
 * checking a cut and a tier given by a caller, a span of numbers, reading a tier's blocks in the
 * order of a key with as few reads as the order allows, and merging a cold stream with a hot one.
 *
 * What goes cold: RecordKind.RoundState checkpoints (the latest per (height, round) that the
 * store held), by height. Prune records stay hot. What stays in memory of the cold part: the
 * span of its heights and the latest cold checkpoint (so that `loadRoundState`, the regression
 * checks and recovery never read the tier), written in the image section's trailer.
 *
 * It must never: answer a checkpoint below the prune floor from the cold tier, do I/O in a
 * synchronous member, or hide a CORRUPTION from the tier (it propagates unchanged).
 */
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import type { ColdBlockRef, ColdCut, ColdFilter, ColdKeys, ColdRecord, ColdTier } from '../cold/types.ts';
import { isColdByHeight, NO_CUT } from '../cold/types.ts';
import { RecordKind } from '../codec/kinds.ts';
import { decodeRoundStateRecord } from '../codec/round-record.ts';
import type { ImageReader, ImageWriter } from '../codec/image-section.ts';
import { checkObject, checkSafeUint } from '../model/check.ts';
import type { Lsn } from '../log/types.ts';
import type { QueryPage } from './query-types.ts';
import type { RoundStateSnapshot } from './round-types.ts';

// ---------------------------------------------------------------- shared helpers

/** An inclusive range of numbers held by a cold part; empty: min Infinity, max -Infinity. */
export interface Span {
  min: number;
  max: number;
}

/** A span that holds nothing. */
export function emptySpan(): Span {
  return { min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY };
}

/** Widens `span` to hold `value`. */
export function widen(span: Span, value: number): void {
  if (value < span.min) span.min = value;
  if (value > span.max) span.max = value;
}

/** Widens `span` to hold all of `other`. */
export function widenSpan(span: Span, other: Span): void {
  if (other.min < span.min) span.min = other.min;
  if (other.max > span.max) span.max = other.max;
}

/** True when some value of `span` lies in `lo..hi` (inclusive). False for an empty span or range. */
export function overlaps(span: Span, lo: number, hi: number): boolean {
  return lo <= hi && lo <= span.max && hi >= span.min;
}

/** Writes a span: u8 1 and two i64, or u8 0 when empty (the image trailers). */
export function writeSpan(w: ImageWriter, span: Span): void {
  if (span.min > span.max) w.flag(false);
  else w.flag(true).i64(span.min).i64(span.max);
}

/** Reads what `writeSpan` wrote. @throws Error on a reversed or negative span. */
export function readSpan(r: ImageReader, what: string): Span {
  if (!r.flag()) return emptySpan();
  const min = r.i64();
  const max = r.i64();
  if (min < 0 || min > max) throw new Error(`image cold span of ${what} ${min}..${max} is not a range`);
  return { min, max };
}

/** A cut given by a caller. @throws ConsensusStoreError INVALID_ARGUMENT naming `name`. */
export function checkColdCut(name: string, value: unknown): ColdCut {
  const o = checkObject(name, value);
  return { height: checkSafeUint(`${name}.height`, o['height']), lsn: checkSafeUint(`${name}.lsn`, o['lsn']) };
}

/** A tier given by a caller (its three members are functions). @throws ConsensusStoreError INVALID_ARGUMENT. */
export function checkColdTier(name: string, value: unknown): ColdTier {
  const o = checkObject(name, value);
  for (const member of ['countOf', 'blocks', 'read']) {
    if (typeof o[member] !== 'function') throw invalidArgument(`${name}.${member}`, 'must be a function');
  }
  return value as ColdTier;
}

/** True when `a` lies at or below `b` in both fields. */
export function cutAtOrBelow(a: ColdCut, b: ColdCut): boolean {
  return a.height <= b.height && a.lsn <= b.lsn;
}

/**
 * The checked cuts of `captureCold(previous, next)`: `previous` must be the cut the store has,
 * and `next` may not go back from it (cuts only grow).
 * @throws ConsensusStoreError INVALID_ARGUMENT.
 */
export function checkCapture(current: ColdCut, previous: unknown, next: unknown): { previous: ColdCut; next: ColdCut } {
  const p = checkColdCut('previous', previous);
  const n = checkColdCut('next', next);
  if (p.height !== current.height || p.lsn !== current.lsn) {
    throw invalidArgument('previous', `(${p.height}, ${p.lsn}) is not the store's cut (${current.height}, ${current.lsn})`);
  }
  if (!cutAtOrBelow(p, n)) throw invalidArgument('next', `(${n.height}, ${n.lsn}) goes back from previous (${p.height}, ${p.lsn})`);
  return { previous: p, next: n };
}

/**
 * The checked arguments of `evictCold(cut, tier)`: the cut may not go back from the store's.
 * @throws ConsensusStoreError INVALID_ARGUMENT.
 */
export function checkEvict(current: ColdCut, cut: unknown, tier: unknown): { cut: ColdCut; tier: ColdTier } {
  const c = checkColdCut('cut', cut);
  const t = checkColdTier('tier', tier);
  if (!cutAtOrBelow(current, c)) throw invalidArgument('cut', `(${c.height}, ${c.lsn}) goes back from the store's cut (${current.height}, ${current.lsn})`);
  return { cut: c, tier: t };
}

/**
 * Checks `kind` against a store's cold kinds and `payload`'s type (`coldKeys`).
 * @throws ConsensusStoreError INVALID_ARGUMENT.
 */
export function checkColdKeysArgs(kinds: readonly number[], kind: unknown, payload: unknown): Uint8Array {
  if (typeof kind !== 'number' || !kinds.includes(kind)) throw invalidArgument('kind', `must be one of ${kinds.join(', ')}, got ${String(kind)}`);
  if (!(payload instanceof Uint8Array)) throw invalidArgument('payload', 'must be a Uint8Array');
  return payload;
}

/** Rethrows a decode failure of `coldKeys` (which has no LSN) as CORRUPTION naming the kind. */
export function coldKeysCorruption(kind: number, err: unknown): ConsensusStoreError {
  const problem = err instanceof Error ? err.message : String(err);
  return new ConsensusStoreError('CORRUPTION', `a payload of kind ${kind} given to coldKeys does not decode: ${problem}`, { cause: err, details: { kind } });
}

/** How a cold stream is ordered: a numeric key (what block spans bound) and a full order. */
export interface ColdOrder<T> {
  /** The key the block's lower bound bounds (a height, a time). */
  key(item: T): number;
  /** The lower bound of `key` over a block's records. */
  blockMin(block: ColdBlockRef): number;
  /** The full order of the items (the key first). */
  compare(a: T, b: T): number;
}

/**
 * The records of `kind` in the blocks matching `filter`, decoded and kept by `decode` (undefined:
 * not a match), in `order`. Blocks are read lazily, lowest bound first: an item is yielded once
 * no unread block can hold one before it, so a consumer that stops early reads only the blocks
 * it needed. The tier's errors propagate unchanged.
 */
export async function* coldInOrder<T>(
  tier: ColdTier,
  filter: ColdFilter,
  kind: number,
  decode: (record: ColdRecord) => T | undefined,
  order: ColdOrder<T>,
): AsyncGenerator<T> {
  const blocks = (await tier.blocks(filter)).slice().sort((a, b) => order.blockMin(a) - order.blockMin(b) || a.minLsn - b.minLsn);
  let pending: T[] = [];
  for (const block of blocks) {
    const bound = order.blockMin(block);
    let i = 0;
    while (i < pending.length && order.key(pending[i] as T) < bound) yield pending[i++] as T;
    if (i > 0) pending = pending.slice(i);
    let added = false;
    for (const record of await tier.read(block)) {
      if (record.kind !== kind) continue;
      const item = decode(record);
      if (item === undefined) continue;
      pending.push(item);
      added = true;
    }
    if (added) pending.sort(order.compare);
  }
  yield* pending;
}

/**
 * Merges a cold stream and a hot one, each in `compare` order, into one. Hot items that sort
 * before `coldFloor` (no cold item has a key below it) are yielded without touching the cold
 * stream, so a query answered by hot items alone reads no cold block.
 */
export async function* mergeOrdered<T>(
  cold: AsyncIterable<T>,
  hot: Iterable<T>,
  compare: (a: T, b: T) => number,
  beforeCold: (item: T) => boolean,
): AsyncGenerator<T> {
  const h = hot[Symbol.iterator]();
  let hn = h.next();
  while (!hn.done && beforeCold(hn.value)) {
    yield hn.value;
    hn = h.next();
  }
  const c = cold[Symbol.asyncIterator]();
  let cn = await c.next();
  while (!cn.done || !hn.done) {
    if (hn.done || (!cn.done && compare(cn.value, hn.value) <= 0)) {
      yield cn.value as T;
      cn = await c.next();
    } else {
      yield hn.value;
      hn = h.next();
    }
  }
}

/**
 * Runs a query that awaits the tier until no eviction happened while it ran: an eviction moves
 * records from memory to the tier between two awaits, and a query that saw part of its range
 * before and part after could count a record twice or miss it. Evictions are rare (one per
 * compaction), so this rarely runs twice.
 */
export async function stableUnderEviction<T>(part: { readonly evictions: number }, run: () => Promise<T>): Promise<T> {
  for (;;) {
    const epoch = part.evictions;
    try {
      const result = await run();
      if (epoch === part.evictions) return result;
    } catch (err) {
      if (epoch === part.evictions) throw err;
    }
  }
}

/** `takePage` over an async source: the first `limit` items mapped, and whether more were there. */
export async function takePageAsync<S, T>(source: AsyncIterable<S>, limit: number, map: (item: S) => T): Promise<QueryPage<T>> {
  const items: T[] = [];
  for await (const item of source) {
    if (items.length >= limit) return { items, truncated: true };
    items.push(map(item));
  }
  return { items, truncated: false };
}

// ---------------------------------------------------------------- round states

/** The cold kinds of the round-state store. */
export const ROUND_COLD_KINDS: readonly number[] = [RecordKind.RoundState];

/** What the block index records of a checkpoint: its height and round. CORRUPTION when it does not decode. */
export function roundColdKeys(kind: unknown, payload: unknown): ColdKeys {
  const bytes = checkColdKeysArgs(ROUND_COLD_KINDS, kind, payload);
  try {
    const { state } = decodeRoundStateRecord(bytes, 0);
    return { height: state.height, round: state.round };
  } catch (err) {
    throw coldKeysCorruption(RecordKind.RoundState, err);
  }
}

/** The cold record of a held checkpoint (its payload encoded as the log's record). */
function checkpointRecord(s: RoundStateSnapshot, encode: (s: RoundStateSnapshot) => Uint8Array): ColdRecord {
  return { kind: RecordKind.RoundState, lsn: s.id, payload: encode(s) };
}

/** The producer `captureCold` returns: the fixed snapshots as cold records, in LSN order. */
export function produceCheckpoints(fixed: readonly RoundStateSnapshot[], encode: (s: RoundStateSnapshot) => Uint8Array): () => AsyncIterable<ColdRecord> {
  return async function* produce() {
    for (const s of fixed) yield checkpointRecord(s, encode);
  };
}

/** The tier of a store that was never given one: it holds nothing (a part with records always has the real one). */
export const EMPTY_TIER: ColdTier = Object.freeze({
  cut: NO_CUT,
  countOf: () => 0,
  blocks: () => Promise.resolve([]),
  read: () => Promise.resolve([]),
});

/** (height, round) order, then LSN. */
function compareSnapshots(a: RoundStateSnapshot, b: RoundStateSnapshot): number {
  return a.state.height - b.state.height || a.state.round - b.state.round || a.id - b.id;
}

const BY_HEIGHT: ColdOrder<RoundStateSnapshot> = {
  key: (s) => s.state.height,
  blockMin: (b) => b.minHeight,
  compare: compareSnapshots,
};

/** Version of the round-state image trailer. */
const ROUND_TRAILER_VERSION = 1;
/** The fewest bytes a round-state trailer takes (fewer left over are trailing bytes, refused as such). */
export const ROUND_TRAILER_MIN_BYTES = 4 + 8 + 8 + 1 + 1;

/**
 * The cold part of one round-state store: its cut and tier, the span of the heights it moved
 * (or skipped) there, and the latest checkpoint among them (`pinned`).
 */
export class RoundColdPart {
  cut: ColdCut = NO_CUT;
  tier: ColdTier = EMPTY_TIER;
  /** Heights of the checkpoints the cold tier may hold (a bound: a skipped superseded phase widens it too). */
  readonly heights: Span = emptySpan();
  /** The latest checkpoint that is cold (the highest LSN). */
  pinned: RoundStateSnapshot | undefined;
  /** Evictions so far (a query that awaited the tier across one runs again: stableUnderEviction). */
  evictions = 0;

  /** True when a checkpoint at `height` with `lsn` is cold under the cut. */
  isCold(lsn: number, height: number): boolean {
    return isColdByHeight(this.cut, lsn, height);
  }

  /** Folds one checkpoint that went (or is) cold. */
  add(s: RoundStateSnapshot): void {
    widen(this.heights, s.state.height);
    if (this.pinned === undefined || s.id > this.pinned.id) this.pinned = s;
  }

  /** A copy, for an image captured now and written later. */
  copy(): RoundColdPart {
    const c = new RoundColdPart();
    c.cut = this.cut;
    c.tier = this.tier;
    widenSpan(c.heights, this.heights);
    c.pinned = this.pinned;
    return c;
  }

  /** True when the part holds nothing and no cut was set (the image then has no trailer). */
  get blank(): boolean {
    return this.cut.lsn === 0 && this.cut.height === 0 && this.pinned === undefined;
  }

  /** The image trailer: u32 version, i64 cut height and LSN, the span, the pinned checkpoint (flag, i64 LSN, payload). */
  write(w: ImageWriter, encode: (s: RoundStateSnapshot) => Uint8Array): void {
    w.u32(ROUND_TRAILER_VERSION).i64(this.cut.height).i64(this.cut.lsn);
    writeSpan(w, this.heights);
    if (this.pinned === undefined) w.flag(false);
    else w.flag(true).i64(this.pinned.id).bytes(encode(this.pinned));
  }

  /**
   * Merges a trailer into this part (whose cut is the store's). @throws Error when the image's
   * cut lies above the store's (the image was taken after a compaction this directory lost) or
   * the bytes are malformed; CORRUPTION when the pinned checkpoint does not decode.
   */
  read(r: ImageReader): void {
    const version = r.u32();
    if (version !== ROUND_TRAILER_VERSION) throw new Error(`round-state image cold trailer has version ${version}, expected ${ROUND_TRAILER_VERSION}`);
    const height = r.i64();
    const lsn = r.i64();
    if (height < 0 || lsn < 0 || !cutAtOrBelow({ height, lsn }, this.cut)) {
      throw new Error(`round-state image cold cut (${height}, ${lsn}) lies above the store's cut (${this.cut.height}, ${this.cut.lsn})`);
    }
    widenSpan(this.heights, readSpan(r, 'round-state heights'));
    if (r.flag()) {
      const id = r.i64();
      if (id < 1) throw new Error(`round-state image cold checkpoint has LSN ${id}`);
      const { state, recordedAt } = decodeRoundStateRecord(r.bytes(1 << 24), id);
      this.add({ id: id as Lsn, state, recordedAt });
    }
  }

  /**
   * The cold checkpoints with `lo <= height <= hi` and `height >= floor`, the latest per
   * (height, round), in (height, round) order. Reads lazily (see coldInOrder).
   */
  async *inHeights(lo: number, hi: number, floor: number): AsyncGenerator<RoundStateSnapshot> {
    const from = Math.max(lo, floor, this.heights.min);
    const to = Math.min(hi, this.heights.max);
    if (from > to) return;
    const decode = (r: ColdRecord): RoundStateSnapshot | undefined => {
      const { state, recordedAt } = decodeRoundStateRecord(r.payload, r.lsn);
      return state.height < from || state.height > to ? undefined : { id: r.lsn, state, recordedAt };
    };
    let held: RoundStateSnapshot | undefined;
    for await (const s of coldInOrder(this.tier, { kinds: ROUND_COLD_KINDS, height: [from, to] }, RecordKind.RoundState, decode, BY_HEIGHT)) {
      if (held !== undefined && (held.state.height !== s.state.height || held.state.round !== s.state.round)) yield held;
      held = s;
    }
    if (held !== undefined) yield held;
  }

  /**
   * The latest cold checkpoint at `height` (in `round` when given, else in the highest round),
   * or undefined. Reads only when the height lies in the span.
   */
  async at(height: number, round: number | undefined): Promise<RoundStateSnapshot | undefined> {
    if (!overlaps(this.heights, height, height)) return undefined;
    const decode = (r: ColdRecord): RoundStateSnapshot | undefined => {
      const { state, recordedAt } = decodeRoundStateRecord(r.payload, r.lsn);
      return state.height !== height || (round !== undefined && state.round !== round) ? undefined : { id: r.lsn, state, recordedAt };
    };
    const filter: ColdFilter = round === undefined ? { kinds: ROUND_COLD_KINDS, height: [height, height] } : { kinds: ROUND_COLD_KINDS, height: [height, height], round: [round, round] };
    let found: RoundStateSnapshot | undefined;
    for await (const s of coldInOrder(this.tier, filter, RecordKind.RoundState, decode, BY_HEIGHT)) found = s;
    return found;
  }
}
