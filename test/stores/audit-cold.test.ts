/**
 * The audit log across the hot and the cold tier (docs/audit.md, "What lives where"): a store
 * compacted at random points into a MemoryColdTier, closed and reopened (from an image older or
 * newer than the cut, or by a full replay), answers every query exactly as a store that was
 * never compacted: the list queries with their limits and orders, dispute bundles, the chain
 * check, the export, the head and size. Also: queries that need only hot data read no cold
 * block; a damaged cold block fails only the queries that need it (CORRUPTION unchanged); a
 * cold record an attacker rewrote fails the chain check exactly as the same record rewritten in
 * the hot log; and every error path of the cold-side methods.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImageReader, ImageWriter } from '../../src/codec/image-section.ts';
import { RecordKind } from '../../src/codec/kinds.ts';
import { MemoryColdTier } from '../../src/cold/memory-tier.ts';
import type { ColdBlockRef, ColdCut, ColdFilter, ColdRecord, ColdTier } from '../../src/cold/types.ts';
import { ConsensusStoreError } from '../../src/errors.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { MemoryDisk, MemoryLog } from '../../src/log/memory-log.ts';
import type { Lsn } from '../../src/log/types.ts';
import type { AuditEvent } from '../../src/model/audit.ts';
import { MerkleFrontier } from '../../src/codec/merkle.ts';
import { verifyAuditExport } from '../../src/stores/audit-export.ts';
import { readAuditImage, writeAuditImage, type ImageColdState } from '../../src/stores/audit-image.ts';
import { LogAuditLog } from '../../src/stores/audit-log.ts';
import { propertySeed } from '../../src/testing/conformance/support.ts';
import { AUDIT_CHAIN, nodeKey, signedVote } from '../support/audit-test-log.ts';

const BYZANTINE = new Set(['EquivocationDetected', 'DoubleVote', 'InvalidSignature', 'ReplayAttack', 'PeerMessageRejected', 'ProposalEquivocationDetected']);
const EXPORT_PATH = '/export.jsonl';

/** One store on its own memory log, with a settable clock and a simulated disk for exports. */
class Node {
  disk = new MemoryDisk();
  log = MemoryLog.open(this.disk);
  now = 1_000;
  readonly out = new SimulatedDisk({ seed: 3 });
  store: LogAuditLog;
  readonly tier = new MemoryColdTier();
  image: { lsn: number; bytes: Uint8Array } | undefined;

  constructor() {
    this.store = this.make();
  }

  make(): LogAuditLog {
    return new LogAuditLog({ log: this.log, now: () => this.now }, { ...nodeKey(7), chainId: AUDIT_CHAIN, fs: this.out.fs() });
  }

  /** Writes `events` as concurrent calls (one batch, or two), the i-th logged at `times[i]`. */
  async write(events: readonly AuditEvent[], times: readonly number[]): Promise<void> {
    const calls = events.map((event, i) => {
      this.now = times[i] as number;
      return BYZANTINE.has(event.type) ? this.store.logByzantineEvent(event as never) : this.store.logEvent(event as never);
    });
    await Promise.all(calls);
  }

  /** A compaction to `prev + f * (last - prev)`, in the log's capture, into blocks of `blockRecords`. */
  async compact(f: number, blockRecords: number): Promise<ColdCut> {
    const prev = this.tier.cut;
    const { next, produce } = await this.log.capture((last) => {
      const next: ColdCut = { height: 0, lsn: prev.lsn + Math.floor(f * (last - prev.lsn)) };
      return { next, produce: this.store.captureCold(prev, next) };
    });
    const records: ColdRecord[] = [];
    for await (const r of produce()) records.push(r);
    this.tier.add(records, (r) => this.store.coldKeys(r.kind, r.payload), next, blockRecords);
    this.store.evictCold(next, this.tier);
    return next;
  }

  async takeImage(): Promise<void> {
    const { lsn, write } = await this.log.capture((last) => ({ lsn: last as number, write: this.store.captureImage() }));
    const w = new ImageWriter();
    write(w);
    this.image = { lsn, bytes: w.finish() };
  }

