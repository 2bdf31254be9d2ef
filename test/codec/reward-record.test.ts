// A reward distribution's round on disk (docs/evidence-and-rewards.md, "Record"): a
// distribution with a round is a 9-field record and reads back with it; one without is the
// 8-field record written before rounds were kept, byte for byte, and reads back without one; a
// bad round is INVALID_ARGUMENT at the API and CORRUPTION in a record.
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeDistributionRecord, encodeDistributionRecord } from '../../src/codec/reward-record.ts';
import { checkDistribution, sameDistribution } from '../../src/model/reward.ts';
import type { Lsn } from '../../src/model/log-record.ts';
import type { RewardDistribution } from '../../src/model/reward.ts';

const LSN = 3 as Lsn;
const packr = new Packr({ useRecords: false, moreTypes: false });
const base: RewardDistribution = {
  height: 7,
  timestamp: 1_700_000_000_000,
  treasuryBefore: 100n,
  treasuryAfter: 90n,
  totalDistributed: 10n,
  lines: [{ validatorId: 'v1', reason: 'BlockProposal', amount: 10n }],
};

describe('reward distribution records and their round', () => {
  it('keep the round through encode and decode, and write the old 8 fields when there is none', () => {
    const withRound = { ...base, round: 12 };
    const bytes = encodeDistributionRecord(withRound, 5).payload;
    expect((packr.unpack(bytes) as unknown[]).length).toBe(9);
    expect(decodeDistributionRecord(bytes, LSN).distribution).toEqual(withRound);
    const old = encodeDistributionRecord(base, 5).payload;
    const fields = packr.unpack(old) as unknown[];
    expect(fields.length).toBe(8);
    const decoded = decodeDistributionRecord(old, LSN).distribution;
    expect(decoded).toEqual(base);
    expect('round' in decoded).toBe(false);
    // Same height, another round: not the same distribution (a second record is CONFLICT).
    expect(sameDistribution(checkDistribution('d', withRound), checkDistribution('d', base))).toBe(false);
    expect(sameDistribution(checkDistribution('d', withRound), checkDistribution('d', { ...withRound }))).toBe(true);
  });

  it('refuse a bad round: INVALID_ARGUMENT at the check, CORRUPTION in a record', () => {
    for (const round of [-1, 1.5, 2 ** 32, '3', null]) {
      expect(() => checkDistribution('d', { ...base, round }), String(round)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    const fields = packr.unpack(encodeDistributionRecord({ ...base, round: 1 }, 5).payload) as unknown[];
    for (const bad of [-1, 'x', null, 2 ** 32]) {
      const payload = packr.pack([...fields.slice(0, 8), bad]);
      expect(() => decodeDistributionRecord(payload, LSN), String(bad)).toThrow(expect.objectContaining({ code: 'CORRUPTION' }));
    }
    expect(() => decodeDistributionRecord(packr.pack([...fields, 1]), LSN)).toThrow(expect.objectContaining({ code: 'CORRUPTION' }));
  });
});
