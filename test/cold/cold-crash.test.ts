/**
 * A power cut at every I/O call of a compaction's switch (docs/format.md, "Cold files", "What a
 * crash leaves"): writing a cold file, then committing the manifest that lists it (with and
 * without dropping the older file), replayed on a fresh simulated disk once per call with the
 * disk crashing at that call (interrupted writes torn). After each crash openColdDir finds the
 * old generation or the new one, whole, deletes every leftover, and the tier reads exactly that
 * generation's records; a second open finds nothing more to delete.
 */
import { describe, expect, it } from 'vitest';
import { writeColdFile } from '../../src/cold/cold-file.ts';
import { commitColdManifest, openColdDir } from '../../src/cold/cold-manifest.ts';
import { FileColdTier } from '../../src/cold/file-tier.ts';
import type { ColdRecord } from '../../src/cold/types.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { CHAIN, COLD, coldFilesOn, recordsDiffer, STORE, voteKeys, voteRecords } from './cold-fixtures.ts';

const OLD = voteRecords({ validators: 4, heights: 4, seed: 1, ids: 'name' });
const NEW = voteRecords({ validators: 4, heights: 4, seed: 2, ids: 'name', firstHeight: 5, firstLsn: OLD.length + 1 });

/** A disk whose cold directory holds generation 1: a.cold (heights 1..4). */
async function baseDisk(seed: number): Promise<SimulatedDisk> {
  const disk = new SimulatedDisk({ seed, tearInterruptedWrites: true });
  const fs = disk.fs();
  const a = await writeColdFile(fs, COLD, 'a.cold', OLD, voteKeys, { blockBytes: 1024 });
  await commitColdManifest(fs, STORE, { chainId: CHAIN, cut: { height: 5, lsn: a.maxLsn }, files: [a] });
  return disk;
}

/** The switch: write b.cold (heights 5..8), commit generation 2 (dropping a.cold when `drop`). Errors after a cut are swallowed. */
async function script(disk: SimulatedDisk, drop: boolean): Promise<boolean> {
  try {
    const fs = disk.fs();
    const { manifest } = await openColdDir(fs, STORE, CHAIN);
    const b = await writeColdFile(fs, COLD, 'b.cold', NEW, voteKeys, { blockBytes: 1024 });
    const files = drop ? [b] : [...manifest.files, b];
    await commitColdManifest(fs, STORE, { chainId: CHAIN, cut: { height: 9, lsn: b.maxLsn }, files }, drop ? { dropFiles: ['a.cold'] } : undefined);
    return true;
  } catch {
    return false;
  }
}

async function tierRecords(disk: SimulatedDisk): Promise<ColdRecord[]> {
  const tier = await FileColdTier.open(disk.fs(), STORE, CHAIN);
  const out: ColdRecord[] = [];
  for (const b of await tier.blocks({})) out.push(...(await tier.read(b)));
  return out;
}

describe('cold tier: crash at every I/O call of a compaction switch', () => {
  it.each([
    [31, false],
    [32, true],
  ])('after a power cut at any call (seed %i, drop the old file: %s) the cold directory holds the old generation or the new one, whole, and no leftover', async (seed, drop) => {
    const probe = await baseDisk(seed);
    const start = probe.callCount;
    expect(await script(probe, drop)).toBe(true);
    const total = probe.callCount - start;
    expect(total).toBeGreaterThan(15);
    const newFiles = drop ? ['MANIFEST', 'b.cold'] : ['MANIFEST', 'a.cold', 'b.cold'];
    const newRecords = drop ? NEW : [...OLD, ...NEW];
    const seen = { old: 0, new: 0 };
    for (let at = 1; at <= total; at++) {
      const disk = await baseDisk(seed);
      disk.crashAtCall(at);
      const done = await script(disk, drop);
      if (disk.stats.crashes === 0) disk.crash();
      const { manifest } = await openColdDir(disk.fs(), STORE, CHAIN);
      expect([1, 2], `crash at ${at}`).toContain(manifest.generation);
      if (manifest.generation === 1) {
        expect(done, `crash at ${at}: the call resolved but the old generation is back`).toBe(false);
        expect(manifest.files.map((f) => f.name)).toEqual(['a.cold']);
        expect(manifest.cut).toEqual({ height: 5, lsn: OLD.length });
        expect(coldFilesOn(disk), `crash at ${at}`).toEqual(['MANIFEST', 'a.cold']);
        expect(recordsDiffer(await tierRecords(disk), OLD), `crash at ${at}`).toBe('');
        seen.old++;
      } else {
        expect(manifest.files.map((f) => f.name)).toEqual(newFiles.slice(1));
        expect(manifest.cut).toEqual({ height: 9, lsn: OLD.length + NEW.length });
        expect(coldFilesOn(disk), `crash at ${at}`).toEqual(newFiles);
        expect(recordsDiffer(await tierRecords(disk), newRecords), `crash at ${at}`).toBe('');
        seen.new++;
      }
      expect((await openColdDir(disk.fs(), STORE, CHAIN)).removed).toEqual([]);
    }
    console.log(`cold crash points (seed ${seed}, drop ${drop}): ${total} I/O calls; after the cut the old generation ${seen.old} times, the new one ${seen.new}`);
    expect(seen.old).toBeGreaterThan(0);
    expect(seen.new).toBeGreaterThan(0);
    expect(seen.old + seen.new).toBe(total);
  });

  it('a power cut at any call of the open that cleans an interrupted switch leaves the old generation, and the next open finishes the cleaning', async () => {
    /** The switch cut just before the manifest's rename: b.cold written, MANIFEST.tmp written, neither listed. */
    const interrupted = async (): Promise<SimulatedDisk> => {
      const disk = await baseDisk(33);
      const fs = disk.fs();
      await writeColdFile(fs, COLD, 'b.cold', NEW, voteKeys, { blockBytes: 1024 });
      const h = await fs.open(`${COLD}/MANIFEST.tmp`, 'create');
      await h.writeAndSync([Uint8Array.of(1, 2, 3)], 0);
      await h.close();
      await fs.syncDir(COLD);
      return disk;
    };
    const probe = await interrupted();
    const start = probe.callCount;
    expect((await openColdDir(probe.fs(), STORE, CHAIN)).removed).toEqual(['MANIFEST.tmp', 'b.cold']);
    const total = probe.callCount - start;
    for (let at = 1; at <= total; at++) {
      const disk = await interrupted();
      disk.crashAtCall(at);
      await openColdDir(disk.fs(), STORE, CHAIN).catch(() => undefined);
      if (disk.stats.crashes === 0) disk.crash();
      const { manifest } = await openColdDir(disk.fs(), STORE, CHAIN);
      expect(manifest.generation, `crash at ${at}`).toBe(1);
      expect(coldFilesOn(disk), `crash at ${at}`).toEqual(['MANIFEST', 'a.cold']);
      expect(recordsDiffer(await tierRecords(disk), OLD), `crash at ${at}`).toBe('');
    }
    console.log(`cold crash points of an open that cleans: ${total} I/O calls`);
    expect(total).toBeGreaterThan(5);
  });
});
