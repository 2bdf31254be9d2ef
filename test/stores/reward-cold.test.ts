/**
 * The reward history across the hot and cold tiers (docs/stores.md, "Bounded history"): a
 * model-based property (seed printed; replay with REWARD_COLD_SEED) runs one random workload of
 * distributions (out of height order, repeated, conflicting), compactions into a MemoryColdTier,
 * images and reopens on two histories, one never compacted, and requires every query and
 * statement to answer the same on both, limits and cut edges included. Then: totals and hot
 * queries read no cold block, a cumulative total inside the cold heights reads the smaller side,
 * a damaged block fails only the queries that need it, a write at a cold height is checked
 * against the tier, and every error path of the cold members and of the image trailer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { corruption } from '../../src/errors.ts';
import { MemoryColdTier } from '../../src/cold/memory-tier.ts';
import type { ColdBlockRef, ColdCut, ColdFilter, ColdRecord, ColdTier } from '../../src/cold/types.ts';
import { NO_CUT } from '../../src/cold/types.ts';
import { ImageReader, ImageWriter } from '../../src/codec/image-section.ts';
import { RecordKind } from '../../src/codec/kinds.ts';
import { encodeDistributionRecord } from '../../src/codec/reward-record.ts';
import { MemoryDisk, MemoryLog } from '../../src/log/memory-log.ts';
import type { Lsn } from '../../src/log/types.ts';
import { REWARD_REASONS } from '../../src/model/reward.ts';
import type { RewardDistribution, RewardLine, RewardReason } from '../../src/model/reward.ts';
import { LogRewardHistory } from '../../src/stores/reward-history.ts';
import { distribution } from '../../src/testing/conformance/reward-history.conformance.ts';
import { propertySeed } from '../../src/testing/conformance/support.ts';
import { tickingClock } from '../support/round-test-log.ts';

const T0 = Date.UTC(2024, 0, 1);
const VALIDATORS = ['va', 'vb', 'vc', 'vd'];
const TOP = 26;

/** A call's outcome as one comparable value: what it resolved with, or its error's code and message. */
async function settle(call: () => unknown): Promise<unknown> {
  try {
    return { ok: await call() };
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    return { code: e.code, message: e.message };
  }
}

/** One history on its own memory disk, with its cold tier, cut and last image. */
class Side {
  readonly disk = new MemoryDisk();
  readonly now = tickingClock();
  readonly tier = new MemoryColdTier();
  cut: ColdCut = NO_CUT;
  log: MemoryLog;
  store: LogRewardHistory;
  image: { bytes: Uint8Array; lsn: number } | undefined;

  constructor() {
    this.log = MemoryLog.open(this.disk);
    this.store = new LogRewardHistory({ log: this.log, now: this.now });
  }

  /** Moves the distributions below `height` (and up to the last durable LSN) to the tier, `blockRecords` per block. */
  async compact(height: number, blockRecords: number): Promise<number> {
    const previous = this.cut;
    const { to, produce } = await this.log.capture((lastLsn) => {
      const next: ColdCut = { height: Math.max(previous.height, height), lsn: Math.max(previous.lsn, lastLsn) };
      return { to: next, produce: this.store.captureCold(previous, next) };
    });
    const records: ColdRecord[] = [];
    for await (const r of produce()) records.push(r);
    this.tier.add(records, (r) => this.store.coldKeys(r.kind, r.payload), to, blockRecords);
    this.store.evictCold(to, this.tier);
    this.cut = to;
    return records.length;
  }

  async takeImage(): Promise<void> {
    const { write, lsn } = await this.log.capture((lastLsn) => ({ write: this.store.captureImage(), lsn: lastLsn as number }));
    const w = new ImageWriter();
    write(w);
    this.image = { bytes: w.finish(), lsn };
  }

  /** A fresh history on the same disk: the cut first, then the image (when asked and taken) and the log after it. */
  async reopen(useImage: boolean): Promise<void> {
    await this.log.close();
    this.log = MemoryLog.open(this.disk);
    this.store = new LogRewardHistory({ log: this.log, now: this.now });
    this.store.evictCold(this.cut, this.tier);
    let from = 1;
    if (useImage && this.image !== undefined) {
      this.store.loadImage(new ImageReader(this.image.bytes));
      from = this.image.lsn + 1;
    }
    await this.log.scan((r) => {
      if (this.store.kinds.includes(r.kind)) this.store.apply(r);
    }, from as Lsn);
  }
}

