/**
 * LogRoundStateStore: durable round-state checkpoints of the consensus engine (docs/stores-rounds-validators.md), so
 * that a restarted validator resumes at the height, round and phase it was in.
 *
 * Index: an array of the latest checkpoint per (height, round), kept in (height, round) order,
 * which is also LSN order because checkpoints never move backwards. Earlier phases of the same
 * round are superseded in memory (they stay in the log). Writes are serialized, validated against
 * the latest checkpoint, and folded into the index only once the log reports them durable.
 * Image section (tag 4): u32 version, i64 prune floor, i64 last applied LSN, then the index
 * (u32 count; each: i64 LSN and the round-state record's payload as bytes, recordedAt included).
 * The payload is versioned by itself (docs/format.md, "Round-state checkpoint"), so an image
 * taken before `isProposer`, `validatorCount` and `quorumSize` existed loads as a log does.
 * Once a cut was set, a trailer follows the index: the cold part's cut, span and latest cold
 * checkpoint (round-cold.ts); an image without one loads as a store with nothing cold.
 *
 * Bounded history (docs/stores.md, "Bounded history"): checkpoints below the cold cut move to the
 * cold tier (round-cold.ts); replay and image load skip them. Queries that reach below the cut
 * read the tier and merge; the latest checkpoint, the regression checks and the prune floor
 * never need it. Prune records stay hot; a prune below the cut hides the cold checkpoints below
 * the floor (they are never read back), and counts them by reading the pruned heights once.
 *
 * This module must never write anything for a call that fails validation, and never answer from
 * a checkpoint that is not durable.
 */
import { ConsensusStoreError } from '../errors.ts';
import { RecordKind } from '../codec/kinds.ts';
import { checkRoundState, CONSENSUS_PHASES, roundStatesEqual } from '../model/round.ts';
import {
  decodeRoundPruneRecord,
  decodeRoundStateRecord,
  encodeRoundPruneRecord,
  encodeRoundStateRecord,
} from '../codec/round-record.ts';
import type { Lsn, LogRecord } from '../log/types.ts';
import { checkInteger, checkKeys, checkObject, checkSafeUint, checkU32 } from '../model/check.ts';
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
import type { QueryPage } from './query-types.ts';
import type { RoundState } from '../model/round.ts';
import type { RoundStateQuery, RoundStateSnapshot, RoundStateStore, RoundStateStoreOptions } from './round-types.ts';
import type { ColdCut, ColdKeys, ColdParticipant, ColdRecord, ColdTier } from '../cold/types.ts';
import { isColdByHeight } from '../cold/types.ts';
import { checkCapture, checkEvict, overlaps, produceCheckpoints, ROUND_COLD_KINDS, ROUND_TRAILER_MIN_BYTES, RoundColdPart, roundColdKeys, stableUnderEviction, takePageAsync } from './round-cold.ts';
import {
  DEFAULT_CHECKPOINT_INTERVAL,
  DEFAULT_ROUND_LIST_LIMIT,
  MAX_CHECKPOINT_INTERVAL,
  MAX_ROUND_LIST_LIMIT,
} from './round-types.ts';

/** A copy of a round state that shares no bytes with the original. */
function copyState(state: RoundState): RoundState {
  const copy: { -readonly [K in keyof RoundState]: RoundState[K] } = { ...state };
  if (state.lockedBlockHash !== undefined) copy.lockedBlockHash = state.lockedBlockHash.slice();
  if (state.validBlockHash !== undefined) copy.validBlockHash = state.validBlockHash.slice();
  if (state.proposalBlockHash !== undefined) copy.proposalBlockHash = state.proposalBlockHash.slice();
  if (state.appData !== undefined) copy.appData = state.appData.slice();
  return copy;
}

function copySnapshot(snapshot: RoundStateSnapshot): RoundStateSnapshot {
  return { id: snapshot.id, state: copyState(snapshot.state), recordedAt: snapshot.recordedAt };
}

/** The record payload of a snapshot (as the log holds it). */
function encodeSnapshot(s: RoundStateSnapshot): Uint8Array {
  return encodeRoundStateRecord(s.state, s.recordedAt);
}

