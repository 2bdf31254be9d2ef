/**
 * The RewardHistory conformance suite: written against `RewardHistory` only, and
 * parameterized by a factory, so that every backend runs the same scenarios. Call
 * `rewardHistoryConformance(name, open)` inside a test file.
 *
 * Totals and statements are checked against a plain bigint model over random distributions
 * (amounts above 2^53 included); a failing property prints its seed. The suite must never reach
 * into a backend's internals: it observes the API, `nextLsn`, and what survives `reopen`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRewardCSV, parseRewardStatementJSON } from '../../stores/reward-statement.ts';
import type { RewardDistribution, RewardEntry, RewardLine, RewardReason } from '../../model/reward.ts';
import type { RewardHistory } from '../../stores/reward-types.ts';
import { REWARD_REASONS } from '../../model/reward.ts';
import { expectCode, expectEveryInvalid, harnessRunner, junkWith, propertySeed, type StoreHarness } from './support.ts';

/** A reward history under test, and how to reopen it on the same data. */
export interface RewardHistoryHarness extends StoreHarness<RewardHistoryHarness> {
  readonly history: RewardHistory;
}

const MAX = (1n << 128n) - 1n;
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);

/** A valid distribution of `lines` at `height` (treasury 2^120 before). */
export function distribution(height: number, lines: readonly RewardLine[], timestamp = T0 + height * 1000): RewardDistribution {
  const total = lines.reduce((s, l) => s + l.amount, 0n);
  const before = 1n << 120n;
  return { height, timestamp, treasuryBefore: before, treasuryAfter: before - total, totalDistributed: total, lines };
}

const line = (validatorId: string, reason: RewardReason, amount: bigint): RewardLine => ({ validatorId, reason, amount });

function junk(): fc.Arbitrary<unknown> {
  return junkWith([fc.constant(-1n), fc.constant(1n << 128n), fc.constant(''), fc.constant('x'.repeat(129)), fc.constant('\udc00')], 4);
}

/** Random distributions at distinct heights, amounts spread over 0..2^100 (well past 2^53). */
function distributionsArb(): fc.Arbitrary<RewardDistribution[]> {
  const amount = fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: 1n << 100n }), fc.constant(2n ** 53n + 1n));
  const lineArb = fc.record({
    validatorId: fc.constantFrom('val-a', 'val-b', 'val, "c"', 'val\nd'),
    reason: fc.constantFrom(...REWARD_REASONS),
    amount,
  });
  const dist = fc.record({ lines: fc.array(lineArb, { maxLength: 6 }), day: fc.nat(400) });
  return fc
    .uniqueArray(fc.tuple(fc.nat(500), dist), { selector: ([h]) => h, maxLength: 25 })
    .map((items) => items.map(([height, d]) => distribution(height, d.lines, T0 + d.day * DAY + height)));
}

/** The plain model: every reward as an entry, sorted by (height, line). */
function modelEntries(dists: readonly RewardDistribution[]): RewardEntry[] {
  return [...dists]
    .sort((x, y) => x.height - y.height)
    .flatMap((d) => d.lines.map((l) => ({ height: d.height, timestamp: d.timestamp, validatorId: l.validatorId, reason: l.reason, amount: l.amount })));
}

const sum = (entries: readonly RewardEntry[]): bigint => entries.reduce((s, e) => s + e.amount, 0n);