/** Every query and statement of the RewardHistory interface, over its heights, times, validators and the cut's edges. */
async function answers(h: LogRewardHistory, cut: ColdCut): Promise<unknown[]> {
  const out: unknown[] = [h.size];
  for (let height = 0; height <= TOP; height++) {
    out.push(await settle(() => h.getTotalDistributed(height)));
    out.push(await settle(() => h.getCumulativeDistributed(height)));
  }
  out.push(await settle(() => h.getCumulativeDistributed(Number.MAX_SAFE_INTEGER)));
  const c = Math.min(cut.height, TOP);
  const ranges = [{}, { startHeight: 0, endHeight: Math.max(0, c - 1) }, { startHeight: c, endHeight: TOP }, { startHeight: Math.max(0, c - 1), endHeight: c }, { startHeight: 5, endHeight: 20 }, { startHeight: c }];
  for (const v of [...VALIDATORS, 'nobody']) {
    for (const range of ranges) {
      for (const limit of [1, 3, undefined]) out.push(await settle(() => h.getValidatorRewards(v, limit === undefined ? range : { ...range, limit })));
    }
  }
  for (const validatorId of [undefined, 'va', 'vc']) {
    for (const reason of [undefined, 'BlockProposal', 'StorageProof'] as const) {
      for (const range of ranges) {
        for (const limit of [1, 2, undefined]) {
          const q = { ...range, ...(validatorId === undefined ? {} : { validatorId }), ...(reason === undefined ? {} : { reason }), ...(limit === undefined ? {} : { limit }) };
          out.push(await settle(() => h.queryDistributions(q)));
        }
      }
    }
  }
  const statements = [
    {},
    { maxEntries: 3 },
    { startHeight: 0, endHeight: Math.max(0, c - 1) },
    { startHeight: c, endHeight: TOP },
    { startHeight: 4, endHeight: 17, maxEntries: 5 },
    { startDate: T0 + 5_000, endDate: T0 + 20_000 },
    { startDate: T0, endDate: T0 + 11_000 },
    { startDate: new Date(T0 + 11_000) },
    { endDate: T0 + 30_000, maxEntries: 4 },
  ];
  for (const validatorId of [undefined, 'vb']) {
    for (const q of statements) out.push(await settle(() => h.exportRewards(validatorId === undefined ? q : { ...q, validatorId })));
  }
  return out;
}

type Op =
  | { readonly op: 'record'; readonly height: number; readonly second: number; readonly lines: readonly RewardLine[] }
  | { readonly op: 'repeat'; readonly pick: number; readonly change: boolean }
  | { readonly op: 'compact'; readonly height: number; readonly block: number }
  | { readonly op: 'image' }
  | { readonly op: 'reopen'; readonly image: boolean }
  | { readonly op: 'check' };

const lineArb: fc.Arbitrary<RewardLine> = fc.record({
  validatorId: fc.constantFrom(...VALIDATORS),
  reason: fc.constantFrom(...REWARD_REASONS) as fc.Arbitrary<RewardReason>,
  amount: fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: 1n << 100n })),
});

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ op: fc.constant('record' as const), height: fc.integer({ min: 0, max: TOP - 1 }), second: fc.integer({ min: 0, max: 29 }), lines: fc.array(lineArb, { minLength: 1, maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('repeat' as const), pick: fc.nat(), change: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('compact' as const), height: fc.integer({ min: 0, max: TOP + 2 }), block: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'image' as const }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('reopen' as const), image: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ op: 'check' as const }) },
);

