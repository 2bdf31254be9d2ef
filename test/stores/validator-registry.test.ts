/**
 * ValidatorRegistry on the memory log, beyond the conformance suite: the registry limit, failed
 * and concurrent writes, a crash mid-write, and every way a stored record can fail replay.
 */
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { RecordKind } from '../../src/codec/kinds.ts';
import { decodeValidatorRecord, encodeValidatorRecord } from '../../src/codec/validator-record.ts';
import type { RegisterRecord, ValidatorRecord } from '../../src/codec/validator-record.ts';
import { isStoreError } from '../../src/errors.ts';
import type { Lsn } from '../../src/log/types.ts';
import type { LogValidatorRegistry } from '../../src/stores/validator-registry.ts';
import { MAX_STAKE } from '../../src/model/validator.ts';
import { MAX_VALIDATORS } from '../../src/stores/validator-types.ts';
import { expectCode } from '../../src/testing/conformance/round-state-store.conformance.ts';
import { MemoryDisk } from '../../src/log/memory-log.ts';
import { openMemoryRegistry, testPublicKey } from '../support/round-test-log.ts';

const packr = new Packr({ useRecords: false });

function register(n: number, height = 1, stake = 100n): RegisterRecord {
  return { kind: 'register', id: `val-${n}`, publicKey: testPublicKey(n), stake, status: 'active', height, recordedAt: 1 };
}

function applyRecord(store: LogValidatorRegistry, lsn: number, record: ValidatorRecord): void {
  const input = encodeValidatorRecord(record);
  store.apply({ lsn: lsn as Lsn, kind: input.kind, payload: input.payload });
}

function expectCorruption(fn: () => void): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(isStoreError(thrown, 'CORRUPTION'), String(thrown)).toBe(true);
}

describe('ValidatorRegistry writes', () => {
  it('a registry at MAX_VALIDATORS refuses another registration with CONFLICT', async () => {
    const { store, log } = await openMemoryRegistry();
    const key = new Uint8Array(32);
    for (let i = 0; i < MAX_VALIDATORS; i++) {
      new DataView(key.buffer).setUint32(0, i);
      const id = `v${i.toString().padStart(6, '0')}`;
      applyRecord(store, i + 1, { kind: 'register', id, publicKey: key, stake: 1n, status: 'active', height: 1, recordedAt: 1 });
    }
    expect((await store.getValidatorsAtHeight(1)).validators).toHaveLength(MAX_VALIDATORS);
    const lsn = log.nextLsn;
    await expectCode(store.registerValidator({ validatorId: 'one-more', publicKey: testPublicKey(1), stake: 1n }, 1), 'CONFLICT');
    expect(log.nextLsn).toBe(lsn);
  });

  it('a write whose append fails (DISK_FULL) is not indexed, and the next one works', async () => {
    const { store, log } = await openMemoryRegistry();
    await store.registerValidator({ validatorId: 'a', publicKey: testPublicKey(1), stake: 5n }, 1);
    log.failNextAppends('DISK_FULL');
    await expectCode(store.updateStake('a', 6n, 2), 'DISK_FULL');
    expect((await store.getValidator('a'))?.stake).toBe(5n);
    await store.updateStake('a', 7n, 2);
    expect((await store.getValidatorHistory('a')).items.map((c) => c.after.stake)).toEqual([5n, 7n]);
  });

  it('concurrent changes are checked in call order: a lower height after a higher one is CONFLICT', async () => {
    const { store } = await openMemoryRegistry();
    await store.registerValidator({ validatorId: 'a', publicKey: testPublicKey(1), stake: 5n }, 1);
    const [hi, lo] = await Promise.allSettled([store.updateStake('a', 9n, 10), store.updateStake('a', 8n, 5)]);
    expect(hi.status).toBe('fulfilled');
    expect(lo.status === 'rejected' && isStoreError(lo.reason, 'CONFLICT')).toBe(true);
  });

  it('concurrent registrations of one id: the first wins, the second is CONFLICT', async () => {
    const { store } = await openMemoryRegistry();
    const [a, b] = await Promise.allSettled([
      store.registerValidator({ validatorId: 'a', publicKey: testPublicKey(1), stake: 5n }, 1),
      store.registerValidator({ validatorId: 'a', publicKey: testPublicKey(2), stake: 5n }, 1),
    ]);
    expect(a.status).toBe('fulfilled');
    expect(b.status === 'rejected' && isStoreError(b.reason, 'CONFLICT')).toBe(true);
  });

  it('a change in flight at a crash is gone after reopen; the ones before it stand', async () => {
    const disk = new MemoryDisk();
    const first = await openMemoryRegistry(disk);
    await first.store.registerValidator({ validatorId: 'a', publicKey: testPublicKey(1), stake: 5n }, 1);
    void first.store.updateStake('a', 6n, 2);
    first.log.crash();
    const second = await openMemoryRegistry(disk);
    expect((await second.store.getValidator('a'))?.stake).toBe(5n);
  });

  it('a broken injected clock is a RangeError, and nothing is written', async () => {
    const { store, log } = await openMemoryRegistry(undefined, () => -5);
    await expect(store.registerValidator({ validatorId: 'a', publicKey: testPublicKey(1), stake: 5n }, 1)).rejects.toBeInstanceOf(RangeError);
    expect(log.nextLsn).toBe(1);
  });

  it('results are copies: mutating one changes nothing stored', async () => {
    const { store } = await openMemoryRegistry();
    const change = await store.registerValidator({ validatorId: 'a', publicKey: testPublicKey(1), stake: 5n }, 1);
    change.after.publicKey.fill(0);
    (await store.getValidator('a'))?.publicKey.fill(0);
    expect((await store.getValidator('a'))?.publicKey).toEqual(testPublicKey(1));
  });
});

