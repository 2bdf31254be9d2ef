/**
 * RewardHistory behaviour beyond the conformance suite: concurrent writes at one height, failed
 * appends, the line limit, corrupt records on replay, and the CSV and JSON readers refusing
 * what the export never writes.
 */
import { describe, expect, it } from 'vitest';
import { encodeDistributionRecord } from '../../src/codec/reward-record.ts';
import { RecordKind } from '../../src/codec/kinds.ts';
import type { Lsn } from '../../src/log/types.ts';
import { csvField, parseRewardCSV, parseRewardStatementJSON, RewardStatement } from '../../src/stores/reward-statement.ts';
import { MAX_REWARD_LINES } from '../../src/model/reward.ts';
import { distribution } from '../../src/testing/conformance/reward-history.conformance.ts';
import { expectCode } from '../../src/testing/conformance/round-state-store.conformance.ts';
import { openMemoryRewards } from '../support/evidence-test-log.ts';

const line = { validatorId: 'val-a', reason: 'BlockProposal' as const, amount: 7n };

describe('RewardHistory internals', () => {
  it('two concurrent identical distributions write one record; a concurrent different one is CONFLICT', async () => {
    const { history, log } = await openMemoryRewards();
    const d = distribution(1, [line]);
    const results = await Promise.allSettled([
      history.recordDistribution(d),
      history.recordDistribution(d),
      history.recordDistribution(distribution(1, [{ ...line, amount: 8n }])),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(log.disk.records).toHaveLength(1);
    await log.close();
  });

  it('a failed append indexes nothing and the history stays usable', async () => {
    const { history, log } = await openMemoryRewards();
    log.failNextAppends('DISK_FULL');
    await expectCode(history.recordDistribution(distribution(1, [line])), 'DISK_FULL');
    expect(await history.getTotalDistributed(1)).toBe(0n);
    expect((await history.recordDistribution(distribution(1, [line]))).totalDistributed).toBe(7n);
    await log.close();
  });

  it('refuses more than MAX_REWARD_LINES lines, and accepts exactly that many', async () => {
    const { history, log } = await openMemoryRewards();
    const many = Array.from({ length: MAX_REWARD_LINES + 1 }, (_, i) => ({ ...line, validatorId: `val-${i}`, amount: 1n }));
    await expectCode(history.recordDistribution(distribution(1, many)), 'INVALID_ARGUMENT');
    expect(log.nextLsn).toBe(1);
    const stored = await history.recordDistribution(distribution(1, many.slice(1)));
    expect(stored.lines).toHaveLength(MAX_REWARD_LINES);
    await log.close();
  });

  it('replay refuses a payload that does not decode, breaks the treasury equation, or contradicts a height', async () => {
    const { history, log } = await openMemoryRewards();
    const apply = (lsn: number, payload: Uint8Array) => () => history.apply({ lsn: lsn as Lsn, kind: RecordKind.RewardDistribution, payload });
    expect(apply(1, Uint8Array.of(1, 2))).toThrow(expect.objectContaining({ code: 'CORRUPTION' }));
    const broken = encodeDistributionRecord({ ...distribution(1, [line]), treasuryAfter: 0n }, 1);
    expect(apply(2, broken.payload)).toThrow(expect.objectContaining({ code: 'CORRUPTION' }));
    apply(3, encodeDistributionRecord(distribution(1, [line]), 1).payload)();
    apply(4, encodeDistributionRecord(distribution(1, [line]), 2).payload)();
    expect(apply(5, encodeDistributionRecord(distribution(1, [{ ...line, amount: 1n }]), 1).payload)).toThrow(expect.objectContaining({ code: 'CORRUPTION' }));
    expect(history.size).toBe(1);
    await log.close();
  });

  it('CSV fields are quoted only when they must be, and the reader refuses what the export never writes', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    const header = 'height,timestamp,validator,reason,amount\r\n';
    const good = `${header}1,2024-01-01T00:00:00.000Z,"a,b",BlockProposal,340282366920938463463374607431768211455\r\n`;
    expect(parseRewardCSV(good)).toEqual([
      { height: 1, timestamp: Date.UTC(2024, 0, 1), validatorId: 'a,b', reason: 'BlockProposal', amount: (1n << 128n) - 1n },
    ]);
    for (const bad of [
      'nope\r\n',
      `${header}1,2024-01-01T00:00:00Z,v,BlockProposal,1\r\n`,
      `${header}1,2024-01-01T00:00:00.000Z,v,BlockProposal,01\r\n`,
      `${header}1,2024-01-01T00:00:00.000Z,v,BlockProposal,-1\r\n`,
      `${header}1,2024-01-01T00:00:00.000Z,v,BlockProposal,340282366920938463463374607431768211456\r\n`,
      `${header}1.5,2024-01-01T00:00:00.000Z,v,BlockProposal,1\r\n`,
      `${header}1,2024-01-01T00:00:00.000Z,v,Tips,1\r\n`,
      `${header}1,2024-01-01T00:00:00.000Z,v,BlockProposal\r\n`,
      `${header}1,2024-01-01T00:00:00.000Z,"v,BlockProposal,1\r\n`,
      `${header}1,2024-01-01T00:00:00.000Z,v"x,BlockProposal,1\r\n`,
    ]) {
      expect(() => parseRewardCSV(bad), bad).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  it('the JSON reader refuses totals that do not match the entries', () => {
    const statement = new RewardStatement({
      validatorId: 'val-a',
      period: { kind: 'heights', fromHeight: 0, toHeight: 9 },
      generatedAt: 0,
      entries: [{ height: 1, timestamp: 0, validatorId: 'val-a', reason: 'StorageProof', amount: 2n ** 70n }],
    });
    const json = statement.toJSON();
    expect(json.total).toBe('1180591620717411303424');
    expect(parseRewardStatementJSON(json).period).toEqual(statement.period);
    expect(() => parseRewardStatementJSON({ ...json, total: '1' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => parseRewardStatementJSON({ ...json, byReason: { ...json.byReason, StorageProof: '0' } })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => parseRewardStatementJSON({ ...json, version: 2 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => parseRewardStatementJSON('{')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
