/**
 * The recovery manager on PostgreSQL: the same answers as the WAL's (src/stores/recovery.ts):
 * the latest checkpoint with its round's votes, and a start-up integrity check that re-reads the
 * checkpoint's row of `records` and each vote's row of `votes` and compares them with what the
 * stores answered. The open report is empty (a database has no torn tail to cut).
 *
 * It must never write anything.
 */
import { isStoreError } from '../errors.ts';
import { equalBytes } from '../codec/bytes.ts';
import { RecordKind } from '../codec/kinds.ts';
import { decodeRoundStateRecord } from '../codec/round-record.ts';
import type { Lsn } from '../log/types.ts';
import { roundStatesEqual } from '../model/round.ts';
import type { IntegrityReport, RecoveryManager, RecoveryState, ResumePoint, RoundStateSnapshot, RoundStateStore } from '../stores/round-types.ts';
import type { VoteLogEntry, VoteStore } from '../stores/vote-types.ts';
import { resumePointOf } from '../stores/recovery.ts';
import { bytes, num, type PgDb } from './db.ts';
import type { PgRecordLog } from './record-log.ts';

/** Recovery over the round-state store (records) and the vote store (votes). */
export class PgRecoveryManager implements RecoveryManager {
  readonly #db: PgDb;
  readonly #records: PgRecordLog;
  readonly #rounds: RoundStateStore;
  readonly #votes: VoteStore;

  constructor(db: PgDb, records: PgRecordLog, rounds: RoundStateStore, votes: VoteStore) {
    this.#db = db;
    this.#records = records;
    this.#rounds = rounds;
    this.#votes = votes;
  }

  async recover(): Promise<RecoveryState> {
    this.#db.assertOpen();
    const started = performance.now();
    const roundState = await this.#rounds.loadRoundState();
    const votes = roundState === undefined ? [] : await this.#votes.getVotesForRound(roundState.state.round);
    const integrity = await this.#check(roundState, votes);
    const open = { tornBytesCut: 0, recordsScanned: 0, segmentsScanned: 0, durationMs: 0 };
    const base = { recovered: roundState !== undefined, votes, open, integrity };
    const durationMs = performance.now() - started;
    return roundState === undefined ? { ...base, durationMs } : { ...base, roundState, durationMs };
  }

  async resumePoint(): Promise<ResumePoint | undefined> {
    this.#db.assertOpen();
    const latest = await this.#rounds.loadRoundState();
    if (latest === undefined) return undefined;
    return resumePointOf(latest);
  }

  async #check(roundState: RoundStateSnapshot | undefined, votes: readonly VoteLogEntry[]): Promise<IntegrityReport> {
    const problems: string[] = [];
    if (roundState === undefined) return { ok: true, checked: 0, problems };
    const record = await this.#records.get(roundState.id);
    if (record === undefined || record.kind !== RecordKind.RoundState) problems.push(`checkpoint LSN ${roundState.id}: no round-state row`);
    else {
      try {
        const decoded = decodeRoundStateRecord(record.payload, roundState.id);
        if (!roundStatesEqual(decoded.state, roundState.state) || decoded.recordedAt !== roundState.recordedAt) {
          problems.push(`checkpoint LSN ${roundState.id}: the stored row differs from the answered round state`);
        }
      } catch (err) {
        if (!isStoreError(err, 'CORRUPTION')) throw err;
        problems.push(`checkpoint LSN ${roundState.id}: ${err.message}`);
      }
    }
    const ids = votes.map((v) => v.id);
    const { rows } = await this.#db.direct.query(`SELECT lsn, round, validator_id, signature FROM ${this.#db.t('votes')} WHERE lsn = ANY($1::bigint[])`, [ids]);
    const byLsn = new Map(rows.map((r) => [num(r['lsn']), r]));
    for (const v of votes) {
      const r = byLsn.get(v.id);
      if (v.vote.round !== roundState.state.round) problems.push(`vote LSN ${v.id}: returned for round ${roundState.state.round} but is of round ${v.vote.round}`);
      if (r === undefined) problems.push(`vote LSN ${v.id as Lsn}: no vote row`);
      else if (num(r['round']) !== v.vote.round || r['validator_id'] !== v.vote.validatorId || !equalBytes(bytes(r['signature']), v.vote.signature)) {
        problems.push(`vote LSN ${v.id}: the stored row differs from the answered vote`);
      }
    }
    return { ok: problems.length === 0, checked: 1 + votes.length, problems };
  }
}