  /** Closes the log and opens a fresh store: evictCold first, then the image (if asked and taken) and the replay after it. */
  async reopen(useImage: boolean, tier: ColdTier = this.tier): Promise<void> {
    await this.log.close();
    this.log = MemoryLog.open(this.disk);
    this.store = this.make();
    if (tier.cut.lsn > 0) this.store.evictCold(tier.cut, tier);
    let from = 1;
    if (useImage && this.image !== undefined) {
      this.store.loadImage(new ImageReader(this.image.bytes));
      from = this.image.lsn + 1;
    }
    await this.log.scan((r) => {
      if (this.store.kinds.includes(r.kind)) this.store.apply(r);
    }, from as Lsn);
  }

  async exported(): Promise<{ result: unknown; bytes: Uint8Array | undefined }> {
    const result = await this.store.export(EXPORT_PATH);
    return { result, bytes: this.out.readFileNow(EXPORT_PATH) };
  }
}

async function settle<T>(p: () => Promise<T>): Promise<T | { error: string; message: string }> {
  try {
    return await p();
  } catch (err) {
    return { error: err instanceof ConsensusStoreError ? err.code : String(err), message: (err as Error).message };
  }
}

const LIMITS = [1, 3, undefined] as const;

/** Every query of the AuditLog interface, with limits, orders and ranges across the workload's keys. */
async function answers(a: LogAuditLog): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { head: a.head, size: a.size };
  for (let h = 0; h <= 6; h++) out[`height ${h}`] = await settle(() => a.queryByHeight(h));
  for (const [lo, hi] of [[0, 6], [2, 4], [5, 9]] as const) {
    for (const limit of LIMITS) {
      for (const descending of [false, true]) {
        const o = { ...(limit === undefined ? {} : { limit }), descending };
        out[`heights ${lo}..${hi} ${limit} ${descending}`] = await settle(() => a.queryByHeight({ startHeight: lo, endHeight: hi }, o));
      }
    }
  }
  for (let v = 0; v <= 3; v++) {
    for (const limit of LIMITS) {
      for (const descending of [false, true]) {
        const o = { ...(limit === undefined ? {} : { limit }), descending };
        out[`validator ${v} ${limit} ${descending}`] = await settle(() => a.queryByValidator(`val-${v}`, o));
      }
    }
  }
  for (const [lo, hi] of [[1_000, 1_012], [1_003, 1_006], [1_011, 1_011]] as const) {
    for (const limit of LIMITS) {
      for (const descending of [false, true]) {
        const o = { ...(limit === undefined ? {} : { limit }), descending };
        out[`time ${lo}..${hi} ${limit} ${descending}`] = await settle(() => a.queryByDateRange(lo, hi, o));
      }
    }
  }
  const evidence = [
    {},
    { limit: 2 },
    { validatorId: 'val-1' },
    { validatorId: 'val-2', startHeight: 1, endHeight: 4, limit: 2 },
    { height: 3 },
    { startHeight: 2, endHeight: 5, limit: 2 },
    { types: ['PhaseChanged', 'Pruned'] as const, limit: 3 },
    { types: ['EquivocationDetected'] as const },
  ];
  for (const q of evidence) out[`evidence ${JSON.stringify(q)}`] = await settle(() => a.getEvidence(q as never));
  out.integrity = await settle(() => a.verifyIntegrity());
  return out;
}

const height = fc.integer({ min: 0, max: 6 });
const validator = fc.integer({ min: 0, max: 3 });
const eventArb: fc.Arbitrary<AuditEvent> = fc.oneof(
  fc.record({ h: height, r: fc.integer({ min: 0, max: 2 }) }).map(({ h, r }): AuditEvent => ({ type: 'PhaseChanged', height: h, round: r, from: 'prevote', to: 'precommit' })),
  fc.record({ h: height, p: fc.option(validator) }).map(({ h, p }): AuditEvent => ({ type: 'RoundStarted', height: h, round: 0, proposer: p === null ? null : `val-${p}` })),
  fc.record({ h: height, n: validator }).map(({ h, n }): AuditEvent => ({ type: 'VoteReceived', vote: signedVote(n, h, 0) })),
  fc.record({ h: height, n: validator }).map(({ h, n }): AuditEvent => ({ type: 'EquivocationDetected', voteA: signedVote(n, h, 0, 'prevote', 1), voteB: signedVote(n, h, 0, 'prevote', 2) })),
  fc.constant<AuditEvent>({ type: 'Pruned', store: 'votes', belowHeight: 3, entriesRemoved: 5 }),
);
type Op =
  | { t: 'write'; events: AuditEvent[]; times: number[] }
  | { t: 'compact'; f: number }
  | { t: 'image' }
  | { t: 'reopen'; useImage: boolean };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('write' as const), events: fc.array(eventArb, { minLength: 1, maxLength: 4 }), times: fc.array(fc.integer({ min: 1_000, max: 1_012 }), { minLength: 4, maxLength: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('compact' as const), f: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'image' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('reopen' as const), useImage: fc.boolean() }) },
);