/** Registers the RewardHistory conformance scenarios under `describe(name)`. */
export function rewardHistoryConformance(name: string, open: () => Promise<RewardHistoryHarness>): void {
  const withHistory = harnessRunner(open);

  describe(`RewardHistory conformance: ${name}`, () => {
    it('a distribution reads back exactly, with totals at and up to a height', () =>
      withHistory(async ({ history }) => {
        const big = 2n ** 100n + 7n;
        const d = distribution(5, [line('val-a', 'BlockProposal', big), line('val-b', 'SuccessfulVote', 3n)]);
        const stored = await history.recordDistribution(d);
        expect(stored).toMatchObject(d);
        expect(await history.getTotalDistributed(5)).toBe(big + 3n);
        expect(await history.getTotalDistributed(4)).toBe(0n);
        await history.recordDistribution(distribution(9, [line('val-a', 'StorageProof', 10n)]));
        expect(await history.getCumulativeDistributed(4)).toBe(0n);
        expect(await history.getCumulativeDistributed(8)).toBe(big + 3n);
        expect(await history.getCumulativeDistributed(9)).toBe(big + 13n);
        await history.recordDistribution(distribution(7, [line('val-a', 'StorageProof', 1n)]));
        expect(await history.getCumulativeDistributed(8)).toBe(big + 4n);
        const rewards = await history.getValidatorRewards('val-a', { startHeight: 0, endHeight: 100 });
        expect(rewards).toMatchObject({ validatorId: 'val-a', startHeight: 0, endHeight: 100, total: big + 11n, count: 3, truncated: false });
        expect(rewards.byReason).toEqual({ BlockProposal: big, SuccessfulVote: 0n, ValidatorStaking: 0n, StorageProof: 11n });
        expect(rewards.entries.map((e) => e.height)).toEqual([5, 7, 9]);
        const truncated = await history.getValidatorRewards('val-a', { startHeight: 6, endHeight: 9, limit: 1 });
        expect(truncated).toMatchObject({ total: 11n, count: 2, truncated: true });
        expect(truncated.entries).toHaveLength(1);
        const exact = await history.getValidatorRewards('val-a', { startHeight: 6, limit: 2 });
        expect(exact).toMatchObject({ startHeight: 6, endHeight: 2 ** 53 - 1, total: 11n, count: 2, truncated: false });
        expect(exact.entries).toHaveLength(2);
      }));

    it('the same distribution again writes nothing; a different one at that height is CONFLICT', () =>
      withHistory(async ({ history, nextLsn }) => {
        const d = distribution(1, [line('val-a', 'ValidatorStaking', 5n)]);
        const first = await history.recordDistribution(d);
        const before = nextLsn();
        expect(await history.recordDistribution({ ...d, lines: [{ ...d.lines[0] } as RewardLine] })).toEqual(first);
        await expectCode(history.recordDistribution(distribution(1, [line('val-a', 'ValidatorStaking', 6n)])), 'CONFLICT');
        await expectCode(history.recordDistribution({ ...d, timestamp: d.timestamp + 1 }), 'CONFLICT');
        expect(nextLsn()).toBe(before);
      }));

    it('a treasury or sum that does not add up, or an amount out of range, is INVALID_ARGUMENT and writes nothing', () =>
      withHistory(async ({ history, nextLsn }) => {
        const before = nextLsn();
        const d = distribution(1, [line('val-a', 'BlockProposal', 5n), line('val-b', 'SuccessfulVote', 6n)]);
        await expectCode(history.recordDistribution({ ...d, treasuryAfter: d.treasuryAfter + 1n }), 'INVALID_ARGUMENT');
        await expectCode(history.recordDistribution({ ...d, totalDistributed: 12n, treasuryAfter: d.treasuryBefore - 12n }), 'INVALID_ARGUMENT');
        await expectCode(history.recordDistribution(distribution(1, [line('val-a', 'BlockProposal', -1n)])), 'INVALID_ARGUMENT');
        await expectCode(history.recordDistribution({ ...distribution(1, [line('val-a', 'BlockProposal', MAX + 1n)]), treasuryBefore: MAX }), 'INVALID_ARGUMENT');
        await expectCode(history.recordDistribution({ ...d, treasuryBefore: 5n, treasuryAfter: -6n }), 'INVALID_ARGUMENT');
        await expectCode(history.recordDistribution({ ...d, height: 1.5 }), 'INVALID_ARGUMENT');
        await expectCode(history.recordDistribution({ ...d, lines: [{ ...line('val-a', 'BlockProposal', 11n), reason: 'Tips' as RewardReason }] }), 'INVALID_ARGUMENT');
        await expectCode(history.recordDistribution({ ...d, totalDistributed: 11 as unknown as bigint }), 'INVALID_ARGUMENT');
        expect(nextLsn()).toBe(before);
        const top = { height: 2, timestamp: 0, treasuryBefore: MAX, treasuryAfter: 0n, totalDistributed: MAX, lines: [line('val-a', 'StorageProof', MAX)] };
        expect((await history.recordDistribution(top)).totalDistributed).toBe(MAX);
      }));

    it('queries filter by height range, validator and reason, in height order, bounded', () =>
      withHistory(async ({ history }) => {
        await history.recordDistribution(distribution(3, [line('val-a', 'BlockProposal', 1n), line('val-a', 'SuccessfulVote', 1n)]));
        await history.recordDistribution(distribution(1, [line('val-b', 'SuccessfulVote', 1n)]));
        await history.recordDistribution(distribution(2, [line('val-a', 'SuccessfulVote', 1n), line('val-b', 'BlockProposal', 1n)]));
        const heights = async (q: Parameters<RewardHistory['queryDistributions']>[0]) => (await history.queryDistributions(q)).items.map((d) => d.height);
        expect(await heights({})).toEqual([1, 2, 3]);
        expect(await heights({ startHeight: 2 })).toEqual([2, 3]);
        expect(await heights({ validatorId: 'val-a' })).toEqual([2, 3]);
        expect(await heights({ reason: 'BlockProposal' })).toEqual([2, 3]);
        expect(await heights({ validatorId: 'val-b', reason: 'BlockProposal' })).toEqual([2]);
        expect(await heights({ validatorId: 'val-a', reason: 'SuccessfulVote', endHeight: 2 })).toEqual([2]);
        expect(await heights({ limit: 2 })).toEqual([1, 2]);
        expect(await heights({ validatorId: 'val-z' })).toEqual([]);
      }));

    it('a query cut by its limit says truncated; one that is not cut says not', () =>
      withHistory(async ({ history }) => {
        for (const height of [1, 2, 3]) await history.recordDistribution(distribution(height, [line('val-a', 'BlockProposal', 1n)]));
        expect((await history.queryDistributions({ limit: 2 })).truncated).toBe(true);
        expect((await history.queryDistributions({ limit: 3 })).truncated).toBe(false);
        expect((await history.queryDistributions({ validatorId: 'val-a', limit: 2 })).truncated).toBe(true);
        expect((await history.queryDistributions({ validatorId: 'val-a', startHeight: 2, limit: 2 })).truncated).toBe(false);
        expect((await history.queryDistributions({ reason: 'BlockProposal', limit: 1 })).truncated).toBe(true);
        expect((await history.queryDistributions({ reason: 'BlockProposal', endHeight: 1, limit: 1 })).truncated).toBe(false);
      }));

    it('a query with an unknown key, a start after its end or a limit above the maximum is INVALID_ARGUMENT', () =>
      withHistory(async ({ history, nextLsn }) => {
        await history.recordDistribution(distribution(1, [line('val-a', 'BlockProposal', 1n)]));
        const before = nextLsn();
        for (const q of [{ fromHeight: 1 }, { toHeight: 1 }, { startHeight: 1, validator: 'val-a' }, { startHeight: 2, endHeight: 1 }, { limit: 10_001 }]) {
          await expectCode(history.queryDistributions(q as never), 'INVALID_ARGUMENT');
        }
        for (const q of [{ fromHeight: 1 }, { maxEntries: 1 }, { startHeight: 2, endHeight: 1 }, { limit: 1_000_001 }]) {
          await expectCode(history.getValidatorRewards('val-a', q as never), 'INVALID_ARGUMENT');
        }
        for (const q of [{ fromHeight: 1 }, { fromDate: 0 }, { limit: 1 }, { startHeight: 2, endHeight: 1 }, { startDate: 2, endDate: 1 }, { maxEntries: 1_000_001 }]) {
          await expectCode(history.exportRewards(q as never), 'INVALID_ARGUMENT');
        }
        expect(nextLsn()).toBe(before);
      }));

    it('statements by heights or by dates, per validator or for all, with exact totals per reason', () =>
      withHistory(async ({ history }) => {
        await history.recordDistribution(distribution(1, [line('val-a', 'BlockProposal', 2n ** 60n)], Date.UTC(2023, 11, 31, 23, 59, 59, 999)));
        await history.recordDistribution(distribution(2, [line('val-a', 'SuccessfulVote', 3n), line('val-b', 'StorageProof', 4n)], Date.UTC(2024, 0, 1)));
        await history.recordDistribution(distribution(3, [line('val-a', 'ValidatorStaking', 5n)], Date.UTC(2025, 0, 1)));
        const year = await history.exportRewards({ startDate: new Date(Date.UTC(2024, 0, 1)), endDate: Date.UTC(2025, 0, 1) });
        expect(year.entries.map((e) => e.height)).toEqual([2, 2]);
        expect(year.total).toBe(7n);
        expect(year.period).toEqual({ kind: 'dates', fromDate: Date.UTC(2024, 0, 1), toDate: Date.UTC(2025, 0, 1) });
        const mine = await history.exportRewards({ validatorId: 'val-a', startHeight: 1, endHeight: 2 });
        expect(mine.total).toBe(2n ** 60n + 3n);
        expect(mine.byReason).toEqual({ BlockProposal: 2n ** 60n, SuccessfulVote: 3n, ValidatorStaking: 0n, StorageProof: 0n });
        const all = await history.exportRewards();
        expect(all.entries).toHaveLength(4);
        expect(all.period).toEqual({ kind: 'all' });
        await expectCode(history.exportRewards({ startHeight: 1, endDate: 5 }), 'INVALID_ARGUMENT');
        await expectCode(history.exportRewards({ maxEntries: 3 }), 'INVALID_ARGUMENT');
        await expectCode(history.exportRewards({ startDate: new Date(Number.NaN) }), 'INVALID_ARGUMENT');
      }));

    it('a statement round-trips through CSV and JSON, ids with commas, quotes and line breaks included', () =>
      withHistory(async ({ history }) => {
        const ids = ['plain', 'with,comma', 'with "quotes"', 'multi\r\nline', ' padded '];
        await history.recordDistribution(distribution(1, ids.map((id, i) => line(id, REWARD_REASONS[i % 4] as RewardReason, 2n ** 64n + BigInt(i)))));
        const statement = await history.exportRewards();
        const csv = statement.toCSV();
        expect(csv.split('\r\n')[0]).toBe('height,timestamp,validator,reason,amount');
        expect(csv).toContain('1,2024-01-01T00:00:01.000Z,plain,BlockProposal,18446744073709551616\r\n');
        expect(parseRewardCSV(csv)).toEqual(statement.entries);
        const back = parseRewardStatementJSON(JSON.stringify(statement));
        expect(back.entries).toEqual(statement.entries);
        expect(back.total).toBe(statement.total);
        expect(back.byReason).toEqual(statement.byReason);
      }));

    it('property: totals, queries and statements equal a plain bigint model (amounts past 2^53), also after reopen', async () => {
      const seed = propertySeed('REWARD_SEED', 'reward model property');
      await fc.assert(
        fc.asyncProperty(distributionsArb(), fc.nat(500), fc.nat(500), async (dists, x, y) => {
          let h = await open();
          try {
            for (const d of dists) await h.history.recordDistribution(d);
            const [from, to] = x <= y ? [x, y] : [y, x];
            const entries = modelEntries(dists);
            for (let pass = 0; pass < 2; pass++) {
              const history = h.history;
              for (const id of ['val-a', 'val, "c"']) {
                const mine = entries.filter((e) => e.validatorId === id && e.height >= from && e.height <= to);
                const got = await history.getValidatorRewards(id, { startHeight: from, endHeight: to });
                expect(got.total).toBe(sum(mine));
                expect(got.entries).toEqual(mine);
                for (const r of REWARD_REASONS) expect(got.byReason[r]).toBe(sum(mine.filter((e) => e.reason === r)));
              }
              expect(await history.getCumulativeDistributed(to)).toBe(sum(entries.filter((e) => e.height <= to)));
              const at = dists.find((d) => d.height === from);
              expect(await history.getTotalDistributed(from)).toBe(at?.totalDistributed ?? 0n);
              const statement = await history.exportRewards({ startHeight: from, endHeight: to });
              const inRange = entries.filter((e) => e.height >= from && e.height <= to);
              expect(statement.entries).toEqual(inRange);
              expect(statement.total).toBe(sum(inRange));
              expect(parseRewardCSV(statement.toCSV())).toEqual(inRange);
              const byDate = await history.exportRewards({ startDate: T0 + from * DAY, endDate: T0 + to * DAY });
              const dated = entries
                .filter((e) => e.timestamp >= T0 + from * DAY && e.timestamp < T0 + to * DAY)
                .sort((p, q) => p.timestamp - q.timestamp || p.height - q.height);
              expect(byDate.entries).toEqual(dated);
              expect((await history.queryDistributions({ startHeight: from, endHeight: to })).items.map((d) => d.height)).toEqual(
                [...new Set(inRange.map((e) => e.height))].concat(
                  dists.filter((d) => d.lines.length === 0 && d.height >= from && d.height <= to).map((d) => d.height),
                ).sort((p, q) => p - q),
              );
              h = await h.reopen();
            }
          } finally {
            await h.close();
          }
        }),
        { seed, numRuns: 40 },
      );
    });

    it('bad arguments to every method reject INVALID_ARGUMENT, write nothing, and leave the history usable', () =>
      withHistory(async ({ history, nextLsn }) => {
        const before = nextLsn();
        const valid = distribution(1, [line('val-a', 'BlockProposal', 5n)]);
        const distField = fc.tuple(fc.constantFrom('height', 'timestamp', 'treasuryBefore', 'treasuryAfter', 'totalDistributed', 'lines'), junk());
        const lineField = fc.tuple(fc.constantFrom('validatorId', 'reason', 'amount'), junk());
        const calls = fc.oneof(
          distField.map(([k, v]) => () => history.recordDistribution({ ...valid, [k]: v } as unknown as RewardDistribution)),
          lineField.map(([k, v]) => () => history.recordDistribution({ ...valid, lines: [{ ...valid.lines[0], [k]: v }] } as unknown as RewardDistribution)),
          junk().map((v) => () => history.recordDistribution(v as RewardDistribution)),
          junk().map((v) => () => history.getValidatorRewards(v as string)),
          fc.tuple(fc.constantFrom('startHeight', 'endHeight', 'limit'), junk().filter((v) => v !== undefined)).map(
            ([k, v]) => () => history.getValidatorRewards('val-a', { [k]: v }),
          ),
          junk()
            .filter((v) => v !== undefined && (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array))
            .map((v) => () => history.getValidatorRewards('val-a', v as never)),
          junk().map((v) => () => history.getTotalDistributed(v as number)),
          junk().map((v) => () => history.getCumulativeDistributed(v as number)),
          fc.tuple(fc.constantFrom('startHeight', 'endHeight', 'validatorId', 'reason', 'limit', 'fromHeight'), junk().filter((v) => v !== undefined)).map(
            ([k, v]) => () => history.queryDistributions({ [k]: v }),
          ),
          fc.tuple(fc.constantFrom('validatorId', 'startHeight', 'endHeight', 'startDate', 'endDate', 'maxEntries', 'fromDate'), junk().filter((v) => v !== undefined)).map(
            ([k, v]) => () => history.exportRewards({ [k]: v }),
          ),
        );
        await expectEveryInvalid(calls, (call) => call(), undefined, { numRuns: 300, verbose: 1 });
        expect(nextLsn()).toBe(before);
        expect((await history.recordDistribution(valid)).height).toBe(1);
      }));

    it('reopening (replay) gives the same answers', () =>
      withHistory(async (h) => {
        const d1 = await h.history.recordDistribution(distribution(4, [line('val-a', 'BlockProposal', 2n ** 90n)]));
        const d2 = await h.history.recordDistribution(distribution(2, [line('val-b', 'StorageProof', 1n)]));
        const reopened = await h.reopen();
        expect(await reopened.history.queryDistributions()).toEqual({ items: [d2, d1], truncated: false });
        expect(await reopened.history.getCumulativeDistributed(10)).toBe(2n ** 90n + 1n);
        expect(await reopened.history.getTotalDistributed(4)).toBe(2n ** 90n);
        return reopened;
      }));
  });
}
