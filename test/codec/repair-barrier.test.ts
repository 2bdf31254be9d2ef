// The sign guard's repair barrier record: version 2 carries the log's repair id (so that a repair
// is recorded once, whatever crash comes between its batch and the log's acknowledgement) and may
// carry no lost LSN; version 1 (an LSN only) still reads; anything else is CORRUPTION.
import { describe, expect, it } from 'vitest';
import { decodeRepairBarrier, encodeRepairBarrier } from '../../src/codec/sign-guard-record.ts';
import type { LogRecord, Lsn } from '../../src/log/types.ts';

const record = (payload: Uint8Array): LogRecord => ({ lsn: 5 as Lsn, kind: 12, payload });

describe('repair barrier payloads', () => {
  it('round-trip version 2, with and without a lost LSN, up to 2^53-1', () => {
    expect(decodeRepairBarrier(record(encodeRepairBarrier(41, 7)))).toEqual({ firstLostLsn: 41, repairId: 7 });
    expect(decodeRepairBarrier(record(encodeRepairBarrier(undefined, 8)))).toEqual({ firstLostLsn: undefined, repairId: 8 });
    const max = Number.MAX_SAFE_INTEGER;
    expect(decodeRepairBarrier(record(encodeRepairBarrier(max, max)))).toEqual({ firstLostLsn: max, repairId: max });
  });

  it('read version 1 (16 bytes, an LSN, no repair id)', () => {
    const v1 = new Uint8Array(16);
    v1[0] = 1;
    v1[8] = 200;
    expect(decodeRepairBarrier(record(v1))).toEqual({ firstLostLsn: 200, repairId: undefined });
  });

  it('reject malformed payloads as CORRUPTION', () => {
    const good = encodeRepairBarrier(41, 7);
    const bad: [string, Uint8Array][] = [
      ['empty', new Uint8Array(0)],
      ['version 3', Uint8Array.from(good, (b, i) => (i === 0 ? 3 : b))],
      ['reserved byte set', Uint8Array.from(good, (b, i) => (i === 3 ? 1 : b))],
      ['short', good.slice(0, 20)],
      ['repair id 0', encodeRepairBarrier(41, 7).fill(0, 16)],
      ['LSN over 2^53', Uint8Array.from(good, (b, i) => (i === 15 ? 0xff : b))],
      ['version 1 without an LSN', Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? 1 : 0))],
    ];
    for (const [what, payload] of bad) {
      expect(() => decodeRepairBarrier(record(payload)), what).toThrow(expect.objectContaining({ code: 'CORRUPTION' }));
    }
  });
});
