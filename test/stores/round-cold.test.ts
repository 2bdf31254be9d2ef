/**
 * The round-state store across the hot and cold tiers (docs/stores.md, "Bounded history"): a
 * model-based property (seed printed; replay with ROUND_COLD_SEED) runs one random workload of
 * saves, prunes, compactions into a MemoryColdTier, images and reopens on two stores, one never
 * compacted, and requires every query to answer the same on both, limits and cut edges included.
 * Then: hot queries and recovery read no cold block, a damaged block fails only the queries that
 * need it, a prune below the cut never lets a checkpoint come back, and every error path of the
 * cold members and of the image trailer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { corruption } from '../../src/errors.ts';
import { MemoryColdTier } from '../../src/cold/memory-tier.ts';
import type { ColdBlockRef, ColdCut, ColdFilter, ColdRecord, ColdTier } from '../../src/cold/types.ts';
import { NO_CUT } from '../../src/cold/types.ts';
import { ImageReader, ImageWriter } from '../../src/codec/image-section.ts';
import { RecordKind } from '../../src/codec/kinds.ts';
import { encodeRoundStateRecord } from '../../src/codec/round-record.ts';
import { MemoryDisk, MemoryLog } from '../../src/log/memory-log.ts';
import type { Lsn } from '../../src/log/types.ts';
import { CONSENSUS_PHASES } from '../../src/model/round.ts';
import type { RoundState } from '../../src/model/round.ts';
import { LogRecoveryManager } from '../../src/stores/recovery.ts';
import { LogRoundStateStore } from '../../src/stores/round-state-store.ts';
import { roundState } from '../../src/testing/conformance/round-state-store.conformance.ts';
import { propertySeed } from '../../src/testing/conformance/support.ts';
import { tickingClock } from '../support/round-test-log.ts';

/** A call's outcome as one comparable value: what it resolved with, or its error's code and message. */
async function settle(call: () => unknown): Promise<unknown> {
  try {
    return { ok: await call() };
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    return { code: e.code, message: e.message };
  }
}

/** One store on its own memory disk, with its cold tier, cut and last image. */
class Side {
  readonly disk = new MemoryDisk();
  readonly now = tickingClock();
  readonly tier = new MemoryColdTier();
  cut: ColdCut = NO_CUT;
  log: MemoryLog;
  store: LogRoundStateStore;
  image: { bytes: Uint8Array; lsn: number } | undefined;

  constructor() {
    this.log = MemoryLog.open(this.disk);
    this.store = new LogRoundStateStore({ log: this.log, now: this.now });
  }

  /** Moves the checkpoints below `height` (and up to the last durable LSN) to the tier, `blockRecords` per block. */
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

  /** A fresh store on the same disk: the cut first, then the image (when asked and taken) and the log after it. */
  async reopen(useImage: boolean): Promise<void> {
    await this.log.close();
    this.log = MemoryLog.open(this.disk);
    this.store = new LogRoundStateStore({ log: this.log, now: this.now });
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

/** Every query of the RoundStateStore interface, over the heights and rounds the reference holds and the cut's edges. */
async function answers(store: LogRoundStateStore, keys: readonly RoundState[], cut: ColdCut): Promise<unknown[]> {
  const out: unknown[] = [store.pruneFloor];
  out.push(await settle(() => store.loadRoundState()));
  const top = Math.max(0, ...keys.map((s) => s.height)) + 1;
  for (let h = 0; h <= top; h++) out.push(await settle(() => store.getRoundStateAt(h)));
  for (const s of keys) {
    out.push(await settle(() => store.getRoundStateAt(s.height, s.round)));
    out.push(await settle(() => store.getRoundStateAt(s.height, s.round + 1)));
  }
  const edges = [...new Set([0, Math.max(0, cut.height - 1), cut.height, cut.height + 1, top])];
  out.push(await settle(() => store.listRoundStates()));
  for (const startHeight of edges) {
    for (const endHeight of edges) {
      if (startHeight > endHeight) continue;
      for (const limit of [1, 2, 10_000]) out.push(await settle(() => store.listRoundStates({ startHeight, endHeight, limit })));
    }
  }
  const latest = keys.at(-1) ?? roundState(1, 0);
  out.push(await settle(() => store.shouldCheckpoint({ ...latest, phase: 'finalize' })));
  out.push(await settle(() => store.shouldCheckpoint(roundState(latest.height + 1, latest.round + 1))));
  return out;
}

type Op =
  | { readonly op: 'save'; readonly dh: number; readonly dr: number; readonly phase: number; readonly proposer: boolean }
  | { readonly op: 'prune'; readonly back: number }
  | { readonly op: 'compact'; readonly hot: number; readonly block: number }
  | { readonly op: 'image' }
  | { readonly op: 'reopen'; readonly image: boolean }
  | { readonly op: 'check' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ op: fc.constant('save' as const), dh: fc.constantFrom(-1, 0, 0, 1, 1, 1, 2), dr: fc.constantFrom(-1, 0, 0, 0, 1, 2), phase: fc.integer({ min: 0, max: 4 }), proposer: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('prune' as const), back: fc.integer({ min: -1, max: 12 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('compact' as const), hot: fc.integer({ min: 0, max: 4 }), block: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'image' as const }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('reopen' as const), image: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ op: 'check' as const }) },
);

