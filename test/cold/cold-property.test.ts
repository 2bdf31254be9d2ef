/**
 * Property (fast-check, seed printed; COLD_SEED replays one, COLD_RUNS sets the runs): over
 * random records (kinds, LSN gaps, fixed-size and varying payloads), random keys and random
 * filters, written as cold files on the simulated disk:
 * - every record that matches a filter lies in a block `blocks(filter)` returns;
 * - reading every block returns exactly the records written, bytes equal, in LSN order;
 * - a FileColdTier over two committed files answers like a MemoryColdTier holding the same
 *   records: counts, the cut, and the records a store keeps after filtering what it read.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { writeColdFile } from '../../src/cold/cold-file.ts';
import type { ColdFileInfo } from '../../src/cold/cold-file-info.ts';
import { commitColdManifest } from '../../src/cold/cold-manifest.ts';
import { ColdFileReader } from '../../src/cold/cold-reader.ts';
import { FileColdTier } from '../../src/cold/file-tier.ts';
import { MemoryColdTier } from '../../src/cold/memory-tier.ts';
import type { ColdBlockRef, ColdFilter, ColdKeys, ColdRecord, ColdTier } from '../../src/cold/types.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { Lsn } from '../../src/model/log-record.ts';
import { CHAIN, COLD, keysFromTable, recordMatches, recordsDiffer, STORE, type KeyedRecord } from './cold-fixtures.ts';

const seed = Number(process.env['COLD_SEED'] ?? Date.now() % 2 ** 31);
const runs = Number(process.env['COLD_RUNS'] ?? 100);
console.log(`cold-property: fast-check seed ${seed} (replay with COLD_SEED=${seed})`);

const POOL = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];
const range = (max: number): fc.Arbitrary<[number, number]> =>
  fc.tuple(fc.integer({ min: 0, max }), fc.integer({ min: 0, max })).map(([a, b]) => (a <= b ? [a, b] : [b, a]));

const keysArb: fc.Arbitrary<ColdKeys> = fc.record(
  {
    height: fc.integer({ min: 0, max: 60 }),
    round: fc.integer({ min: 0, max: 8 }),
    time: fc.integer({ min: 1000, max: 1100 }),
    validators: fc.uniqueArray(fc.constantFrom(...POOL), { maxLength: 3 }),
  },
  { requiredKeys: [] },
);

const recordArb = fc.record({
  kind: fc.constantFrom(1, 2, 7, 50, 255),
  gap: fc.integer({ min: 1, max: 5 }),
  fixed: fc.boolean(),
  payload: fc.uint8Array({ maxLength: 90 }),
  keys: keysArb,
});

/** Records in LSN order, the fixed ones 40 bytes of the kind's pattern with a few varying bytes. */
const recordsArb: fc.Arbitrary<KeyedRecord[]> = fc.array(recordArb, { minLength: 1, maxLength: 250, size: 'max' }).map((rows) => {
  let lsn = 0;
  return rows.map((r) => {
    lsn += r.gap;
    const payload = r.fixed ? Uint8Array.from({ length: 40 }, (_, i) => (i < 4 ? r.payload[i] ?? 0 : (r.kind * 7 + i) & 0xff)) : r.payload;
    return { record: { kind: r.kind, lsn: lsn as Lsn, payload }, keys: r.keys };
  });
});

const filterArb: fc.Arbitrary<ColdFilter> = fc.record(
  {
    kinds: fc.uniqueArray(fc.constantFrom(1, 2, 7, 50, 255, 9), { minLength: 1, maxLength: 3 }),
    height: range(60),
    round: range(8),
    lsn: range(500),
    time: range(1100).map(([a, b]) => [a + 900, b + 900] as [number, number]),
    validator: fc.constantFrom(...POOL, 'nobody'),
  },
  { requiredKeys: [] },
);