describe('reward history across the hot and cold tiers', () => {
  it('answers every query and statement the same as a history never compacted, through compactions, images and reopens', async () => {
    const seed = propertySeed('REWARD_COLD_SEED', 'reward cold model');
    let moved = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 50, size: 'max' }), async (ops) => {
        const reference = new Side();
        const compacted = new Side();
        const sent: RewardDistribution[] = [];
        const agree = async (): Promise<void> => {
          expect(await answers(compacted.store, compacted.cut)).toEqual(await answers(reference.store, compacted.cut));
        };
        const record = async (d: RewardDistribution): Promise<void> => {
          expect(await settle(() => compacted.store.recordDistribution(d))).toEqual(await settle(() => reference.store.recordDistribution(d)));
        };
        for (const op of ops) {
          if (op.op === 'record') {
            const d = distribution(op.height, op.lines, T0 + op.second * 1000);
            sent.push(d);
            await record(d);
          } else if (op.op === 'repeat') {
            const d = sent[op.pick % Math.max(1, sent.length)];
            if (d !== undefined) await record(op.change ? distribution(d.height, [...d.lines, { validatorId: 'vd', reason: 'StorageProof', amount: 1n }], d.timestamp) : d);
          } else if (op.op === 'compact') {
            moved += await compacted.compact(op.height, op.block);
          } else if (op.op === 'image') {
            await compacted.takeImage();
          } else if (op.op === 'reopen') {
            await compacted.reopen(op.image);
          } else {
            await agree();
          }
        }
        await agree();
        expect(compacted.log.nextLsn).toBe(reference.log.nextLsn);
        await reference.log.close();
        await compacted.log.close();
      }),
      { seed, numRuns: 40 },
    );
    // The workload did move distributions to the cold tier.
    expect(moved).toBeGreaterThan(40);
  }, 300_000);
});

/** A history with one distribution per height 1..n (va at every height, vb at odd ones, vz above `cutHeight`), compacted below `cutHeight` in blocks of 2. */
async function compactedHistory(n: number, cutHeight: number): Promise<{ side: Side; reference: Side }> {
  const side = new Side();
  const reference = new Side();
  for (let height = 1; height <= n; height++) {
    const lines: RewardLine[] = [{ validatorId: 'va', reason: 'BlockProposal', amount: BigInt(height) }];
    if (height % 2 === 1) lines.push({ validatorId: 'vb', reason: 'SuccessfulVote', amount: 1n << 90n });
    if (height >= cutHeight) lines.push({ validatorId: 'vz', reason: 'StorageProof', amount: 5n });
    for (const s of [side, reference]) await s.store.recordDistribution(distribution(height, lines, T0 + height * 1000));
  }
  await side.compact(cutHeight, 2);
  return { side, reference };
}

/** A tier that answers as `inner` but whose block holding `height` fails its checksum. */
class DamagedTier implements ColdTier {
  constructor(
    readonly inner: MemoryColdTier,
    readonly height: number,
  ) {}
  get cut(): ColdCut {
    return this.inner.cut;
  }
  countOf(kind: number): number {
    return this.inner.countOf(kind);
  }
  blocks(filter: ColdFilter): Promise<ColdBlockRef[]> {
    return this.inner.blocks(filter);
  }
  read(block: ColdBlockRef): Promise<ColdRecord[]> {
    if (block.minHeight <= this.height && block.maxHeight >= this.height) return Promise.reject(corruption(block.file, block.offset, 'cold block checksum mismatch'));
    return this.inner.read(block);
  }
}


/** A tier that answers as the side's, but runs `once` (a compaction) inside the next block read: an eviction in the middle of a query. */
class EvictingTier implements ColdTier {
  once: (() => Promise<unknown>) | undefined;
  fired = 0;
  constructor(readonly inner: MemoryColdTier) {}
  get cut(): ColdCut {
    return this.inner.cut;
  }
  countOf(kind: number): number {
    return this.inner.countOf(kind);
  }
  blocks(filter: ColdFilter): Promise<ColdBlockRef[]> {
    return this.inner.blocks(filter);
  }
  async read(block: ColdBlockRef): Promise<ColdRecord[]> {
    const run = this.once;
    this.once = undefined;
    if (run !== undefined) {
      await run();
      this.fired++;
    }
    return this.inner.read(block);
  }
}