describe('ValidatorRegistry replay', () => {
  it('a record applied twice (same LSN) is folded once', async () => {
    const { store } = await openMemoryRegistry();
    applyRecord(store, 1, register(1));
    applyRecord(store, 1, register(1));
    expect((await store.getValidatorHistory('val-1')).items).toHaveLength(1);
  });

  it('a change that could not have been written is CORRUPTION naming the LSN', async () => {
    const { store } = await openMemoryRegistry();
    applyRecord(store, 1, register(1, 10));
    const cases: ValidatorRecord[] = [
      { kind: 'stake', id: 'nobody', stake: 1n, height: 10, recordedAt: 1 },
      { kind: 'stake', id: 'val-1', stake: 1n, height: 9, recordedAt: 1 },
      register(1, 11),
      { ...register(2, 11), publicKey: testPublicKey(1) },
      { kind: 'slash', id: 'val-1', height: 10, requested: 200n, amount: 101n, reason: 'x', recordedAt: 1 },
    ];
    let lsn = 2;
    for (const record of cases) expectCorruption(() => applyRecord(store, lsn++, record));
    applyRecord(store, lsn++, { kind: 'status', id: 'val-1', status: 'tombstoned', height: 10, reason: 'x', recordedAt: 1 });
    expectCorruption(() => applyRecord(store, lsn++, { kind: 'status', id: 'val-1', status: 'active', height: 10, reason: 'x', recordedAt: 1 }));
    expect(() => applyRecord(store, lsn, { kind: 'stake', id: 'val-1', stake: 1n, height: 9, recordedAt: 1 })).toThrow(new RegExp(`LSN ${lsn}`));
  });

  it('an undecodable payload is CORRUPTION', () => {
    const bad: Array<[number, Uint8Array]> = [
      [RecordKind.ValidatorRegistered, new Uint8Array([0xc1])],
      [RecordKind.ValidatorRegistered, packr.pack([2, 'a', testPublicKey(1), '1', 0, 1, 1])],
      [RecordKind.ValidatorRegistered, packr.pack([1, 'a', testPublicKey(1), '01', 0, 1, 1])],
      [RecordKind.ValidatorRegistered, packr.pack([1, 'a', testPublicKey(1), '-1', 0, 1, 1])],
      [RecordKind.ValidatorRegistered, packr.pack([1, 'a', testPublicKey(1), (MAX_STAKE + 1n).toString(), 0, 1, 1])],
      [RecordKind.ValidatorRegistered, packr.pack([1, 'a', testPublicKey(1), 1, 0, 1, 1])],
      [RecordKind.ValidatorRegistered, packr.pack([1, 'a', new Uint8Array(31), '1', 0, 1, 1])],
      [RecordKind.ValidatorRegistered, packr.pack([1, 'a', testPublicKey(1), '1', 7, 1, 1])],
      [RecordKind.ValidatorStake, packr.pack([1, 'a', '1', 1, '', 1])],
      [RecordKind.ValidatorStatus, packr.pack([1, 'a', 0, 1, 'r'])],
      [RecordKind.ValidatorSlash, packr.pack([1, 'a', 1, '5', '6', null, null, 'r', 1])],
      [RecordKind.ValidatorSlash, packr.pack([1, 'a', 1, '5', '5', null, 0, 'r', 1])],
      [RecordKind.ValidatorSlash, packr.pack([1, 'a', 1, '5', '5', '', null, 'r', 1])],
      [RecordKind.Vote, packr.pack([1])],
    ];
    for (const [kind, payload] of bad) {
      let thrown: unknown;
      try {
        decodeValidatorRecord(kind, payload, 3);
      } catch (err) {
        thrown = err;
      }
      expect(isStoreError(thrown, 'CORRUPTION'), `kind ${kind}`).toBe(true);
    }
  });

  it('every record kind round-trips through its encoding', () => {
    const records: ValidatorRecord[] = [
      register(1, 1, MAX_STAKE),
      { kind: 'stake', id: 'a', stake: 0n, height: 2, recordedAt: 3 },
      { kind: 'stake', id: 'a', stake: 12345678901234567890n, height: 2, reason: 'r', recordedAt: 3 },
      { kind: 'status', id: 'a', status: 'inactive', height: 2, reason: 'r', recordedAt: 3 },
      { kind: 'slash', id: 'a', height: 2, requested: 9n, amount: 4n, reason: 'r', recordedAt: 3 },
      { kind: 'slash', id: 'a', height: 2, requested: 9n, amount: 9n, evidenceId: 'e', status: 'tombstoned', reason: 'r', recordedAt: 3 },
    ];
    for (const record of records) {
      const input = encodeValidatorRecord(record);
      expect(decodeValidatorRecord(input.kind, input.payload, 1)).toEqual(record);
    }
  });
});