async function readBlocks(tier: Pick<ColdTier, 'read'>, blocks: readonly ColdBlockRef[]): Promise<ColdRecord[]> {
  const out: ColdRecord[] = [];
  for (const b of blocks) out.push(...(await tier.read(b)));
  return out;
}

describe('cold files: property', () => {
  it('blocks(filter) covers every matching record, reads return exactly what was written, and the file tier answers like the memory tier', async () => {
    let checkedFilters = 0;
    await fc.assert(
      fc.asyncProperty(recordsArb, fc.array(filterArb, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1024, max: 2048 }), fc.nat(), async (rows, filters, blockBytes, splitAt) => {
        const disk = new SimulatedDisk({ seed: 1 });
        const fs = disk.fs();
        const records = rows.map((r) => r.record);
        const keysOf = keysFromTable(rows);
        const split = rows.length === 1 ? 1 : 1 + (splitAt % (rows.length - 1));
        const parts = [rows.slice(0, split), rows.slice(split)].filter((p) => p.length > 0);
        const infos: ColdFileInfo[] = [];
        for (const [i, part] of parts.entries()) {
          infos.push(await writeColdFile(fs, COLD, `f${i}.cold`, part.map((r) => r.record), keysOf, { blockBytes }));
        }
        // One file alone: every read returns the records written, bytes equal, in LSN order.
        const reader = new ColdFileReader(fs, COLD, infos[0]!);
        const first = parts[0]!.map((r) => r.record);
        expect(recordsDiffer(await readBlocks(reader, await reader.blocks({})), first)).toBe('');

        const cutLsn = records[records.length - 1]!.lsn;
        const manifest = await commitColdManifest(fs, STORE, { chainId: CHAIN, cut: { height: 61, lsn: cutLsn }, files: infos });
        const tier = new FileColdTier(fs, STORE, manifest, { footerCache: 1, blockCache: 2 });
        const memory = new MemoryColdTier();
        for (const part of parts) memory.add(part.map((r) => r.record), keysOf, manifest.cut, 7);

        for (const kind of [1, 2, 7, 50, 255, 9]) expect(tier.countOf(kind)).toBe(memory.countOf(kind));
        expect(tier.cut).toEqual(memory.cut);
        for (const filter of [{}, ...filters]) {
          const blocks = await tier.blocks(filter);
          for (let i = 1; i < blocks.length; i++) {
            const [a, b] = [blocks[i - 1]!, blocks[i]!];
            expect(a.minLsn < b.minLsn || (a.minLsn === b.minLsn && a.file <= b.file)).toBe(true);
          }
          const want = rows.filter((r) => recordMatches(r.record.kind, r.record.lsn, r.keys, filter));
          for (const r of want) {
            const holder = blocks.find((b) => b.minLsn <= r.record.lsn && r.record.lsn <= b.maxLsn && infos.some((f) => f.name === b.file && f.minLsn <= r.record.lsn && r.record.lsn <= f.maxLsn));
            expect(holder, `LSN ${r.record.lsn} under ${JSON.stringify(filter)}`).toBeDefined();
          }
          const keep = (got: readonly ColdRecord[]): ColdRecord[] =>
            got.filter((rec) => recordMatches(rec.kind, rec.lsn, keysOf(rec), filter)).sort((a, b) => a.lsn - b.lsn);
          const fromFile = keep(await readBlocks(tier, blocks));
          const fromMemory = keep(await readBlocks(memory, await memory.blocks(filter)));
          expect(recordsDiffer(fromFile, fromMemory)).toBe('');
          expect(recordsDiffer(fromFile, want.map((r) => r.record))).toBe('');
          checkedFilters++;
        }
        const all = await readBlocks(tier, await tier.blocks({}));
        expect(recordsDiffer(all.sort((a, b) => a.lsn - b.lsn), records)).toBe('');
      }),
      { seed, numRuns: runs },
    );
    expect(checkedFilters).toBeGreaterThan(runs);
  });
});
