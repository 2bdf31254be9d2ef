/**
 * LogRecoveryManager: what a restarted validator asks first (docs/stores-rounds-validators.md). It reads the view the
 * open rebuilt (the latest round-state checkpoint and that round's votes), reports what the
 * log's open did, and verifies at start-up that the indexed checkpoint is what the log holds.
 *
 * It only reads: it must never write to the log, and never hide a problem it found (every
 * mismatch is listed in `integrity.problems`).
 */
import { ConsensusStoreError, isStoreError } from '../errors.ts';
import { RecordKind } from '../codec/kinds.ts';
import { decodeRoundStateRecord } from '../codec/round-record.ts';
import { roundStatesEqual } from '../model/round.ts';
import type { Lsn } from '../log/types.ts';
import { MAX_SAFE, MAX_U32 } from '../model/check.ts';
import { assertOpen, type StoreContext } from './context.ts';
import type { IntegrityReport, RecoveryManager, RecoveryOpenReport, RecoveryState, ResumePoint, RoundStateSnapshot, RoundStateStore } from './round-types.ts';
import type { VoteLogEntry } from './vote-types.ts';

/** Most of the recovered round's votes re-read from the log by the integrity check. */
export const MAX_INTEGRITY_VOTE_READS = 10_000;

/** Collects the problems the integrity check finds. */
type ProblemSink = (problem: string) => void;

/**
 * Brings a restarted validator back to where it was (the specification's LogRecoveryManager).
 * `votesForRound` is the vote store's query for one round's votes.
 */
export class LogRecoveryManager implements RecoveryManager {
  readonly #ctx: StoreContext;
  readonly #rounds: RoundStateStore;
  readonly #votesForRound: (round: number) => Promise<readonly VoteLogEntry[]>;

  /**
   * @param ctx the shared log and clock.
   * @param rounds the round-state store, already replayed.
   * @param votesForRound resolves with the stored votes of one round.
   */
  constructor(
    ctx: StoreContext,
    rounds: RoundStateStore,
    votesForRound: (round: number) => Promise<readonly VoteLogEntry[]>,
  ) {
    this.#ctx = ctx;
    this.#rounds = rounds;
    this.#votesForRound = votesForRound;
  }

  /**
   * The latest checkpoint with its round's votes, what the open did, and a start-up integrity
   * check: the checkpoint record is re-read through the log and must decode to the indexed
   * state; each of the round's votes (up to `MAX_INTEGRITY_VOTE_READS`) must be a durable vote
   * record of that round. `recovered` is false when no checkpoint exists (a fresh directory).
   * Rejects CLOSED after close, and on read errors other than CORRUPTION (those are listed as
   * problems).
   */
  async recover(): Promise<RecoveryState> {
    assertOpen(this.#ctx);
    const started = performance.now();
    const roundState = await this.#rounds.loadRoundState();
    const votes = roundState === undefined ? [] : await this.#votesForRound(roundState.state.round);
    const integrity = await this.#checkIntegrity(roundState, votes);
    const base = { recovered: roundState !== undefined, votes, open: this.#openReport(), integrity };
    const durationMs = performance.now() - started;
    return roundState === undefined ? { ...base, durationMs } : { ...base, roundState, durationMs };
  }

  /**
   * Where the consensus engine resumes, or undefined on a fresh directory. After a `finalize`
   * checkpoint: the next height, the next round, `propose`, no lock. Otherwise the checkpoint's
   * own height, round, phase, lock and valid value. Rejects CONFLICT when the next height or
   * round would leave its range (2^53-1, 2^32-1); CLOSED after close.
   */
  async resumePoint(): Promise<ResumePoint | undefined> {
    assertOpen(this.#ctx);
    const latest = await this.#rounds.loadRoundState();
    if (latest === undefined) return undefined;
    return resumePointOf(latest);
  }

  #openReport(): RecoveryOpenReport {
    const r = this.#ctx.log.openReport;
    const base = {
      tornBytesCut: r.tornBytesCut,
      recordsScanned: r.recordsScanned,
      segmentsScanned: r.segmentsScanned,
      durationMs: r.durationMs,
    };
    return r.repair === undefined ? base : { ...base, repair: r.repair };
  }

  async #checkIntegrity(
    roundState: RoundStateSnapshot | undefined,
    votes: readonly VoteLogEntry[],
  ): Promise<IntegrityReport> {
    const problems: string[] = [];
    const sink: ProblemSink = (p) => problems.push(p);
    let checked = 0;
    if (roundState !== undefined) {
      await this.#checkCheckpoint(roundState, sink);
      checked++;
      for (const entry of votes.slice(0, MAX_INTEGRITY_VOTE_READS)) {
        await this.#checkVote(entry, roundState.state.round, sink);
        checked++;
      }
    }
    return { ok: problems.length === 0, checked, problems };
  }

  async #checkCheckpoint(snapshot: RoundStateSnapshot, sink: ProblemSink): Promise<void> {
    const lsn = snapshot.id;
    const record = await this.#read(lsn, sink);
    if (record === undefined) return;
    if (record.kind !== RecordKind.RoundState) {
      sink(`checkpoint LSN ${lsn}: the log holds a record of kind ${record.kind}, not a round state`);
      return;
    }
    try {
      const decoded = decodeRoundStateRecord(record.payload, lsn);
      if (!roundStatesEqual(decoded.state, snapshot.state) || decoded.recordedAt !== snapshot.recordedAt) {
        sink(`checkpoint LSN ${lsn}: the log's record differs from the indexed round state`);
      }
    } catch (err) {
      if (!isStoreError(err, 'CORRUPTION')) throw err;
      sink(`checkpoint LSN ${lsn}: ${err.code}: ${err.message}`);
    }
  }