/** True when two snapshots are of one (height, round). */
function sameRound(a: RoundStateSnapshot, b: RoundStateSnapshot | undefined): boolean {
  return b !== undefined && a.state.height === b.state.height && a.state.round === b.state.round;
}

/** Why `next` may not follow `latest`, or undefined when it may (a round belongs to one height: docs/stores-rounds-validators.md). */
export function roundRegression(latest: RoundState, next: RoundState): string | undefined {
  const at = `(height ${latest.height}, round ${latest.round}, ${latest.phase})`;
  if (next.height < latest.height) return `height ${next.height} is below the latest checkpoint ${at}`;
  if (next.round < latest.round) return `round ${next.round} is below the latest checkpoint ${at}`;
  if (next.height > latest.height && next.round === latest.round) {
    return `round ${next.round} already belongs to height ${latest.height}: a new height needs a new round`;
  }
  if (
    next.height === latest.height &&
    next.round === latest.round &&
    CONSENSUS_PHASES.indexOf(next.phase) < CONSENSUS_PHASES.indexOf(latest.phase)
  ) {
    return `phase ${next.phase} goes back from the latest checkpoint ${at}`;
  }
  return undefined;
}

/** The keys of a `RoundStateQuery`. */
const ROUND_QUERY_KEYS: readonly string[] = ['startHeight', 'endHeight', 'limit'];

/**
 * Checks a checkpoint interval (undefined: the default).
 * @throws ConsensusStoreError INVALID_ARGUMENT naming `name`.
 */
export function resolveCheckpointInterval(name: string, value: unknown): number {
  return value === undefined ? DEFAULT_CHECKPOINT_INTERVAL : checkInteger(name, value, 1, MAX_CHECKPOINT_INTERVAL);
}

/**
 * Durable round-state checkpoints (the specification's LogRoundStateStore).
 *
 * Regressions (a lower height or round, a new height in the same round, an earlier phase in the
 * same round) and checkpoints below a pruned height reject with CONFLICT: the input is well
 * formed but contradicts what is stored. Malformed input rejects with INVALID_ARGUMENT. Every
 * method rejects (or, when synchronous, throws) CLOSED once the store is closed. None of them
 * writes anything.
 */
export class LogRoundStateStore implements RecordApplier, RoundStateStore, ImageSection, ColdParticipant {
  /** The record kinds this store owns. */
  readonly kinds: readonly number[] = [RecordKind.RoundState, RecordKind.RoundStatePrune];
  /** The kinds it moves to the cold tier (by height): checkpoints; prune records stay hot. */
  readonly coldKinds: readonly number[] = ROUND_COLD_KINDS;
  /** Its section's tag in the local state image. */
  readonly imageTag = 4;
  /**
   * How many phase changes within one round may pass between durable checkpoints (1..1000,
   * default 1). A policy for the consensus engine, applied by `shouldCheckpoint`; every call of
   * `saveRoundState` is durable whatever the interval.
   */
  readonly checkpointInterval: number;

  readonly #ctx: StoreContext;
  /** Latest checkpoint per (height, round), in (height, round) order (also LSN order). */
  readonly #byRound: RoundStateSnapshot[] = [];
  /** Checkpoints below this height are pruned. */
  #pruneFloor = 0;
  #lastAppliedLsn = 0;
  /** The write queue: writes run one at a time so each validates against the one before. */
  readonly #writes = new SerialQueue();
  /** The checkpoints below the cut: cut, tier, their span and the latest of them. */
  readonly #cold = new RoundColdPart();

  /**
   * @param ctx the shared log and clock.
   * @param options `checkpointInterval` (1..1000). Throws INVALID_ARGUMENT on a bad option.
   */
  constructor(ctx: StoreContext, options: RoundStateStoreOptions = {}) {
    checkKeys('options', checkObject('options', options), ['checkpointInterval']);
    this.#ctx = ctx;
    this.checkpointInterval = resolveCheckpointInterval('options.checkpointInterval', options.checkpointInterval);
  }

