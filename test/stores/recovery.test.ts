/**
 * LogRecoveryManager on the memory log: a fresh directory, a restart after checkpoints (the last
 * one with its round's votes), the resume point, the open report, and every problem the
 * start-up integrity check must name.
 */
import { describe, expect, it } from 'vitest';
import { RecordKind } from '../../src/codec/kinds.ts';
import { encodeRoundStateRecord } from '../../src/codec/round-record.ts';
import { ConsensusStoreError } from '../../src/errors.ts';
import type { Log, Lsn, OpenReport } from '../../src/log/types.ts';
import { LogRecoveryManager } from '../../src/stores/recovery.ts';
import type { VoteLogEntry } from '../../src/stores/vote-types.ts';
import { roundState } from '../../src/testing/conformance/round-state-store.conformance.ts';
import { MemoryDisk } from '../../src/log/memory-log.ts';
import type { MemoryLog } from '../../src/log/memory-log.ts';
import { openMemoryRounds } from '../support/round-test-log.ts';

/** A stand-in vote store: votes appended as Vote-kind records, answered by round. */
class FakeVotes {
  readonly byRound = new Map<number, VoteLogEntry[]>();
  constructor(private readonly log: Log) {}
  async add(round: number, validatorId: string): Promise<VoteLogEntry> {
    const [lsn] = await this.log.append([{ kind: RecordKind.Vote, payload: new Uint8Array([round]) }]);
    const vote = {
      validatorId,
      height: 1,
      round,
      voteType: 'prevote' as const,
      blockHash: null,
      timestamp: 5,
      signature: new Uint8Array(64),
    };
    const entry: VoteLogEntry = { id: lsn as Lsn, vote, timestamp: 5, recordedAt: 6 };
    this.byRound.set(round, [...(this.byRound.get(round) ?? []), entry]);
    return entry;
  }
  forRound = async (round: number): Promise<readonly VoteLogEntry[]> => this.byRound.get(round) ?? [];
}

async function setup(disk = new MemoryDisk()) {
  const opened = await openMemoryRounds(disk);
  const votes = new FakeVotes(opened.log);
  const recovery = new LogRecoveryManager(opened.ctx, opened.store, votes.forRound);
  return { ...opened, votes, recovery };
}