/** The next state a save op asks for, from the reference's latest checkpoint. */
function nextState(latest: RoundState | undefined, op: Extract<Op, { op: 'save' }>): RoundState {
  const base = latest ?? roundState(1, 0);
  const height = Math.max(0, base.height + op.dh);
  const round = Math.max(0, base.round + op.dr + (op.dh > 0 ? 1 : 0));
  const extra = op.proposer ? { isProposer: true, validatorCount: 4, quorumSize: 3 } : {};
  return roundState(height, round, CONSENSUS_PHASES[op.phase], { ...extra, updatedAt: 2_000 + op.phase });
}

describe('round states across the hot and cold tiers', () => {
  it('answers every query the same as a store never compacted, through compactions, prunes, images and reopens', async () => {
    const seed = propertySeed('ROUND_COLD_SEED', 'round-state cold model');
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 60, size: 'max' }), async (ops) => {
        const reference = new Side();
        const compacted = new Side();
        const keys = async (): Promise<RoundState[]> => (await reference.store.listRoundStates({ limit: 10_000 })).items.map((s) => s.state);
        const agree = async (): Promise<void> => {
          const held = await keys();
          expect(await answers(compacted.store, held, compacted.cut)).toEqual(await answers(reference.store, held, compacted.cut));
        };
        for (const op of ops) {
          if (op.op === 'save') {
            const state = nextState((await reference.store.loadRoundState())?.state, op);
            expect(await settle(() => compacted.store.saveRoundState(state))).toEqual(await settle(() => reference.store.saveRoundState(state)));
          } else if (op.op === 'prune') {
            const height = Math.max(0, ((await reference.store.loadRoundState())?.state.height ?? 0) - op.back);
            expect(await settle(() => compacted.store.pruneBeforeHeight(height))).toEqual(await settle(() => reference.store.pruneBeforeHeight(height)));
          } else if (op.op === 'compact') {
            const latest = (await reference.store.loadRoundState())?.state.height ?? 0;
            await compacted.compact(latest + 1 - op.hot, op.block);
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
      { seed, numRuns: 100 },
    );
  }, 120_000);
});

