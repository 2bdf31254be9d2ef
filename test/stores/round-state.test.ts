/**
 * LogRoundStateStore on the memory log, beyond the conformance suite: options and the checkpoint
 * policy, failed and lost writes, and every way a stored record can fail replay.
 */
import { describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import { RecordKind } from '../../src/codec/kinds.ts';
import { decodeRoundStateRecord, encodeRoundPruneRecord, encodeRoundStateRecord } from '../../src/codec/round-record.ts';
import { isStoreError } from '../../src/errors.ts';
import type { Lsn } from '../../src/log/types.ts';
import { LogRoundStateStore } from '../../src/stores/round-state-store.ts';
import { expectCode, roundState } from '../../src/testing/conformance/round-state-store.conformance.ts';
import { MemoryDisk } from '../../src/log/memory-log.ts';
import { openMemoryRounds } from '../support/round-test-log.ts';

const packr = new Packr({ useRecords: false });

function expectThrowCode(fn: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(isStoreError(thrown) && thrown.code === code, `expected ${code}, got ${String(thrown)}`).toBe(true);
}

describe('LogRoundStateStore options', () => {
  it('checkpointInterval defaults to 1 and keeps a configured value', async () => {
    expect((await openMemoryRounds()).store.checkpointInterval).toBe(1);
    expect((await openMemoryRounds(undefined, { checkpointInterval: 3 })).store.checkpointInterval).toBe(3);
  });

  it('a bad checkpointInterval or options value is INVALID_ARGUMENT at construction', async () => {
    const { ctx } = await openMemoryRounds();
    for (const bad of [0, 1001, 1.5, '2', null]) {
      expectThrowCode(() => new LogRoundStateStore(ctx, { checkpointInterval: bad as number }), 'INVALID_ARGUMENT');
    }
    expectThrowCode(() => new LogRoundStateStore(ctx, null as never), 'INVALID_ARGUMENT');
  });
});

describe('shouldCheckpoint applies the interval to phase changes only', () => {
  it('with interval 2: every height, round, lock or finalize change checkpoints; phase steps every second', async () => {
    const { store } = await openMemoryRounds(undefined, { checkpointInterval: 2 });
    expect(store.shouldCheckpoint(roundState(1, 1, 'propose'))).toBe(true);
    await store.saveRoundState(roundState(1, 1, 'propose'));
    expect(store.shouldCheckpoint(roundState(1, 1, 'propose', { updatedAt: 5_000 }))).toBe(false);
    expect(store.shouldCheckpoint(roundState(1, 1, 'prevote'))).toBe(false);
    expect(store.shouldCheckpoint(roundState(1, 1, 'precommit'))).toBe(true);
    expect(store.shouldCheckpoint(roundState(1, 1, 'prevote', { lockedRound: 1, lockedBlockHash: new Uint8Array(32) }))).toBe(true);
    expect(store.shouldCheckpoint(roundState(1, 2, 'propose'))).toBe(true);
    expect(store.shouldCheckpoint(roundState(2, 2, 'propose'))).toBe(true);
    await store.saveRoundState(roundState(1, 1, 'commit'));
    expect(store.shouldCheckpoint(roundState(1, 1, 'finalize'))).toBe(true);
  });

  it('with interval 1 every phase change checkpoints', async () => {
    const { store } = await openMemoryRounds();
    await store.saveRoundState(roundState(1, 1, 'propose'));
    expect(store.shouldCheckpoint(roundState(1, 1, 'prevote'))).toBe(true);
    expectThrowCode(() => store.shouldCheckpoint({ height: -1 } as never), 'INVALID_ARGUMENT');
  });
});

describe('failed and lost writes', () => {
  it('a save whose append fails (DISK_FULL) is not indexed, and the next save works', async () => {
    const { store, log } = await openMemoryRounds();
    await store.saveRoundState(roundState(1, 1));
    log.failNextAppends('DISK_FULL');
    await expectCode(store.saveRoundState(roundState(2, 2)), 'DISK_FULL');
    expect((await store.loadRoundState())?.state.height).toBe(1);
    await store.saveRoundState(roundState(2, 2));
    expect((await store.loadRoundState())?.state.height).toBe(2);
  });

  it('a prune whose append fails drops nothing', async () => {
    const { store, log } = await openMemoryRounds();
    await store.saveRoundState(roundState(1, 1));
    await store.saveRoundState(roundState(2, 2));
    log.failNextAppends('IO_FAILED');
    await expectCode(store.pruneBeforeHeight(2), 'IO_FAILED');
    expect((await store.listRoundStates()).items).toHaveLength(2);
    expect(store.pruneFloor).toBe(0);
  });

  it('a save in flight at a crash is gone after reopen; the one before it stands', async () => {
    const disk = new MemoryDisk();
    const first = await openMemoryRounds(disk);
    await first.store.saveRoundState(roundState(1, 1));
    void first.store.saveRoundState(roundState(2, 2));
    first.log.crash();
    const second = await openMemoryRounds(disk);
    expect((await second.store.loadRoundState())?.state).toEqual(roundState(1, 1));
    await second.store.saveRoundState(roundState(2, 2));
  });

  it('a broken injected clock is a RangeError, and nothing is written', async () => {
    const { store, log } = await openMemoryRounds(undefined, {}, () => Number.NaN);
    const lsn = log.nextLsn;
    await expect(store.saveRoundState(roundState(1, 1))).rejects.toBeInstanceOf(RangeError);
    expect(log.nextLsn).toBe(lsn);
  });
});

describe('replay of stored records', () => {
  const at = (lsn: number) => lsn as Lsn;

  it('a record applied twice (same LSN) is folded once', async () => {
    const { store } = await openMemoryRounds();
    const payload = encodeRoundStateRecord(roundState(1, 1), 5);
    store.apply({ lsn: at(1), kind: RecordKind.RoundState, payload });
    store.apply({ lsn: at(1), kind: RecordKind.RoundState, payload });
    expect((await store.listRoundStates()).items).toHaveLength(1);
  });

  it('an undecodable payload is CORRUPTION naming the LSN', async () => {
    const { store } = await openMemoryRounds();
    const payloads = [
      new Uint8Array([0xc1]),
      packr.pack({ height: 1 }),
      packr.pack([2, 1, 1, 0, null, null, null, null, null, null, null, 1, 1, 1]),
      packr.pack([1, 1, 1, 9, null, null, null, null, null, null, null, 1, 1, 1]),
      packr.pack([1, -1, 1, 0, null, null, null, null, null, null, null, 1, 1, 1]),
      packr.pack([1, 1, 1, 0, 1, null, null, null, null, null, null, 1, 1, 1]),
      packr.pack([1, 1, 1, 0, null, null, null, null, null, null, null, 1, 1, 'x']),
    ];
    for (const payload of payloads) {
      expectThrowCode(() => store.apply({ lsn: at(7), kind: RecordKind.RoundState, payload }), 'CORRUPTION');
    }
    expectThrowCode(() => store.apply({ lsn: at(7), kind: RecordKind.RoundStatePrune, payload: packr.pack([1, 'x', 1]) }), 'CORRUPTION');
    expectThrowCode(() => store.apply({ lsn: at(7), kind: RecordKind.Vote, payload: new Uint8Array() }), 'CORRUPTION');
    expect(() => decodeRoundStateRecord(new Uint8Array([0xc1]), 42)).toThrow(/LSN 42/);
    expect(await store.loadRoundState()).toBeUndefined();
  });

  it('a stored regression, a state below a prune, or a prune past the latest is CORRUPTION', async () => {
    const { store } = await openMemoryRounds();
    store.apply({ lsn: at(1), kind: RecordKind.RoundState, payload: encodeRoundStateRecord(roundState(5, 5), 1) });
    expectThrowCode(
      () => store.apply({ lsn: at(2), kind: RecordKind.RoundState, payload: encodeRoundStateRecord(roundState(4, 6), 1) }),
      'CORRUPTION',
    );
    expectThrowCode(() => store.apply({ lsn: at(3), kind: RecordKind.RoundStatePrune, payload: encodeRoundPruneRecord(6, 1) }), 'CORRUPTION');
    store.apply({ lsn: at(4), kind: RecordKind.RoundStatePrune, payload: encodeRoundPruneRecord(5, 1) });
    store.apply({ lsn: at(5), kind: RecordKind.RoundStatePrune, payload: encodeRoundPruneRecord(2, 1) });
    expect(store.pruneFloor).toBe(5);
  });

  it('a replayed prune on an empty store raises the floor for later saves', async () => {
    const { store } = await openMemoryRounds();
    store.apply({ lsn: at(1), kind: RecordKind.RoundStatePrune, payload: encodeRoundPruneRecord(10, 1) });
    expectThrowCode(
      () => store.apply({ lsn: at(2), kind: RecordKind.RoundState, payload: encodeRoundStateRecord(roundState(9, 1), 1) }),
      'CORRUPTION',
    );
  });
});
