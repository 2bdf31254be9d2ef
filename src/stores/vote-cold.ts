/**
 * The vote store's cold side (docs/stores.md, "Bounded history"; docs/format.md, "Cold files"):
 * its checks of a cut and a tier, what the cold tier's block index records of a Vote or
 * Finalized record, and how a query reads the cold tier (the blocks that may match, then their
 * records, decoded with the vote store's codecs and filtered exactly) so that the store can merge
 * the result with what its memory answers, in the query's order and limit.
 *
 * It must never: return a record that is not cold under the cut the query started with (memory
 * answers for those), read a block once the query's order and limit no longer need it, or catch
 * an error of the tier (a CORRUPTION propagates unchanged).
 */
import { invalidArgument } from '../errors.ts';
import { RecordKind } from '../codec/kinds.ts';
import { decodeFinalizedRecord, decodeVoteRecord } from '../codec/vote-record.ts';
import { voteTypeCode } from '../codec/vote-sign.ts';
import type { ColdBlockRef, ColdCut, ColdFilter, ColdKeys, ColdRecord, ColdTier } from '../cold/types.ts';
import { isColdByHeight } from '../cold/types.ts';
import { checkObject, checkSafeUint } from '../model/check.ts';
import type { Lsn } from '../log/types.ts';
import type { FinalizedMark, VoteLogEntry } from './vote-types.ts';

/** The record kinds the vote store moves to the cold tier (both cut by height). */
export const VOTE_COLD_KINDS: readonly number[] = Object.freeze([RecordKind.Vote, RecordKind.Finalized]);

/** The tier and cut a query reads: the store's as they were when the query started. */
export interface ColdView {
  readonly tier: ColdTier;
  readonly cut: ColdCut;
}

/** Inclusive bounds of the rounds of the cold votes (or an upper and lower bound on them). */
export interface RoundBounds {
  readonly min: number;
  readonly max: number;
}

/**
 * `cut` checked: an object with safe non-negative integers `height` and `lsn`; a frozen copy.
 * @throws ConsensusStoreError INVALID_ARGUMENT naming `name`.
 */
export function checkCut(name: string, cut: unknown): ColdCut {
  const o = checkObject(name, cut);
  return Object.freeze({ height: checkSafeUint(`${name}.height`, o['height']), lsn: checkSafeUint(`${name}.lsn`, o['lsn']) });
}

/** @throws ConsensusStoreError INVALID_ARGUMENT when `next` lies below `previous` in either field (cuts only grow). */
export function checkCutOrder(name: string, previous: ColdCut, next: ColdCut): void {
  if (next.height < previous.height || next.lsn < previous.lsn) {
    throw invalidArgument(name, `(height ${next.height}, lsn ${next.lsn}) lies below (height ${previous.height}, lsn ${previous.lsn}): cuts only grow`);
  }
}

/** `tier` checked: an object with `countOf`, `blocks` and `read`. @throws INVALID_ARGUMENT. */
export function checkTier(name: string, tier: unknown): ColdTier {
  const o = checkObject(name, tier);
  for (const m of ['countOf', 'blocks', 'read']) {
    if (typeof o[m] !== 'function') throw invalidArgument(`${name}.${m}`, 'must be a function');
  }
  return tier as ColdTier;
}

/**
 * What the block index records of a Vote (height, round, its validator, its own timestamp) or a
 * Finalized mark (height, round, the time it was recorded).
 * @throws INVALID_ARGUMENT for another kind or a payload that is not bytes; CORRUPTION when the
 *   payload does not decode.
 */
export function voteColdKeys(kind: number, payload: Uint8Array): ColdKeys {
  if (!(payload instanceof Uint8Array)) throw invalidArgument('payload', 'must be a Uint8Array');
  const record = { lsn: 0 as Lsn, kind, payload };
  if (kind === RecordKind.Vote) {
    const { vote } = decodeVoteRecord(record);
    return { height: vote.height, round: vote.round, validators: [vote.validatorId], time: vote.timestamp };
  }
  if (kind === RecordKind.Finalized) {
    const f = decodeFinalizedRecord(record);
    return { height: f.height, round: f.round, time: f.recordedAt };
  }
  throw invalidArgument('kind', `${String(kind)} is not a kind the vote store moves to the cold tier (${VOTE_COLD_KINDS.join(', ')})`);
}