/** A tier over `inner` whose blocks can be damaged (read throws CORRUPTION), hidden, or rewritten on read. */
class WrappedTier implements ColdTier {
  constructor(
    private readonly inner: MemoryColdTier,
    private readonly o: {
      readonly damaged?: (b: ColdBlockRef) => boolean;
      readonly hidden?: (b: ColdBlockRef) => boolean;
      readonly rewrite?: (r: ColdRecord) => ColdRecord;
    },
  ) {}

  get cut(): ColdCut {
    return this.inner.cut;
  }

  countOf(kind: number): number {
    return this.inner.countOf(kind);
  }

  async blocks(filter: ColdFilter): Promise<ColdBlockRef[]> {
    return (await this.inner.blocks(filter)).filter((b) => this.o.hidden?.(b) !== true);
  }

  async read(block: ColdBlockRef): Promise<ColdRecord[]> {
    if (this.o.damaged?.(block) === true) {
      throw new ConsensusStoreError('CORRUPTION', `cold block of ${block.file} at offset ${block.offset} fails its checksum`, { details: { file: block.file, offset: block.offset } });
    }
    const records = await this.inner.read(block);
    return this.o.rewrite === undefined ? records : records.map(this.o.rewrite);
  }
}

/**
 * Twelve batches: at height i (time 1000 + i) a phase change and a vote of val-(i % 4) (batch i
 * holds LSNs 3i - 1, 3i and its head 3i + 1; the first one entry 0 at LSN 1 too); the cold node
 * compacted at the seventh batch's first entry (LSN 20), in blocks of 2 records.
 */
async function fixture(): Promise<{ ref: Node; cold: Node; cut: ColdCut }> {
  const ref = new Node();
  const cold = new Node();
  for (let i = 1; i <= 12; i++) {
    const events: AuditEvent[] = [
      { type: 'PhaseChanged', height: i, round: 0, from: 'prevote', to: 'precommit' },
      { type: 'VoteReceived', vote: signedVote(i % 4, i, 0) },
    ];
    for (const n of [ref, cold]) {
      n.now = 1_000 + i;
      await n.store.appendWithEvents(events, []);
    }
  }
  const seventh = (await ref.store.queryByHeight(7))[0]?.id as number;
  const { next, produce } = await cold.log.capture(() => {
    const next: ColdCut = { height: 0, lsn: seventh };
    return { next, produce: cold.store.captureCold({ height: 0, lsn: 0 }, next) };
  });
  const records: ColdRecord[] = [];
  for await (const r of produce()) records.push(r);
  cold.tier.add(records, (r) => cold.store.coldKeys(r.kind, r.payload), next, 2);
  cold.store.evictCold(next, cold.tier);
  return { ref, cold, cut: next };
}

async function closeAll(...nodes: Node[]): Promise<void> {
  for (const n of nodes) await n.log.close();
}

function code(err: unknown): string | undefined {
  return err instanceof ConsensusStoreError ? err.code : undefined;
}