describe('LogRecoveryManager.recover', () => {
  it('on a fresh directory: recovered false, no votes, integrity ok, the open report passed through', async () => {
    const { recovery } = await setup();
    const state = await recovery.recover();
    expect(state).toMatchObject({ recovered: false, votes: [], integrity: { ok: true, checked: 0, problems: [] } });
    expect(state.roundState).toBeUndefined();
    expect(state.open).toEqual({ tornBytesCut: 0, recordsScanned: 0, segmentsScanned: 1, durationMs: 0 });
    expect(state.durationMs).toBeGreaterThanOrEqual(0);
    expect(await recovery.resumePoint()).toBeUndefined();
  });

  it('after a restart: the last checkpoint with exactly its round\'s votes, all verified', async () => {
    const disk = new MemoryDisk();
    const first = await setup(disk);
    await first.store.saveRoundState(roundState(1, 1, 'finalize'));
    await first.votes.add(1, 'a');
    await first.store.saveRoundState(roundState(2, 2, 'prevote'));
    const v2a = await first.votes.add(2, 'a');
    const v2b = await first.votes.add(2, 'b');
    await first.store.saveRoundState(roundState(2, 2, 'precommit'));
    await first.log.close();

    const second = await setup(disk);
    second.votes.byRound.set(1, [...(first.votes.byRound.get(1) ?? [])]);
    second.votes.byRound.set(2, [v2a, v2b]);
    const state = await second.recovery.recover();
    expect(state.recovered).toBe(true);
    expect(state.roundState?.state).toEqual(roundState(2, 2, 'precommit'));
    expect(state.votes).toEqual([v2a, v2b]);
    expect(state.integrity).toEqual({ ok: true, checked: 3, problems: [] });
    expect(state.open.recordsScanned).toBe(6);
  });

  it('names a checkpoint whose record in the log differs from the indexed state', async () => {
    const { store, log, recovery } = await setup();
    const saved = await store.saveRoundState(roundState(3, 3));
    replaceRecord(log, saved.id, { kind: RecordKind.RoundState, payload: encodeRoundStateRecord(roundState(3, 4), 1) });
    const { integrity } = await recovery.recover();
    expect(integrity.ok).toBe(false);
    expect(integrity.problems).toEqual([expect.stringMatching(/checkpoint LSN 1: the log's record differs/)]);
  });

  it('names a checkpoint record that is missing, of another kind, or does not decode', async () => {
    const { store, log, recovery } = await setup();
    const saved = await store.saveRoundState(roundState(3, 3));
    replaceRecord(log, saved.id, { kind: RecordKind.RoundState, payload: new Uint8Array([0xc1]) });
    expect((await recovery.recover()).integrity.problems).toEqual([expect.stringMatching(/checkpoint LSN 1: CORRUPTION/)]);
    replaceRecord(log, saved.id, { kind: RecordKind.Vote, payload: new Uint8Array() });
    expect((await recovery.recover()).integrity.problems).toEqual([expect.stringMatching(/not a round state/)]);
    log.disk.records.length = 0;
    expect((await recovery.recover()).integrity.problems).toEqual([expect.stringMatching(/LSN 1: no durable record/)]);
  });

  it('names a vote of another round, and a vote LSN that holds no vote record', async () => {
    const { store, recovery, votes } = await setup();
    const saved = await store.saveRoundState(roundState(3, 3));
    const good = await votes.add(3, 'a');
    const wrongRound = await votes.add(2, 'b');
    votes.byRound.set(3, [good, wrongRound, { ...good, id: saved.id }]);
    const { integrity } = await recovery.recover();
    expect(integrity.checked).toBe(4);
    expect(integrity.problems).toEqual([
      expect.stringMatching(/vote LSN 3: returned for round 3 but is of round 2/),
      expect.stringMatching(/vote LSN 1: the log holds a record of kind 20, not a vote/),
    ]);
  });

  it('a read that fails its check is listed; any other read error rejects', async () => {
    const { store, ctx, log } = await setup();
    await store.saveRoundState(roundState(3, 3));
    const failing = (err: Error): LogRecoveryManager =>
      new LogRecoveryManager({ ...ctx, log: withGet(log, () => Promise.reject(err)) }, store, async () => []);
    const corrupt = new ConsensusStoreError('CORRUPTION', 'bad crc', { location: { file: 'wal/1', offset: 64 } });
    expect((await failing(corrupt).recover()).integrity.problems).toEqual([expect.stringMatching(/LSN 1: CORRUPTION: bad crc/)]);
    await expect(failing(new ConsensusStoreError('IO_FAILED', 'eio')).recover()).rejects.toThrow(expect.objectContaining({ code: 'IO_FAILED' }));
  });

  it('reports a repair the open made', async () => {
    const { store, ctx, log } = await setup();
    const repair = { file: 'wal/3', offset: 128, brokenCopy: 'wal/3.broken', firstLostLsn: 9 as Lsn, segmentsDropped: 1, bytesDropped: 4096 };
    const report: OpenReport = { ...log.openReport, tornBytesCut: 17, repair };
    const recovery = new LogRecoveryManager({ ...ctx, log: withOpenReport(log, report) }, store, async () => []);
    expect((await recovery.recover()).open).toMatchObject({ tornBytesCut: 17, repair });
  });
});

describe('LogRecoveryManager.resumePoint', () => {
  it('after finalize: the next height and round at propose, without a lock', async () => {
    const { store, recovery } = await setup();
    const saved = await store.saveRoundState(roundState(7, 20, 'finalize', { lockedRound: 20, lockedBlockHash: new Uint8Array(32) }));
    expect(await recovery.resumePoint()).toEqual({ height: 8, round: 21, phase: 'propose', fromCheckpoint: saved.id });
  });

  it('mid-round: the checkpoint\'s own position with its lock and valid value', async () => {
    const { store, recovery } = await setup();
    const lock = { lockedRound: 19, lockedBlockHash: new Uint8Array(32).fill(1), validRound: 20, validBlockHash: new Uint8Array(32).fill(2) };
    const saved = await store.saveRoundState(roundState(7, 20, 'precommit', lock));
    expect(await recovery.resumePoint()).toEqual({ height: 7, round: 20, phase: 'precommit', ...lock, fromCheckpoint: saved.id });
  });

  it('at the end of the round space there is no next round: CONFLICT', async () => {
    const { store, recovery } = await setup();
    await store.saveRoundState(roundState(7, 2 ** 32 - 1, 'finalize'));
    await expect(recovery.resumePoint()).rejects.toThrow(expect.objectContaining({ code: 'CONFLICT' }));
  });
});

function replaceRecord(log: MemoryLog, lsn: Lsn, record: { kind: number; payload: Uint8Array }): void {
  const i = log.disk.records.findIndex((r) => r.lsn === lsn);
  log.disk.records[i] = { lsn, ...record };
}

function withGet(log: Log, get: Log['get']): Log {
  return new Proxy(log, { get: (target, prop) => (prop === 'get' ? get : Reflect.get(target, prop, target)) });
}

function withOpenReport(log: Log, report: OpenReport): Log {
  return new Proxy(log, { get: (target, prop) => (prop === 'openReport' ? report : Reflect.get(target, prop, target)) });
}