  /** The height below which checkpoints were pruned (0 when none were). */
  get pruneFloor(): number {
    return this.#pruneFloor;
  }

  /**
   * Durably records `state` as the latest checkpoint and resolves with it once durable. A state
   * equal to the latest checkpoint writes nothing and resolves with the stored one.
   * Rejects: INVALID_ARGUMENT (malformed), CONFLICT (a regression, or below the pruned height),
   * and the log's write errors (nothing is indexed then).
   */
  saveRoundState(state: RoundState): Promise<RoundStateSnapshot> {
    let checked: RoundState;
    try {
      assertOpen(this.#ctx);
      checked = checkRoundState('state', state);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#writes.run(async () => {
      assertOpen(this.#ctx);
      const latest = this.#latest();
      if (latest !== undefined && roundStatesEqual(latest.state, checked)) return copySnapshot(latest);
      this.#assertMayFollow(checked);
      const recordedAt = readClock(this.#ctx);
      const payload = encodeRoundStateRecord(checked, recordedAt);
      const [lsn] = await this.#ctx.log.append([{ kind: RecordKind.RoundState, payload }]);
      if (lsn === undefined) throw new ConsensusStoreError('CORRUPTION', 'log append resolved without an LSN');
      this.apply({ lsn, kind: RecordKind.RoundState, payload });
      return copySnapshot({ id: lsn, state: checked, recordedAt });
    });
  }

  /** The latest checkpoint, or undefined if none was ever saved. */
  async loadRoundState(): Promise<RoundStateSnapshot | undefined> {
    assertOpen(this.#ctx);
    const latest = this.#latest();
    return latest === undefined ? undefined : copySnapshot(latest);
  }

  /**
   * The latest checkpoint at `height` in `round` (when given) or in the highest round recorded
   * at that height; undefined if there is none, or it was pruned. Rejects INVALID_ARGUMENT on a
   * bad height or round.
   */
  async getRoundStateAt(height: number, round?: number): Promise<RoundStateSnapshot | undefined> {
    assertOpen(this.#ctx);
    checkSafeUint('height', height);
    if (round !== undefined) checkU32('round', round);
    // The last checkpoint at or below (height, round): rounds grow with heights, so one search.
    const end = this.#upperBound(height, round ?? Number.POSITIVE_INFINITY);
    const found = this.#byRound[end - 1];
    if (found !== undefined && found.state.height === height && (round === undefined || found.state.round === round)) return copySnapshot(found);
    // Cold checkpoints sort before every hot one, and the pinned one is the latest of them.
    if (height < this.#pruneFloor) return undefined;
    const pinned = this.#cold.pinned;
    if (pinned !== undefined && pinned.state.height === height && (round === undefined || pinned.state.round === round)) return copySnapshot(pinned);
    const cold = await this.#cold.at(height, round);
    return cold === undefined ? undefined : copySnapshot(cold);
  }

  /**
   * Checkpoints with `startHeight <= height <= endHeight`, oldest first, the latest one per
   * (height, round), at most `limit` (default 100, at most 10,000); `truncated` says when more
   * matched. Rejects INVALID_ARGUMENT on a malformed query, an unknown key, a limit above the
   * maximum or `startHeight > endHeight`.
   */
  async listRoundStates(query: RoundStateQuery = {}): Promise<QueryPage<RoundStateSnapshot>> {
    assertOpen(this.#ctx);
    const q = checkQuery('query', query, ROUND_QUERY_KEYS);
    const { startHeight, endHeight } = parseHeightRange('query', q);
    const limit = parseLimit('query.limit', q['limit'], { defaultLimit: DEFAULT_ROUND_LIST_LIMIT, maxLimit: MAX_ROUND_LIST_LIMIT });
    if (!overlaps(this.#cold.heights, Math.max(startHeight, this.#pruneFloor), endHeight)) {
      return takePage(this.#inHeights(startHeight, endHeight), limit, copySnapshot);
    }
    return stableUnderEviction(this.#cold, () => takePageAsync(this.#withCold(startHeight, endHeight), limit, copySnapshot));
  }

  /**
   * Cold then hot checkpoints in the range: every cold (height, round) sorts at or before the
   * first hot one, and a round held by both is answered by the hot (later) checkpoint.
   */
  async *#withCold(startHeight: number, endHeight: number): AsyncGenerator<RoundStateSnapshot> {
    const firstHot = this.#inHeights(startHeight, endHeight).next().value as RoundStateSnapshot | undefined;
    for await (const s of this.#cold.inHeights(startHeight, endHeight, this.#pruneFloor)) if (!sameRound(s, firstHot)) yield s;
    yield* this.#inHeights(startHeight, endHeight);
  }

  /** The indexed checkpoints with `startHeight <= height <= endHeight`, in order. */
  *#inHeights(startHeight: number, endHeight: number): Generator<RoundStateSnapshot> {
    for (let i = this.#upperBound(startHeight - 1, Number.POSITIVE_INFINITY); i < this.#byRound.length; i++) {
      const snapshot = this.#byRound[i] as RoundStateSnapshot;
      if (snapshot.state.height > endHeight) return;
      yield snapshot;
    }
  }

  /**
   * Durably drops every checkpoint below `height`, and resolves with how many were dropped. A
   * height at or below the current prune floor writes nothing and resolves with 0. The latest
   * checkpoint is never pruned: a height above it rejects with CONFLICT. Rejects INVALID_ARGUMENT
   * on a bad height.
   */
  pruneBeforeHeight(height: number): Promise<number> {
    try {
      assertOpen(this.#ctx);
      checkSafeUint('height', height);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#writes.run(async () => {
      assertOpen(this.#ctx);
      if (height <= this.#pruneFloor) return 0;
      const latest = this.#latest();
      if (latest !== undefined && height > latest.state.height) {
        throw new ConsensusStoreError(
          'CONFLICT',
          `pruning below height ${height} would drop the latest checkpoint (height ${latest.state.height})`,
          { details: { height, latestHeight: latest.state.height } },
        );
      }
      // The checkpoints the prune drops are counted before anything is written (a damaged cold
      // block fails the prune; each cold height is read by a prune once, the floor only grows):
      // the cold ones, then the hot ones with no eviction in between. Until the prune applies,
      // an eviction only moves them from one tier to the other, so the count holds.
      const floor = this.#pruneFloor;
      const dropped = await stableUnderEviction(this.#cold, async () => {
        let cold = 0;
        if (overlaps(this.#cold.heights, floor, height - 1)) {
          const firstHot = this.#byRound[0];
          for await (const s of this.#cold.inHeights(floor, height - 1, floor)) if (!sameRound(s, firstHot)) cold++;
        }
        return cold + this.#upperBound(height - 1, Number.POSITIVE_INFINITY);
      });
      const payload = encodeRoundPruneRecord(height, readClock(this.#ctx));
      const [lsn] = await this.#ctx.log.append([{ kind: RecordKind.RoundStatePrune, payload }]);
      if (lsn === undefined) throw new ConsensusStoreError('CORRUPTION', 'log append resolved without an LSN');
      this.apply({ lsn, kind: RecordKind.RoundStatePrune, payload });
      return dropped;
    });
  }

  /**
   * Whether the consensus engine should checkpoint `next` under `checkpointInterval`: true when
   * there is no checkpoint yet, when the height, round, lock, valid value, proposal, proposer or
   * app data differ from the latest checkpoint, when `next` is at least `checkpointInterval`
   * phases past it, or when it moves on to `finalize` (where a restart resumes at the next
   * height). Throws INVALID_ARGUMENT on a malformed state.
   */
  shouldCheckpoint(next: RoundState): boolean {
    assertOpen(this.#ctx);
    const checked = checkRoundState('next', next);
    const latest = this.#latest()?.state;
    if (latest === undefined || latest.height !== checked.height || latest.round !== checked.round) return true;
    const phaseOnly = { ...latest, phase: checked.phase, startedAt: checked.startedAt, updatedAt: checked.updatedAt };
    if (!roundStatesEqual(phaseOnly, checked)) return true;
    const steps = CONSENSUS_PHASES.indexOf(checked.phase) - CONSENSUS_PHASES.indexOf(latest.phase);
    return steps >= this.checkpointInterval || (steps > 0 && checked.phase === 'finalize');
  }

  /**
   * Folds one durable record (replay, or this store's own append). Records at or below the last
   * applied LSN are ignored. Throws CORRUPTION when the payload does not decode, or when it
   * breaks the order the store enforces on writes (a regression, or a state below a prune).
   */
  apply(record: LogRecord): void {
    if (record.lsn <= this.#lastAppliedLsn) return;
    if (record.kind === RecordKind.RoundState) {
      this.#applyState(record.lsn, record.payload);
    } else if (record.kind === RecordKind.RoundStatePrune) {
      this.#applyPrune(record.lsn, record.payload);
    } else {
      throw new ConsensusStoreError('CORRUPTION', `record kind ${record.kind} at LSN ${record.lsn} is not a round-state kind`, {
        details: { lsn: record.lsn },
      });
    }
    this.#lastAppliedLsn = record.lsn;
  }

  /**
   * Captures the index (module comment). Snapshots are replaced, never changed, and a prune
   * splices the array: a shallow copy of it is the state at capture.
   */
  captureImage(): (w: ImageWriter) => void {
    const byRound = this.#byRound.slice();
    const pruneFloor = this.#pruneFloor;
    const lastApplied = this.#lastAppliedLsn;
    const cold = this.#cold.blank ? undefined : this.#cold.copy();
    return (w) => {
      writeSectionVersion(w);
      w.i64(pruneFloor).i64(lastApplied).u32(byRound.length);
      for (const s of byRound) w.i64(s.id).bytes(encodeSnapshot(s));
      cold?.write(w, encodeSnapshot);
    };
  }

  /**
   * Loads the section into this fresh store: each checkpoint must decode and follow the one
   * before it as on replay. @throws Error or CORRUPTION on malformed bytes.
   */
  loadImage(r: ImageReader): void {
    readSectionVersion(r, 'round state');
    const pruneFloor = readUint(r, 'prune floor');
    const lastApplied = readUint(r, 'last applied LSN');
    const count = readCount(r, 12, 'round-state checkpoints');
    let previous = 0;
    for (let i = 0; i < count; i++) {
      const lsn = readUint(r, 'checkpoint LSN');
      if (lsn <= previous || lsn > lastApplied) throw new Error(`round-state image: checkpoint ${i} has LSN ${lsn} out of order`);
      previous = lsn;
      const { state, recordedAt } = decodeRoundStateRecord(r.bytes(1 << 24), lsn);
      // Cold under the store's cut (the image predates a compaction): the tier holds it.
      if (this.#cold.isCold(lsn, state.height)) {
        this.#cold.add({ id: lsn as Lsn, state, recordedAt });
        continue;
      }
      const latest = this.#byRound[this.#byRound.length - 1];
      if (latest !== undefined && latest.state.height === state.height && latest.state.round === state.round) {
        throw new Error(`round-state image: checkpoint ${i} repeats (height ${state.height}, round ${state.round})`);
      }
      // The floor is not set yet: check against it here, and the order as replay does.
      const problem = state.height < pruneFloor ? `height ${state.height} is below the pruned height ${pruneFloor}` : this.#followProblem(state);
      if (problem !== undefined) throw new Error(`round-state image: checkpoint ${i}: ${problem}`);
      this.#byRound.push({ id: lsn as Lsn, state, recordedAt });
    }
    if (r.remaining >= ROUND_TRAILER_MIN_BYTES) this.#cold.read(r);
    r.end();
    this.#pruneFloor = pruneFloor;
    this.#lastAppliedLsn = lastApplied;
  }

  #applyState(lsn: Lsn, payload: Uint8Array): void {
    const { state, recordedAt } = decodeRoundStateRecord(payload, lsn);
    if (this.#cold.isCold(lsn, state.height)) {
      this.#cold.add({ id: lsn, state, recordedAt });
      return;
    }
    const problem = this.#followProblem(state);
    if (problem !== undefined) {
      throw new ConsensusStoreError('CORRUPTION', `round-state record at LSN ${lsn} is out of order: ${problem}`, {
        details: { lsn },
      });
    }
    const snapshot: RoundStateSnapshot = { id: lsn, state, recordedAt };
    const latest = this.#byRound[this.#byRound.length - 1];
    if (latest !== undefined && latest.state.height === state.height && latest.state.round === state.round) {
      this.#byRound[this.#byRound.length - 1] = snapshot;
    } else {
      this.#byRound.push(snapshot);
    }
  }

  #applyPrune(lsn: Lsn, payload: Uint8Array): void {
    const { beforeHeight } = decodeRoundPruneRecord(payload, lsn);
    const latest = this.#latest();
    if (latest !== undefined && beforeHeight > latest.state.height) {
      throw new ConsensusStoreError('CORRUPTION', `prune record at LSN ${lsn} drops the latest checkpoint`, { details: { lsn } });
    }
    if (beforeHeight <= this.#pruneFloor) return;
    this.#pruneFloor = beforeHeight;
    this.#byRound.splice(0, this.#upperBound(beforeHeight - 1, Number.POSITIVE_INFINITY));
  }

  /** The latest checkpoint: the last hot one, else the latest cold one (kept in memory). */
  #latest(): RoundStateSnapshot | undefined {
    return this.#byRound[this.#byRound.length - 1] ?? this.#cold.pinned;
  }

  /** What the cold tier's block index records of a checkpoint. Throws INVALID_ARGUMENT (another kind), CORRUPTION (does not decode). */
  coldKeys(kind: number, payload: Uint8Array): ColdKeys {
    return roundColdKeys(kind, payload);
  }

  /**
   * Fixes the held checkpoints cold under `next` and not under `previous` (the store's cut);
   * returns their producer (LSN order, payloads as the log's). Synchronous, no I/O. Throws
   * INVALID_ARGUMENT on a malformed cut, a `previous` that is not the store's cut, or a `next`
   * below it.
   */
  captureCold(previous: ColdCut, next: ColdCut): () => AsyncIterable<ColdRecord> {
    const cuts = checkCapture(this.#cold.cut, previous, next);
    const fixed = this.#byRound.filter((s) => isColdByHeight(cuts.next, s.id, s.state.height) && !isColdByHeight(cuts.previous, s.id, s.state.height));
    return produceCheckpoints(fixed, encodeSnapshot);
  }

  /**
   * Drops the checkpoints cold under `cut` from memory (the latest of them stays pinned), and
   * reads them from `tier` from now on. Synchronous. Throws INVALID_ARGUMENT on a malformed cut
   * or tier, or a cut below the store's.
   */
  evictCold(cut: ColdCut, tier: ColdTier): void {
    const checked = checkEvict(this.#cold.cut, cut, tier);
    const kept: RoundStateSnapshot[] = [];
    for (const s of this.#byRound) {
      if (isColdByHeight(checked.cut, s.id, s.state.height)) this.#cold.add(s);
      else kept.push(s);
    }
    this.#byRound.splice(0, this.#byRound.length, ...kept);
    this.#cold.cut = checked.cut;
    this.#cold.tier = checked.tier;
    this.#cold.evictions++;
  }

  #followProblem(next: RoundState): string | undefined {
    if (next.height < this.#pruneFloor) return `height ${next.height} is below the pruned height ${this.#pruneFloor}`;
    const latest = this.#latest();
    return latest === undefined ? undefined : roundRegression(latest.state, next);
  }

  #assertMayFollow(next: RoundState): void {
    const problem = this.#followProblem(next);
    if (problem !== undefined) {
      throw new ConsensusStoreError('CONFLICT', problem, {
        details: { height: next.height, round: next.round, phase: next.phase },
      });
    }
  }

  /** Index of the first checkpoint after (height, round) in (height, round) order. */
  #upperBound(height: number, round: number): number {
    let lo = 0;
    let hi = this.#byRound.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = (this.#byRound[mid] as RoundStateSnapshot).state;
      if (s.height < height || (s.height === height && s.round <= round)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