async function rejection(p: Promise<unknown>): Promise<ConsensusStoreError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ConsensusStoreError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('audit log across tiers', () => {
  it('answers every query as a never-compacted store, through compactions, images and reopens (model-based)', async () => {
    const seed = propertySeed('AUDIT_COLD_SEED', 'audit cold model');
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 3, maxLength: 14 }), fc.integer({ min: 1, max: 5 }), async (ops, blockRecords) => {
        const ref = new Node();
        const cold = new Node();
        try {
          for (const op of ops) {
            if (op.t === 'write') {
              await ref.write(op.events, op.times);
              await cold.write(op.events, op.times);
            } else if (op.t === 'compact') await cold.compact(op.f, blockRecords);
            else if (op.t === 'image') await cold.takeImage();
            else await cold.reopen(op.useImage);
            expect(await answers(cold.store)).toEqual(await answers(ref.store));
          }
          await cold.compact(1, blockRecords);
          expect(await answers(cold.store)).toEqual(await answers(ref.store));
          const [a, b] = [await ref.exported(), await cold.exported()];
          expect(b).toEqual(a);
          if (b.bytes !== undefined && ref.store.size > 0) expect(await verifyAuditExport(b.bytes, nodeKey(7).publicKey)).toMatchObject({ ok: true, checked: ref.store.size });
        } finally {
          await ref.log.close();
          await cold.log.close();
        }
      }),
      { seed, numRuns: 25 },
    );
  }, 120_000);
});