describe('reward history: what reads the cold tier', () => {
  it('size, totals over every height, hot ranges and hot writes read no cold block; an old height reads one', async () => {
    const { side, reference } = await compactedHistory(30, 20);
    const h = side.store;
    expect(side.tier.countOf(RecordKind.RewardDistribution)).toBe(19);
    side.tier.reads = 0;
    expect(h.size).toBe(30);
    const sum = (n: number): bigint => {
      let total = 0n;
      for (let i = 1; i <= n; i++) total += BigInt(i) + (i % 2 === 1 ? 1n << 90n : 0n) + (i >= 20 ? 5n : 0n);
      return total;
    };
    expect(await h.getCumulativeDistributed(25)).toBe(sum(25));
    expect(await h.getCumulativeDistributed(19)).toBe(sum(19));
    expect(await h.getCumulativeDistributed(0)).toBe(0n);
    expect(await h.getTotalDistributed(25)).toBe(25n + (1n << 90n) + 5n);
    expect(await h.getTotalDistributed(40)).toBe(0n);
    const vz = await h.getValidatorRewards('vz');
    expect([vz.total, vz.count, vz.truncated]).toEqual([55n, 11, false]);
    // Totals of a validator with cold rewards come from the aggregate; the list stops at its limit.
    const va = await h.getValidatorRewards('va', { startHeight: 20 });
    expect(va.total).toBe(BigInt((20 + 30) * 11 / 2));
    expect((await h.queryDistributions({ startHeight: 20, limit: 2 })).items.map((d) => d.height)).toEqual([20, 21]);
    expect((await h.exportRewards({ startDate: T0 + 20_000 })).entries).toHaveLength(11 + 5 + 11);
    expect((await h.recordDistribution(distribution(31, [{ validatorId: 'va', reason: 'BlockProposal', amount: 1n }], T0 + 31_000))).height).toBe(31);
    expect((await h.exportRewards({ startDate: T0 + 5_000, endDate: T0 + 5_000 })).entries).toEqual([]);
    expect(side.tier.reads).toBe(0);
    const all = await h.getValidatorRewards('va', { limit: 2 });
    expect([all.total, all.count, all.entries.map((e) => e.height), all.truncated]).toEqual([BigInt((31 * 32) / 2) - 30n, 31, [1, 2], true]);
    expect(side.tier.reads).toBe(1);
    side.tier.reads = 0;
    expect(await h.getTotalDistributed(5)).toBe(5n + (1n << 90n));
    expect(side.tier.reads).toBe(1);
    await reference.store.recordDistribution(distribution(31, [{ validatorId: 'va', reason: 'BlockProposal', amount: 1n }], T0 + 31_000));
    expect(await h.getValidatorRewards('va', { limit: 2 })).toEqual(await reference.store.getValidatorRewards('va', { limit: 2 }));
    await side.log.close();
    await reference.log.close();
  });

  it('a query that reads the tier across an eviction answers as if the eviction came before or after it', async () => {
    const { side, reference } = await compactedHistory(30, 10);
    const tier = new EvictingTier(side.tier);
    const queries: [(h: LogRewardHistory) => Promise<unknown>, number][] = [
      [(h) => h.getCumulativeDistributed(5), 20],
      [(h) => h.queryDistributions({ limit: 15 }), 22],
      [(h) => h.getValidatorRewards('vb', { startHeight: 3 }), 24],
      [(h) => h.exportRewards({ startHeight: 2 }), 26],
    ];
    for (const [query, height] of queries) {
      side.store.evictCold(side.cut, tier);
      tier.once = () => side.compact(height, 2);
      expect(await settle(() => query(side.store))).toEqual(await settle(() => query(reference.store)));
      expect(side.cut.height).toBe(height);
    }
    // A read that fails while an eviction runs is retried on the tier the eviction left.
    side.store.evictCold(side.cut, tier);
    tier.once = async () => {
      await side.compact(28, 2);
      throw corruption('memory-gone', 0, 'a file the compaction replaced');
    };
    expect(await side.store.getCumulativeDistributed(3)).toBe(await reference.store.getCumulativeDistributed(3));
    expect(side.cut.height).toBe(28);
    expect(tier.fired).toBe(4);
    await side.log.close();
    await reference.log.close();
  });

  it('a cumulative total inside the cold heights reads the smaller side of the cut', async () => {
    const { side, reference } = await compactedHistory(30, 20);
    side.tier.reads = 0;
    expect(await side.store.getCumulativeDistributed(17)).toBe(await reference.store.getCumulativeDistributed(17));
    expect(side.tier.reads).toBe(2);
    side.tier.reads = 0;
    expect(await side.store.getCumulativeDistributed(2)).toBe(await reference.store.getCumulativeDistributed(2));
    expect(side.tier.reads).toBe(1);
    await side.log.close();
    await reference.log.close();
  });

  it('a damaged cold block fails only the queries that need it, and a write at its height writes nothing', async () => {
    const { side, reference } = await compactedHistory(30, 20);
    side.store.evictCold(side.cut, new DamagedTier(side.tier, 3));
    const h = side.store;
    await expect(h.getTotalDistributed(3)).rejects.toMatchObject({ code: 'CORRUPTION', location: { file: 'memory-1', offset: 2 } });
    await expect(h.queryDistributions({ endHeight: 5 })).rejects.toMatchObject({ code: 'CORRUPTION' });
    await expect(h.exportRewards({ startDate: T0, endDate: T0 + 4_000 })).rejects.toMatchObject({ code: 'CORRUPTION' });
    await expect(h.getValidatorRewards('vb', { startHeight: 2, endHeight: 9 })).rejects.toMatchObject({ code: 'CORRUPTION' });
    const before = side.log.nextLsn;
    await expect(h.recordDistribution(distribution(3, [{ validatorId: 'va', reason: 'BlockProposal', amount: 3n }]))).rejects.toMatchObject({ code: 'CORRUPTION' });
    expect(side.log.nextLsn).toBe(before);
    expect(await h.getTotalDistributed(9)).toBe(await reference.store.getTotalDistributed(9));
    expect(await h.getCumulativeDistributed(25)).toBe(await reference.store.getCumulativeDistributed(25));
    expect(await h.getValidatorRewards('vb', { startHeight: 5 })).toEqual(await reference.store.getValidatorRewards('vb', { startHeight: 5 }));
    expect(await h.queryDistributions({ startHeight: 5, limit: 3 })).toEqual(await reference.store.queryDistributions({ startHeight: 5, limit: 3 }));
    await side.log.close();
    await reference.log.close();
  });

  it('a distribution at a cold height is checked against the tier: the same one resolves with it, another is CONFLICT', async () => {
    const { side, reference } = await compactedHistory(10, 8);
    const same = distribution(4, [{ validatorId: 'va', reason: 'BlockProposal', amount: 4n }], T0 + 4_000);
    const before = side.log.nextLsn;
    expect(await side.store.recordDistribution(same)).toEqual(await reference.store.recordDistribution(same));
    const other = { ...same, treasuryAfter: same.treasuryAfter - 1n, totalDistributed: 5n, lines: [{ ...same.lines[0], amount: 5n } as RewardLine] };
    await expect(side.store.recordDistribution(other)).rejects.toMatchObject({ code: 'CONFLICT', details: { height: 4, id: 4 } });
    expect(side.log.nextLsn).toBe(before);
    await side.log.close();
    await reference.log.close();
  });

  it('a cold record that does not decode is CORRUPTION naming its LSN', async () => {
    const { side, reference } = await compactedHistory(4, 3);
    const tier = new MemoryColdTier();
    tier.add([{ kind: RecordKind.RewardDistribution, lsn: 2 as Lsn, payload: Uint8Array.of(0xc1) }], () => ({ height: 2 }), side.cut);
    side.store.evictCold(side.cut, tier);
    await expect(side.store.getTotalDistributed(2)).rejects.toMatchObject({ code: 'CORRUPTION', details: { lsn: 2 } });
    await side.log.close();
    await reference.log.close();
  });
});