/** A fresh entry (byte arrays its own) for a cold Vote record. @throws CORRUPTION naming its LSN. */
export function coldVoteEntry(r: ColdRecord): VoteLogEntry {
  const { vote, recordedAt } = decodeVoteRecord(r);
  const copy = { ...vote, blockHash: vote.blockHash === null ? null : Uint8Array.from(vote.blockHash), signature: Uint8Array.from(vote.signature) };
  return { id: r.lsn, vote: copy, timestamp: vote.timestamp, recordedAt };
}

/** The frozen mark of a cold Finalized record. @throws CORRUPTION naming its LSN. */
export function coldMark(r: ColdRecord): FinalizedMark {
  const f = decodeFinalizedRecord(r);
  return Object.freeze({ id: r.lsn, height: f.height, round: f.round, recordedAt: f.recordedAt });
}

/** The cold votes of `blockRecords` that are cold under the view's cut and that `accept` takes. */
function votesOf(view: ColdView, records: readonly ColdRecord[], accept: (e: VoteLogEntry) => boolean): VoteLogEntry[] {
  const out: VoteLogEntry[] = [];
  for (const r of records) {
    if (r.kind !== RecordKind.Vote) continue;
    const e = coldVoteEntry(r);
    if (isColdByHeight(view.cut, r.lsn, e.vote.height) && accept(e)) out.push(e);
  }
  return out;
}

/** Every cold vote in the blocks `filter` names that `accept` takes, in LSN order of their blocks. */
export async function readColdVotes(view: ColdView, filter: ColdFilter, accept: (e: VoteLogEntry) => boolean): Promise<VoteLogEntry[]> {
  const out: VoteLogEntry[] = [];
  for (const b of await view.tier.blocks(filter)) out.push(...votesOf(view, await view.tier.read(b), accept));
  return out;
}

/** The first cold vote `accept` takes (blocks in LSN order, stopping at the first found), or undefined. */
export async function findColdVote(view: ColdView, filter: ColdFilter, accept: (e: VoteLogEntry) => boolean): Promise<VoteLogEntry | undefined> {
  for (const b of await view.tier.blocks(filter)) {
    const found = votesOf(view, await view.tier.read(b), accept);
    if (found.length > 0) return found[0];
  }
  return undefined;
}

/**
 * A query's order, for an ordered walk of the blocks: `compare` is the order; `key(e)` is a
 * number that never decreases along it; `bound(b)` is at most the key of every record of block
 * `b` the query accepts (so a block whose bound exceeds the key of the `limit`-th best entry
 * found cannot improve the answer).
 */
export interface WalkOrder {
  readonly compare: (a: VoteLogEntry, b: VoteLogEntry) => number;
  readonly key: (e: VoteLogEntry) => number;
  readonly bound: (b: ColdBlockRef) => number;
}

/**
 * The first `limit` entries, in `order`, of `hot` (already in order, at most `limit`) and the
 * cold votes `accept` takes in the blocks `filter` names. Blocks are read in the order of their
 * bound, and the walk stops as soon as `limit` entries are held whose last key is below the next
 * block's bound: a query's first page reads only the blocks it needs.
 */
export async function walkColdVotes(
  view: ColdView,
  filter: ColdFilter,
  order: WalkOrder,
  accept: (e: VoteLogEntry) => boolean,
  limit: number,
  hot: readonly VoteLogEntry[],
): Promise<VoteLogEntry[]> {
  const blocks = await view.tier.blocks(filter);
  const bounds = new Map<ColdBlockRef, number>(blocks.map((b) => [b, order.bound(b)]));
  blocks.sort((a, b) => bounds.get(a)! - bounds.get(b)! || a.minLsn - b.minLsn || (a.file < b.file ? -1 : a.file > b.file ? 1 : a.offset - b.offset));
  let held = hot.slice(0, limit);
  for (const b of blocks) {
    if (held.length >= limit && bounds.get(b)! > order.key(held[limit - 1]!)) break;
    const found = votesOf(view, await view.tier.read(b), accept);
    if (found.length === 0) continue;
    held = held.concat(found).sort(order.compare).slice(0, limit);
  }
  return held;
}