describe('audit log across tiers: reads, damage, tampering', () => {
  it('moves the verbatim records at or below the cut, and keeps the chain state', async () => {
    const { ref, cold, cut } = await fixture();
    // 12 batches of (entry, entry, head), the first with entry 0 too: the seventh batch's first entry is LSN 20.
    expect(cut.lsn).toBe(20);
    expect(cold.tier.countOf(RecordKind.AuditEvent)).toBe(14);
    expect(cold.tier.countOf(RecordKind.AuditHead)).toBe(6);
    const all: ColdRecord[] = [];
    for (const b of await cold.tier.blocks({})) all.push(...(await cold.tier.read(b)));
    expect(all.map((r) => r.lsn)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    for (const r of all) expect(r.payload).toEqual(ref.disk.records.find((x) => x.lsn === r.lsn)?.payload);
    expect(cold.store.size).toBe(25);
    expect(cold.store.head).toEqual(ref.store.head);
    // Entry 20 is cold, its batch's second entry and head are hot: it carries their signature.
    const [cold7] = await cold.store.queryByHeight(7);
    expect(cold7).toEqual((await ref.store.queryByHeight(7))[0]);
    expect(cold7?.signedHeadId).toBe(21);
    await closeAll(ref, cold);
  });

  it('reads no cold block for a query the hot tier answers alone', async () => {
    const { ref, cold } = await fixture();
    cold.tier.reads = 0;
    expect(await cold.store.queryByHeight(12)).toEqual(await ref.store.queryByHeight(12));
    expect(await cold.store.queryByHeight({ startHeight: 8, endHeight: 12 }, { limit: 3 })).toEqual(await ref.store.queryByHeight({ startHeight: 8, endHeight: 12 }, { limit: 3 }));
    expect(await cold.store.queryByValidator('val-0', { descending: true, limit: 2 })).toEqual(await ref.store.queryByValidator('val-0', { descending: true, limit: 2 }));
    expect(await cold.store.queryByDateRange(1_009, 1_012)).toEqual(await ref.store.queryByDateRange(1_009, 1_012));
    expect(cold.tier.reads).toBe(0);
    // Height 3 is LSNs 8 and 9, in the blocks [7, 8] and [9, 10] (its head, LSN 10, too).
    expect(await cold.store.queryByHeight(3)).toEqual(await ref.store.queryByHeight(3));
    expect(cold.tier.reads).toBe(2);
    await closeAll(ref, cold);
  });

  it('builds the same dispute bundle for a cold entry as for a hot one', async () => {
    const { ref, cold } = await fixture();
    for (const q of [{ height: 2 }, { validatorId: 'val-3' }, { startHeight: 5, endHeight: 9 }, {}]) {
      const bundle = await cold.store.getEvidence(q);
      expect(bundle).toEqual(await ref.store.getEvidence(q));
    }
    const two = await cold.store.getEvidence({ height: 2 });
    expect(two.entries.map((e) => e.sequence)).toEqual([3, 4]);
    expect(two.head.treeSize).toBe(25);
    await closeAll(ref, cold);
  });

  it('fails only the queries that need a damaged cold block, with the tier’s CORRUPTION unchanged', async () => {
    const { ref, cold } = await fixture();
    const [bad] = await cold.tier.blocks({ kinds: [RecordKind.AuditEvent], height: [2, 2] });
    const tier = new WrappedTier(cold.tier, { damaged: (b) => b.file === bad?.file && b.offset === bad.offset });
    await cold.reopen(false, tier);
    const err = await rejection(cold.store.queryByHeight(2));
    expect(err.code).toBe('CORRUPTION');
    expect(err.message).toBe(`cold block of ${bad?.file} at offset ${bad?.offset} fails its checksum`);
    expect(code(await rejection(cold.store.queryByValidator('val-2')))).toBe('CORRUPTION');
    expect(code(await rejection(cold.store.verifyIntegrity()))).toBe('CORRUPTION');
    expect(code(await rejection(cold.store.export(EXPORT_PATH)))).toBe('CORRUPTION');
    // A bundle needs every leaf of the tree, the damaged block's too.
    expect(code(await rejection(cold.store.getEvidence({ height: 12 })))).toBe('CORRUPTION');
    expect(await cold.store.queryByHeight(5)).toEqual(await ref.store.queryByHeight(5));
    expect(await cold.store.queryByHeight({ startHeight: 8, endHeight: 12 })).toEqual(await ref.store.queryByHeight({ startHeight: 8, endHeight: 12 }));
    expect(await cold.store.queryByValidator('val-1', { descending: true, limit: 1 })).toEqual(await ref.store.queryByValidator('val-1', { descending: true, limit: 1 }));
    await closeAll(ref, cold);
  });

  it('names a rewritten cold entry exactly as the same entry rewritten in the hot log', async () => {
    const { ref, cold } = await fixture();
    const target = (await ref.store.queryByHeight(3))[1]?.id as number;
    const flip = (payload: Uint8Array): Uint8Array => {
      const out = payload.slice();
      out[out.length - 1] = (out[out.length - 1] as number) ^ 1;
      return out;
    };
    const tier = new WrappedTier(cold.tier, { rewrite: (r) => (r.lsn === target ? { ...r, payload: flip(r.payload) } : r) });
    await cold.reopen(true, tier);
    const record = ref.disk.records.find((r) => r.lsn === target);
    record?.payload.set(flip(record.payload));
    const report = await cold.store.verifyIntegrity();
    expect(report).toEqual(await ref.store.verifyIntegrity());
    expect(report.ok).toBe(false);
    expect(report.firstBad?.id).toBe(target);
    expect(report.firstBad?.reason).toMatch(/hash mismatch/);
    await expect(cold.store.getEvidence({ height: 3 })).rejects.toThrow(/entry 6 on disk is not the entry the node chained/);
    await closeAll(ref, cold);
  });
});

describe('audit log across tiers: bad input and damage', () => {
  it('coldKeys: an entry’s height, validator and time, nothing for a head; bad input refused, undecodable payloads keyless', async () => {
    const { ref, cold } = await fixture();
    const entry = ref.disk.records.find((r) => r.lsn === 3);
    const head = ref.disk.records.find((r) => r.lsn === 4);
    expect(cold.store.coldKeys(RecordKind.AuditEvent, entry?.payload as Uint8Array)).toEqual({ height: 1, validators: ['val-1'], time: 1_001 });
    expect(cold.store.coldKeys(RecordKind.AuditEvent, ref.disk.records[0]?.payload as Uint8Array)).toEqual({ time: 1_001 });
    expect(cold.store.coldKeys(RecordKind.AuditHead, head?.payload as Uint8Array)).toEqual({});
    expect(() => cold.store.coldKeys(7, new Uint8Array(8))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => cold.store.coldKeys(RecordKind.AuditEvent, 'bytes' as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    // Damage under a valid CRC moves as it is, without keys (the cold reads skip it as the replay does).
    expect(cold.store.coldKeys(RecordKind.AuditEvent, Uint8Array.of(1, 2, 3))).toEqual({});
    expect(cold.store.coldKeys(RecordKind.AuditHead, Uint8Array.of(1))).toEqual({});
    await closeAll(ref, cold);
  });

  it('captureCold and evictCold refuse bad cuts and tiers, and change nothing then', async () => {
    const { ref, cold, cut } = await fixture();
    const before = await answers(cold.store);
    const bad: [() => unknown, string][] = [
      [() => cold.store.captureCold(null as never, cut), 'previous'],
      [() => cold.store.captureCold(cut, { height: 0, lsn: -1 }), 'next.lsn'],
      [() => cold.store.captureCold(cut, { height: 0, lsn: cut.lsn - 1 }), 'next.lsn'],
      [() => cold.store.evictCold({ lsn: 30 } as never, cold.tier), 'cut.height'],
      [() => cold.store.evictCold({ height: 0, lsn: 30 }, {} as never), 'tier.countOf'],
      [() => cold.store.evictCold({ height: 0, lsn: cut.lsn - 1 }, cold.tier), 'cut.lsn'],
    ];
    for (const [call, argument] of bad) expect(call).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { argument } }));
    expect(await answers(cold.store)).toEqual(before);
    expect(before).toEqual(await answers(ref.store));
    await cold.log.close();
    expect(() => cold.store.captureCold(cut, cut)).toThrow(expect.objectContaining({ code: 'CLOSED' }));
    await ref.log.close();
  });

  it('refuses an image written under a cut above the store’s, and a malformed cold part', async () => {
    const { ref, cold } = await fixture();
    await cold.takeImage();
    const fresh = cold.make();
    expect(() => fresh.loadImage(new ImageReader(cold.image?.bytes as Uint8Array))).toThrow(/written under cold cut 20, above this store's 0/);
    const base = { tipSequence: 0, tipHash: new Uint8Array(32), frontier: new MerkleFrontier(), head: undefined, recordedKey: undefined, damage: undefined };
    const state = { ...base, unsigned: [], entries: [], count: 0, leafHashes: new Uint8Array(0), leafBytes: 0 };
    const encode = (c: ImageColdState): Uint8Array => {
      const w = new ImageWriter();
      writeAuditImage(w, { ...state, cold: c });
      return w.finish();
    };
    const tail = { pending: true, signature: new Uint8Array(64), signedHeadId: 3 as Lsn };
    expect(() => readAuditImage(new ImageReader(encode({ cutLsn: 5, leafBase: 0, lastUnsignedId: undefined, tail })))).toThrow(/cold tail is malformed/);
    expect(() => readAuditImage(new ImageReader(encode({ cutLsn: 5, leafBase: 2, lastUnsignedId: undefined, tail: { ...tail, pending: false } })))).toThrow(/does not fit the entries held/);
    expect(readAuditImage(new ImageReader(encode({ cutLsn: 5, leafBase: 0, lastUnsignedId: 4 as Lsn, tail: { ...tail, pending: false } }))).cold).toEqual({
      cutLsn: 5,
      leafBase: 0,
      lastUnsignedId: 4,
      tail: { pending: false, signature: new Uint8Array(64), signedHeadId: 3 },
    });
    await closeAll(ref, cold);
  });

  it('refuses a bundle when the cold tier lacks entries or holds a changed entry hash (CORRUPTION)', async () => {
    const { ref, cold } = await fixture();
    const entryBlocks = await cold.tier.blocks({ kinds: [RecordKind.AuditEvent] });
    const middle = entryBlocks[2] as ColdBlockRef;
    const lastBlock = entryBlocks[entryBlocks.length - 1] as ColdBlockRef;
    await cold.reopen(false, new WrappedTier(cold.tier, { hidden: (b) => b.offset === middle.offset && b.file === middle.file }));
    await expect(cold.store.getEvidence({ height: 12 })).rejects.toThrow(/cold audit entry 8 in memory-1 at offset 6 is not entry 3 of the chain/);
    await cold.reopen(false, new WrappedTier(cold.tier, { hidden: (b) => b.offset === lastBlock.offset && b.file === lastBlock.file }));
    await expect(cold.store.getEvidence({ height: 12 })).rejects.toThrow(/the cold tier holds 13 audit entries, the chain has 14 below the cut/);
    const rehash = (r: ColdRecord): ColdRecord => {
      if (r.lsn !== 2) return r;
      const payload = r.payload.slice();
      payload[1] = (payload[1] as number) ^ 1;
      return { ...r, payload };
    };
    await cold.reopen(true, new WrappedTier(cold.tier, { rewrite: rehash }));
    await expect(cold.store.getEvidence({ height: 12 })).rejects.toThrow(/the entries in memory do not produce the signed root/);
    expect((await cold.store.verifyIntegrity()).firstBad).toEqual((await (async () => {
      const record = ref.disk.records.find((r) => r.lsn === 2);
      record?.payload.set(rehash(record).payload);
      return ref.store.verifyIntegrity();
    })()).firstBad);
    await closeAll(ref, cold);
  });
});

/** A tier whose reads wait, from the `from`-th read on, until `open()` is called. */
class GatedTier extends WrappedTier {
  #reads = 0;
  #open: (() => void) | undefined;
  readonly #gate: Promise<void>;
  /** Resolves once a read waits at the gate. */
  readonly waiting: Promise<void>;
  #arrived: (() => void) | undefined;

  constructor(inner: MemoryColdTier, private readonly from: number) {
    super(inner, {});
    this.#gate = new Promise((resolve) => (this.#open = resolve));
    this.waiting = new Promise((resolve) => (this.#arrived = resolve));
  }

  open(): void {
    this.#open?.();
  }

  override async read(block: ColdBlockRef): Promise<ColdRecord[]> {
    if (++this.#reads >= this.from) {
      this.#arrived?.();
      await this.#gate;
    }
    return super.read(block);
  }
}

describe('audit log across tiers: a compaction during a read', () => {
  /** Compacts `node` (evicting with `tier`) up to its last record and releases the log below the cut. */
  async function compactAndRelease(node: Node, tier: ColdTier): Promise<ColdCut> {
    const prev = node.tier.cut;
    const { next, produce } = await node.log.capture((last) => {
      const next: ColdCut = { height: 0, lsn: last };
      return { next, produce: node.store.captureCold(prev, next) };
    });
    const records: ColdRecord[] = [];
    for await (const r of produce()) records.push(r);
    node.tier.add(records, (r) => node.store.coldKeys(r.kind, r.payload), next, 2);
    node.store.evictCold(next, tier);
    await node.log.release((next.lsn + 1) as Lsn);
    return next;
  }

  it('verifyIntegrity and export read from the tier what a compaction moved and released meanwhile', async () => {
    const { ref, cold } = await fixture();
    for (const run of ['verify', 'export'] as const) {
      const tier = new GatedTier(cold.tier, 2);
      cold.store.evictCold(cold.tier.cut, tier);
      const pending = run === 'verify' ? cold.store.verifyIntegrity() : cold.exported();
      await tier.waiting;
      await compactAndRelease(cold, tier);
      expect(cold.disk.records.length).toBe(1);
      tier.open();
      if (run === 'verify') expect(await pending).toEqual({ ok: true, checked: 25, heads: 12 });
      else expect(await pending).toEqual(await ref.exported());
      for (let i = 1; i <= 2; i++) {
        for (const n of [ref, cold]) {
          n.now = 1_100 + i;
          await n.store.appendWithEvents([{ type: 'PhaseChanged', height: 20 + i, round: 0, from: 'prevote', to: 'precommit' }], []);
        }
      }
    }
    expect(await answers(cold.store)).toEqual(await answers(ref.store));
    await closeAll(ref, cold);
  });

  it('getEvidence reads from the tier a hot entry a compaction moved and released meanwhile', async () => {
    const { ref, cold } = await fixture();
    const tier = new GatedTier(cold.tier, 1);
    cold.store.evictCold(cold.tier.cut, tier);
    const pending = cold.store.getEvidence({ validatorId: 'val-2' });
    await tier.waiting;
    await compactAndRelease(cold, tier);
    tier.open();
    const bundle = await pending;
    expect(bundle).toEqual(await ref.store.getEvidence({ validatorId: 'val-2' }));
    expect(bundle.entries.map((e) => e.sequence)).toEqual([4, 12, 20]);
    await closeAll(ref, cold);
  });
});