/** A store with checkpoints at heights 1..n (round = height, propose then prevote), compacted below `cutHeight` in blocks of 2. */
async function compactedStore(n: number, cutHeight: number): Promise<Side> {
  const side = new Side();
  for (let h = 1; h <= n; h++) {
    await side.store.saveRoundState(roundState(h, h, 'propose'));
    await side.store.saveRoundState(roundState(h, h, 'prevote'));
  }
  await side.compact(cutHeight, 2);
  return side;
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

describe('round states: what reads the cold tier', () => {
  it('hot queries, the regression checks and recovery read no cold block; an old height reads one', async () => {
    const side = await compactedStore(20, 15);
    expect(side.cut.height).toBe(15);
    expect(side.tier.countOf(RecordKind.RoundState)).toBe(14);
    const s = side.store;
    side.tier.reads = 0;
    expect((await s.loadRoundState())?.state).toEqual(roundState(20, 20, 'prevote'));
    expect((await s.getRoundStateAt(18))?.state).toEqual(roundState(18, 18, 'prevote'));
    expect((await s.getRoundStateAt(16, 16))?.state).toEqual(roundState(16, 16, 'prevote'));
    expect((await s.listRoundStates({ startHeight: 15 })).items.map((x) => x.state.height)).toEqual([15, 16, 17, 18, 19, 20]);
    expect(await s.getRoundStateAt(25)).toBeUndefined();
    await expect(s.saveRoundState(roundState(19, 21))).rejects.toMatchObject({ code: 'CONFLICT' });
    const recovery = new LogRecoveryManager({ log: side.log, now: side.now }, s, async () => []);
    const recovered = await recovery.recover();
    expect(recovered.roundState?.state).toEqual(roundState(20, 20, 'prevote'));
    expect(recovered.integrity).toEqual({ ok: true, checked: 1, problems: [] });
    expect((await recovery.resumePoint())?.height).toBe(20);
    expect(side.tier.reads).toBe(0);
    expect((await s.getRoundStateAt(3))?.state).toEqual(roundState(3, 3, 'prevote'));
    expect(side.tier.reads).toBe(1);
    await side.log.close();
  });

  it('a list or a prune that reads the tier across an eviction answers as if the eviction came before or after it', async () => {
    const side = await compactedStore(20, 5);
    const reference = new Side();
    for (let h = 1; h <= 20; h++) {
      await reference.store.saveRoundState(roundState(h, h, 'propose'));
      await reference.store.saveRoundState(roundState(h, h, 'prevote'));
    }
    const tier = new EvictingTier(side.tier);
    side.store.evictCold(side.cut, tier);
    tier.once = () => side.compact(15, 2);
    expect(await side.store.listRoundStates({ limit: 12 })).toEqual(await reference.store.listRoundStates({ limit: 12 }));
    side.store.evictCold(side.cut, tier);
    tier.once = () => side.compact(18, 2);
    expect(await side.store.pruneBeforeHeight(12)).toBe(await reference.store.pruneBeforeHeight(12));
    expect(await side.store.pruneBeforeHeight(19)).toBe(await reference.store.pruneBeforeHeight(19));
    expect([tier.fired, side.cut.height]).toEqual([2, 18]);
    expect((await side.store.listRoundStates()).items).toEqual((await reference.store.listRoundStates()).items);
    await side.log.close();
    await reference.log.close();
  });

  it('keeps the latest checkpoint in memory when the cut takes every checkpoint', async () => {
    const side = await compactedStore(6, 100);
    expect(side.tier.countOf(RecordKind.RoundState)).toBe(6);
    side.tier.reads = 0;
    expect((await side.store.loadRoundState())?.state).toEqual(roundState(6, 6, 'prevote'));
    expect((await side.store.getRoundStateAt(6))?.state).toEqual(roundState(6, 6, 'prevote'));
    await expect(side.store.saveRoundState(roundState(6, 6, 'propose'))).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(side.store.pruneBeforeHeight(7)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(side.tier.reads).toBe(0);
    // A later phase of the cold latest round supersedes it: listed once, from the hot tier.
    const next = await side.store.saveRoundState(roundState(6, 6, 'precommit'));
    const listed = await side.store.listRoundStates({ startHeight: 5 });
    expect(listed.items.map((x) => [x.state.height, x.state.phase, x.id])).toEqual([
      [5, 'prevote', 10],
      [6, 'precommit', next.id],
    ]);
    await side.reopen(false);
    expect((await side.store.loadRoundState())?.id).toBe(next.id);
    await side.log.close();
  });

  it('a damaged cold block fails only the queries that need it, and a prune that needs it writes nothing', async () => {
    const side = await compactedStore(20, 15);
    const damaged = new DamagedTier(side.tier, 3);
    side.store.evictCold(side.cut, damaged);
    const s = side.store;
    await expect(s.getRoundStateAt(3)).rejects.toMatchObject({ code: 'CORRUPTION', location: { file: 'memory-1' } });
    await expect(s.listRoundStates({ startHeight: 0, endHeight: 5 })).rejects.toMatchObject({ code: 'CORRUPTION' });
    expect((await s.getRoundStateAt(9))?.state).toEqual(roundState(9, 9, 'prevote'));
    expect((await s.listRoundStates({ startHeight: 7, endHeight: 16 })).items.map((x) => x.state.height)).toEqual([7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    expect((await s.loadRoundState())?.state.height).toBe(20);
    const before = side.log.nextLsn;
    await expect(s.pruneBeforeHeight(5)).rejects.toMatchObject({ code: 'CORRUPTION' });
    expect(side.log.nextLsn).toBe(before);
    expect(s.pruneFloor).toBe(0);
    await side.log.close();
  });

  it('a cold record that does not decode is CORRUPTION naming its LSN', async () => {
    const side = await compactedStore(4, 3);
    const tier = new MemoryColdTier();
    tier.add([{ kind: RecordKind.RoundState, lsn: 1 as Lsn, payload: Uint8Array.of(0xc1) }], () => ({ height: 1, round: 1 }), side.cut);
    side.store.evictCold(side.cut, tier);
    await expect(side.store.getRoundStateAt(1)).rejects.toMatchObject({ code: 'CORRUPTION', details: { lsn: 1 } });
    await side.log.close();
  });
});

describe('round states: a prune below the cut', () => {
  it('hides the cold checkpoints below the floor for good, counts them once, and reads no block for them afterwards', async () => {
    const side = await compactedStore(20, 15);
    const reference = new Side();
    for (let h = 1; h <= 20; h++) {
      await reference.store.saveRoundState(roundState(h, h, 'propose'));
      await reference.store.saveRoundState(roundState(h, h, 'prevote'));
    }
    expect(await side.store.pruneBeforeHeight(10)).toBe(await reference.store.pruneBeforeHeight(10));
    expect(await side.store.pruneBeforeHeight(17)).toBe(7);
    await reference.store.pruneBeforeHeight(17);
    for (const reopen of [async () => side.reopen(false), async () => (await side.takeImage(), side.reopen(true))]) {
      await reopen();
      side.tier.reads = 0;
      expect(side.store.pruneFloor).toBe(17);
      expect(await side.store.getRoundStateAt(5)).toBeUndefined();
      expect(await side.store.getRoundStateAt(16, 16)).toBeUndefined();
      expect((await side.store.listRoundStates()).items).toEqual((await reference.store.listRoundStates()).items);
      expect(side.tier.reads).toBe(0);
    }
    await side.log.close();
    await reference.log.close();
  });
});

describe('round states: cold members refuse bad input', () => {
  it('captureCold, evictCold and coldKeys check their arguments and change nothing', async () => {
    const side = await compactedStore(6, 3);
    const s = side.store;
    const cut = side.cut;
    expect(() => s.captureCold(NO_CUT, { height: 5, lsn: 20 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { argument: 'previous' } }));
    expect(() => s.captureCold(cut, { height: 2, lsn: 20 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { argument: 'next' } }));
    expect(() => s.captureCold(cut, { height: -1, lsn: 20 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { argument: 'next.height' } }));
    expect(() => s.captureCold(null as unknown as ColdCut, cut)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { argument: 'previous' } }));
    expect(() => s.evictCold({ height: 2, lsn: cut.lsn }, side.tier)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { argument: 'cut' } }));
    expect(() => s.evictCold({ height: 10, lsn: 1.5 }, side.tier)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { argument: 'cut.lsn' } }));
    expect(() => s.evictCold({ height: 10, lsn: 100 }, { blocks: () => [] } as unknown as ColdTier)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { argument: 'tier.countOf' } }),
    );
    expect(() => s.coldKeys(RecordKind.RoundStatePrune, Uint8Array.of())).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { argument: 'kind' } }));
    expect(() => s.coldKeys(RecordKind.RoundState, 'x' as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { argument: 'payload' } }));
    expect(() => s.coldKeys(RecordKind.RoundState, Uint8Array.of(1, 2))).toThrow(expect.objectContaining({ code: 'CORRUPTION', details: { kind: RecordKind.RoundState } }));
    expect(s.coldKeys(RecordKind.RoundState, encodeRoundStateRecord(roundState(7, 3), 1))).toEqual({ height: 7, round: 3 });
    // Nothing changed: the same capture still yields the checkpoints of heights 3 and 4.
    const produced: number[] = [];
    for await (const r of s.captureCold(cut, { height: 5, lsn: cut.lsn })()) produced.push(s.coldKeys(r.kind, r.payload).height as number);
    expect(produced).toEqual([3, 4]);
    expect((await s.listRoundStates()).items.map((x) => x.state.height)).toEqual([1, 2, 3, 4, 5, 6]);
    await side.log.close();
  });

  it('an image trailer that is damaged or lies above the store cut is refused (the loader then falls back)', async () => {
    const side = await compactedStore(6, 3);
    await side.takeImage();
    const image = side.image?.bytes as Uint8Array;
    const fresh = (): LogRoundStateStore => new LogRoundStateStore({ log: side.log, now: side.now });
    // The directory's cut is below the image's: the image came after a compaction it does not have.
    expect(() => fresh().loadImage(new ImageReader(image))).toThrow(/lies above the store's cut \(0, 0\)/);
    const loaded = fresh();
    loaded.evictCold(side.cut, side.tier);
    loaded.loadImage(new ImageReader(image));
    expect((await loaded.listRoundStates()).items).toEqual((await side.store.listRoundStates()).items);
    const trailer = (write: (w: ImageWriter) => void): Uint8Array => {
      const w = new ImageWriter().u32(1).i64(0).i64(0).u32(0);
      write(w);
      return w.finish();
    };
    const cases: [Uint8Array, RegExp][] = [
      [trailer((w) => w.u32(2).i64(0).i64(0).flag(false).flag(false)), /cold trailer has version 2/],
      [trailer((w) => w.u32(1).i64(0).i64(0).flag(false)), /trailing bytes/],
      [trailer((w) => w.u32(1).i64(0).i64(0).flag(true).i64(5).i64(4)), /cold span of round-state heights 5..4/],
      [trailer((w) => w.u32(1).i64(0).i64(0).flag(false).flag(true).i64(0)), /cold checkpoint has LSN 0/],
    ];
    for (const [bytes, message] of cases) expect(() => fresh().loadImage(new ImageReader(bytes))).toThrow(message);
    expect(() => fresh().loadImage(new ImageReader(trailer((w) => w.u32(1).i64(0).i64(0).flag(false).flag(true).i64(3).bytes(Uint8Array.of(1)))))).toThrow(
      expect.objectContaining({ code: 'CORRUPTION', details: { lsn: 3 } }),
    );
    await side.log.close();
  });
});
