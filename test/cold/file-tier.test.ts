/**
 * FileColdTier over committed cold files (docs/format.md, "Cold files"): counts from the
 * manifest, footers read only for files a filter may match, bounded footer and block caches,
 * reads returning fresh copies, `adopt` of a later generation (new files, dropped files), and
 * `verify` over every file.
 */
import { describe, expect, it } from 'vitest';
import { RecordKind } from '../../src/codec/kinds.ts';
import { writeColdFile } from '../../src/cold/cold-file.ts';
import { commitColdManifest } from '../../src/cold/cold-manifest.ts';
import { FileColdTier } from '../../src/cold/file-tier.ts';
import type { ColdRecord } from '../../src/cold/types.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { CHAIN, COLD, recordsDiffer, rejectsWith, STORE, voteKeys, voteRecords } from './cold-fixtures.ts';

/** Three files of 10 heights each (1..10, 11..20, 21..30), 4 validators. */
async function threeFiles(): Promise<{ disk: SimulatedDisk; parts: ColdRecord[][] }> {
  const disk = new SimulatedDisk({ seed: 8 });
  const fs = disk.fs();
  const parts: ColdRecord[][] = [];
  const infos = [];
  let lsn = 1;
  for (let i = 0; i < 3; i++) {
    const records = voteRecords({ validators: 4, heights: 10, seed: 40 + i, ids: 'name', firstHeight: 1 + 10 * i, firstLsn: lsn });
    lsn += records.length;
    parts.push(records);
    infos.push(await writeColdFile(fs, COLD, `f${i}.cold`, records, voteKeys, { blockBytes: 1024 }));
  }
  await commitColdManifest(fs, STORE, { chainId: CHAIN, cut: { height: 31, lsn: lsn - 1 }, files: infos });
  return { disk, parts };
}

async function readAll(tier: FileColdTier, filter = {}): Promise<ColdRecord[]> {
  const out: ColdRecord[] = [];
  for (const b of await tier.blocks(filter)) out.push(...(await tier.read(b)));
  return out;
}

describe('FileColdTier', () => {
  it('counts from the manifest and reads the footers of only the files a filter may match', async () => {
    const { disk, parts } = await threeFiles();
    const tier = await FileColdTier.open(disk.fs(), STORE, CHAIN);
    expect(tier.countOf(RecordKind.Vote)).toBe(3 * 10 * 8);
    expect(tier.countOf(RecordKind.Finalized)).toBe(30);
    expect(tier.countOf(RecordKind.Evidence)).toBe(0);
    expect(tier.cut).toEqual({ height: 31, lsn: 3 * 90 });
    expect(tier.footerLoads).toBe(0);
    const h15 = await tier.blocks({ height: [15, 15] });
    expect(tier.footerLoads).toBe(1);
    expect(new Set(h15.map((b) => b.file))).toEqual(new Set(['f1.cold']));
    expect((await readAll(tier, { height: [15, 15] })).filter((r) => voteKeys(r).height === 15)).toHaveLength(9);
    expect(await tier.blocks({ kinds: [RecordKind.Evidence] })).toEqual([]);
    expect(await tier.blocks({ time: [0, 5] })).toEqual([]);
    expect(tier.footerLoads).toBe(1);
    expect(recordsDiffer(await readAll(tier), parts.flat())).toBe('');
    expect(tier.footerLoads).toBe(3);
    expect((await tier.verify()).map((r) => [r.file, r.records])).toEqual([
      [`${COLD}/f0.cold`, 90],
      [`${COLD}/f1.cold`, 90],
      [`${COLD}/f2.cold`, 90],
    ]);
  });

  it('keeps at most its cache sizes: a footer evicted is read again, a cached block costs no I/O, and reads are copies', async () => {
    const { disk } = await threeFiles();
    const tier = await FileColdTier.open(disk.fs(), STORE, CHAIN, { footerCache: 1, blockCache: 1 });
    await tier.blocks({ height: [1, 1] });
    await tier.blocks({ height: [25, 25] });
    await tier.blocks({ height: [1, 1] });
    expect(tier.footerLoads).toBe(3);
    const [block] = await tier.blocks({ height: [1, 1] });
    const first = await tier.read(block!);
    const calls = disk.callCount;
    first[0]!.payload[0] = 0xee;
    const again = await tier.read(block!);
    expect(disk.callCount).toBe(calls);
    expect(again[0]!.payload[0]).toBe(1);
    const [other] = await tier.blocks({ height: [25, 25] });
    await tier.read(other!);
    const third = await tier.read(block!);
    expect(disk.callCount).toBeGreaterThan(calls);
    expect(recordsDiffer(third, again)).toBe('');
  });

  it('adopts a later generation: new files are seen, dropped ones are gone, an older one is refused', async () => {
    const { disk, parts } = await threeFiles();
    const fs = disk.fs();
    const tier = await FileColdTier.open(fs, STORE, CHAIN);
    const old = tier.manifest;
    const [f0Block] = await tier.blocks({ height: [1, 1] });
    const more = voteRecords({ validators: 4, heights: 5, seed: 50, ids: 'name', firstHeight: 31, firstLsn: 271 });
    const f3 = await writeColdFile(fs, COLD, 'f3.cold', more, voteKeys);
    const next = await commitColdManifest(fs, STORE, { chainId: CHAIN, cut: { height: 36, lsn: f3.maxLsn }, files: [...old.files.slice(1), f3] }, { dropFiles: ['f0.cold'] });
    expect(next.generation).toBe(2);
    tier.adopt(next);
    expect(tier.cut).toEqual({ height: 36, lsn: f3.maxLsn });
    expect(tier.countOf(RecordKind.Finalized)).toBe(25);
    expect(recordsDiffer(await readAll(tier), [...parts[1]!, ...parts[2]!, ...more])).toBe('');
    await rejectsWith(tier.read(f0Block!), 'INVALID_ARGUMENT');
    expect(() => tier.adopt(old)).toThrow(/generation/);
  });
});