describe('reward history: cold members refuse bad input', () => {
  it('captureCold, evictCold and coldKeys check their arguments and change nothing', async () => {
    const { side, reference } = await compactedHistory(6, 3);
    const h = side.store;
    const cut = side.cut;
    expect(() => h.captureCold(NO_CUT, { height: 5, lsn: 20 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { argument: 'previous' } }));
    expect(() => h.captureCold(cut, { height: 5, lsn: 1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { argument: 'next' } }));
    expect(() => h.captureCold(cut, { height: 5 } as ColdCut)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { argument: 'next.lsn' } }));
    expect(() => h.evictCold({ height: 1, lsn: cut.lsn }, side.tier)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { argument: 'cut' } }));
    expect(() => h.evictCold(cut, { countOf: () => 0, blocks: () => [], read: 1 } as unknown as ColdTier)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { argument: 'tier.read' } }),
    );
    expect(() => h.evictCold(cut, 'tier' as unknown as ColdTier)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { argument: 'tier' } }));
    expect(() => h.coldKeys(RecordKind.RoundState, Uint8Array.of())).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { argument: 'kind' } }));
    expect(() => h.coldKeys(RecordKind.RewardDistribution, [1] as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { argument: 'payload' } }));
    expect(() => h.coldKeys(RecordKind.RewardDistribution, Uint8Array.of(7))).toThrow(expect.objectContaining({ code: 'CORRUPTION', details: { kind: RecordKind.RewardDistribution } }));
    const twice = distribution(9, [
      { validatorId: 'vb', reason: 'BlockProposal', amount: 1n },
      { validatorId: 'va', reason: 'SuccessfulVote', amount: 2n },
      { validatorId: 'vb', reason: 'StorageProof', amount: 3n },
    ], T0 + 77);
    expect(h.coldKeys(RecordKind.RewardDistribution, encodeDistributionRecord(twice, 1).payload)).toEqual({ height: 9, validators: ['vb', 'va'], time: T0 + 77 });
    const produced: number[] = [];
    for await (const r of h.captureCold(cut, { height: 5, lsn: cut.lsn })()) produced.push(h.coldKeys(r.kind, r.payload).height as number);
    expect(produced).toEqual([3, 4]);
    expect(await h.queryDistributions()).toEqual(await reference.store.queryDistributions());
    await side.log.close();
    await reference.log.close();
  });

  it('an image trailer that is damaged or lies above the store cut is refused (the loader then falls back)', async () => {
    const { side, reference } = await compactedHistory(6, 3);
    await side.takeImage();
    const image = side.image?.bytes as Uint8Array;
    const fresh = (): LogRewardHistory => new LogRewardHistory({ log: side.log, now: tickingClock(9) });
    expect(() => fresh().loadImage(new ImageReader(image))).toThrow(/reward image cold cut \(3, \d+\) lies above the store's cut \(0, 0\)/);
    const loaded = fresh();
    loaded.evictCold(side.cut, side.tier);
    loaded.loadImage(new ImageReader(image));
    const replayed = fresh();
    replayed.evictCold(side.cut, side.tier);
    await side.log.scan((r) => replayed.apply(r));
    expect(await answers(loaded, side.cut)).toEqual(await answers(replayed, side.cut));
    const trailer = (write: (w: ImageWriter) => void): Uint8Array => {
      const w = new ImageWriter().u32(1).i64(0).u32(0);
      write(w);
      return w.finish();
    };
    const head = (w: ImageWriter, count = 0, total = 0n): ImageWriter => {
      w.u32(1).i64(0).i64(0).i64(count).bigint(total);
      for (let i = 0; i < 6; i++) w.flag(false);
      return w;
    };
    const validator = (w: ImageWriter, id: string, count: number, total: bigint): ImageWriter => {
      w.text(id).i64(count).bigint(total);
      for (let i = 0; i < 4; i++) w.bigint(0n);
      return w.flag(false).flag(false);
    };
    const cases: [Uint8Array, RegExp][] = [
      [trailer((w) => w.u32(9).i64(0).i64(0).i64(0).bigint(0n).u32(0).u32(0).u32(0)), /cold trailer has version 9/],
      [trailer((w) => head(w, -1).u32(0)), /cold count is negative/],
      [trailer((w) => head(w, 0, -5n).u32(0)), /cold total is negative/],
      [trailer((w) => head(w).u32(1000)), /claims 1000 validators/],
      [trailer((w) => validator(validator(head(w).u32(2), 'va', 1, 1n), 'va', 1, 1n)), /repeats validator "va"/],
      [trailer((w) => validator(head(w).u32(1), 'va', 1, -1n)), /cold validator total is negative/],
      [trailer((w) => validator(head(w).u32(1), 'va', -2, 1n)), /cold validator count is negative/],
      [trailer((w) => head(w).u32(1).text('va').i64(1).bigint(1n).bigint(-1n).bigint(0n).bigint(0n).bigint(0n).flag(false).flag(false)), /cold validator reason total is negative/],
      [trailer((w) => w.u32(1).i64(0).i64(0)), /trailing bytes/],
    ];
    for (const [bytes, message] of cases) expect(() => fresh().loadImage(new ImageReader(bytes))).toThrow(message);
    await side.log.close();
    await reference.log.close();
  });
});