  async #checkVote(entry: VoteLogEntry, round: number, sink: ProblemSink): Promise<void> {
    if (entry.vote.round !== round) {
      sink(`vote LSN ${entry.id}: returned for round ${round} but is of round ${entry.vote.round}`);
    }
    const record = await this.#read(entry.id, sink);
    if (record !== undefined && record.kind !== RecordKind.Vote) {
      sink(`vote LSN ${entry.id}: the log holds a record of kind ${record.kind}, not a vote`);
    }
  }

  /**
   * The durable record at `lsn`; undefined (with the problem listed) when it is missing or
   * corrupt, and undefined without a problem when a compaction released it from the hot log (its
   * bytes were checked where the store read them: the local image's chunk hashes, or the cold
   * block's CRC; docs/stores.md, "Bounded history").
   */
  async #read(lsn: Lsn, sink: ProblemSink): Promise<{ kind: number; payload: Uint8Array } | undefined> {
    if (lsn < (this.#ctx.log.firstLsn ?? 1)) return undefined;
    try {
      const record = await this.#ctx.log.get(lsn);
      if (record === undefined) sink(`LSN ${lsn}: no durable record in the log`);
      return record;
    } catch (err) {
      if (!isStoreError(err, 'CORRUPTION')) throw err;
      sink(`LSN ${lsn}: ${err.code}: ${err.message}`);
      return undefined;
    }
  }
}

/**
 * Where a restarted validator goes on from its latest checkpoint (`RecoveryManager.resumePoint`,
 * on every backend): after a `finalize` checkpoint, the next height and round, `propose`, no
 * lock; otherwise the checkpoint's own height, round, phase, lock and valid value.
 * @throws ConsensusStoreError CONFLICT when the next height or round would leave its range.
 */
export function resumePointOf(latest: RoundStateSnapshot): ResumePoint {
  const s = latest.state;
  if (s.phase === 'finalize') {
    if (s.height >= MAX_SAFE || s.round >= MAX_U32) {
      throw new ConsensusStoreError('CONFLICT', `no height or round after (height ${s.height}, round ${s.round})`);
    }
    return { height: s.height + 1, round: s.round + 1, phase: 'propose', fromCheckpoint: latest.id };
  }
  const point: { -readonly [K in keyof ResumePoint]: ResumePoint[K] } = { height: s.height, round: s.round, phase: s.phase, fromCheckpoint: latest.id };
  if (s.lockedRound !== undefined && s.lockedBlockHash !== undefined) {
    point.lockedRound = s.lockedRound;
    point.lockedBlockHash = s.lockedBlockHash;
  }
  if (s.validRound !== undefined && s.validBlockHash !== undefined) {
    point.validRound = s.validRound;
    point.validBlockHash = s.validBlockHash;
  }
  return point;
}