/** The first `limit` of `hot` and `cold` merged in `compare`'s order (both may be unsorted). */
export function mergeEntries(hot: readonly VoteLogEntry[], cold: readonly VoteLogEntry[], compare: WalkOrder['compare'], limit: number): VoteLogEntry[] {
  return cold.length === 0 ? hot.slice(0, limit) : [...hot, ...cold].sort(compare).slice(0, limit);
}

const cmp = (a: number | string, b: number | string): number => (a < b ? -1 : a > b ? 1 : 0);
const typeOf = (e: VoteLogEntry): number => voteTypeCode(e.vote.voteType);
const lo = (value: number, floor: number): number => (Number.isNaN(value) ? floor : Math.max(value, floor));

/** (round, voteType, validatorId, LSN): the round index's order; blocks by their lowest round. */
export function roundWalk(fromRound: number): WalkOrder {
  return {
    compare: (a, b) => a.vote.round - b.vote.round || typeOf(a) - typeOf(b) || cmp(a.vote.validatorId, b.vote.validatorId) || a.id - b.id,
    key: (e) => e.vote.round,
    bound: (b) => lo(b.minRound, fromRound),
  };
}

/** (height, LSN): the height index's order; blocks by their lowest height. */
export function heightWalk(fromHeight: number): WalkOrder {
  return { compare: (a, b) => a.vote.height - b.vote.height || a.id - b.id, key: (e) => e.vote.height, bound: (b) => lo(b.minHeight, fromHeight) };
}

/** Highest LSN first: the recent-votes order; blocks from the newest down. */
export const NEWEST_FIRST: WalkOrder = { compare: (a, b) => b.id - a.id, key: (e) => -e.id, bound: (b) => -b.maxLsn };

/**
 * Bounds of the rounds of the tier's cold votes, from the footers of the blocks that hold votes
 * (reads no block; a block shared with other kinds may widen them), or null when none does.
 */
export async function coldRoundBounds(tier: ColdTier): Promise<RoundBounds | null> {
  let min = Infinity;
  let max = -Infinity;
  for (const b of await tier.blocks({ kinds: [RecordKind.Vote] })) {
    if (Number.isNaN(b.minRound)) continue;
    min = Math.min(min, b.minRound);
    max = Math.max(max, b.maxRound);
  }
  return min > max ? null : { min, max };
}

/** The cold finalization mark of `height` (cold under the view's cut), or undefined. */
export async function findColdMark(view: ColdView, height: number): Promise<FinalizedMark | undefined> {
  for (const b of await view.tier.blocks({ kinds: [RecordKind.Finalized], height: [height, height] })) {
    for (const r of await view.tier.read(b)) {
      if (r.kind !== RecordKind.Finalized) continue;
      const m = coldMark(r);
      if (m.height === height && isColdByHeight(view.cut, r.lsn, m.height)) return m;
    }
  }
  return undefined;
}

/** The cold finalization mark of the highest height (blocks from the highest down), or undefined. */
export async function lastColdMark(view: ColdView): Promise<FinalizedMark | undefined> {
  const blocks = await view.tier.blocks({ kinds: [RecordKind.Finalized] });
  blocks.sort((a, b) => b.maxHeight - a.maxHeight || a.minLsn - b.minLsn);
  let best: FinalizedMark | undefined;
  for (const b of blocks) {
    if (best !== undefined && b.maxHeight < best.height) break;
    for (const r of await view.tier.read(b)) {
      if (r.kind !== RecordKind.Finalized) continue;
      const m = coldMark(r);
      if (isColdByHeight(view.cut, r.lsn, m.height) && (best === undefined || m.height > best.height)) best = m;
    }
  }
  return best;
}
