/**
 * Damage (docs/format.md, "Cold files"): one bit flipped at every byte of a small cold file, and
 * of the cold manifest; every truncation of both; a listed file missing or of another size; a
 * damaged block read through the tier. Each time the reader returns exactly the records written
 * or throws CORRUPTION naming the damaged file (never other data), `verify` always throws, and
 * openColdDir deletes nothing when it refuses.
 */
import { describe, expect, it } from 'vitest';
import { writeColdFile } from '../../src/cold/cold-file.ts';
import type { ColdFileInfo } from '../../src/cold/cold-file-info.ts';
import { commitColdManifest, openColdDir } from '../../src/cold/cold-manifest.ts';
import { ColdFileReader } from '../../src/cold/cold-reader.ts';
import { FileColdTier } from '../../src/cold/file-tier.ts';
import type { ColdRecord } from '../../src/cold/types.ts';
import { isStoreError } from '../../src/errors.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { CHAIN, COLD, coldFilesOn, recordsDiffer, rejectsWith, STORE, voteKeys, voteRecords } from './cold-fixtures.ts';

const FILE = `${COLD}/small.cold`;
const MANIFEST = `${COLD}/MANIFEST`;

/** A disk holding one small committed cold file of several blocks. */
async function smallDisk(): Promise<{ disk: SimulatedDisk; info: ColdFileInfo; records: ColdRecord[] }> {
  const disk = new SimulatedDisk({ seed: 9 });
  const fs = disk.fs();
  const records = voteRecords({ validators: 4, heights: 5, seed: 2, ids: 'name' });
  const info = await writeColdFile(fs, COLD, 'small.cold', records, voteKeys, { blockBytes: 1024 });
  await commitColdManifest(fs, STORE, { chainId: CHAIN, cut: { height: 13, lsn: info.maxLsn }, files: [info] });
  return { disk, info, records };
}

/** Every record the reader yields for `info`, or the error it threw. */
async function readAll(disk: SimulatedDisk, info: ColdFileInfo): Promise<ColdRecord[] | unknown> {
  try {
    const reader = new ColdFileReader(disk.fs(), COLD, info);
    const out: ColdRecord[] = [];
    for (const b of await reader.blocks({})) out.push(...(await reader.read(b)));
    return out;
  } catch (err) {
    return err;
  }
}

function expectCorruptionOf(err: unknown, path: string, what: string): void {
  expect(isStoreError(err, 'CORRUPTION'), `${what}: ${String(err)}`).toBe(true);
  const e = err as { location?: { file: string }; message: string };
  expect(e.location?.file, what).toBe(path);
  expect(e.message, what).toContain(path);
}

describe('cold file damage', () => {
  it('a bit flipped at any byte of a cold file: exactly the records written, or CORRUPTION naming the file; verify always fails', async () => {
    const { disk, info, records } = await smallDisk();
    expect(info.bytes).toBeGreaterThan(1000);
    expect(info.bytes).toBeLessThan(6000);
    expect((await new ColdFileReader(disk.fs(), COLD, info).blocks({})).length).toBeGreaterThan(2);
    let refused = 0;
    let intact = 0;
    for (let offset = 0; offset < info.bytes; offset++) {
      const bit = (offset * 5) % 8;
      disk.flipBit(FILE, offset, bit);
      const got = await readAll(disk, info);
      if (Array.isArray(got)) {
        expect(recordsDiffer(got, records), `flip at ${offset}`).toBe('');
        intact++;
      } else {
        expectCorruptionOf(got, FILE, `flip at ${offset}`);
        refused++;
      }
      expectCorruptionOf(await new ColdFileReader(disk.fs(), COLD, info).verify().catch((e: unknown) => e), FILE, `verify, flip at ${offset}`);
      disk.flipBit(FILE, offset, bit);
    }
    console.log(`cold-damage: ${info.bytes} flipped bits: ${refused} refused with CORRUPTION, ${intact} left the reads intact (bytes no read covers)`);
    expect(refused + intact).toBe(info.bytes);
    expect(refused).toBe(info.bytes);
    expect(recordsDiffer((await readAll(disk, info)) as ColdRecord[], records)).toBe('');
  });

  it('a block damaged under a tier: CORRUPTION naming the file and that block offset, the other blocks still read', async () => {
    const { disk, records } = await smallDisk();
    const tier = await FileColdTier.open(disk.fs(), STORE, CHAIN, { blockCache: 0 });
    const blocks = await tier.blocks({});
    const victim = blocks[1]!;
    disk.flipBit(FILE, victim.offset + 20, 0);
    const err = await rejectsWith(tier.read(victim), 'CORRUPTION');
    expect(err.location).toEqual({ file: FILE, offset: victim.offset });
    const rest = (await Promise.all(blocks.filter((b) => b !== victim).map((b) => tier.read(b)))).flat();
    expect(recordsDiffer(rest, records.filter((r) => r.lsn < victim.minLsn || r.lsn > victim.maxLsn))).toBe('');
  });

  it('a cold file cut at any length: CORRUPTION naming it, from openColdDir (size) and from a reader told the cut size', async () => {
    const { disk, info } = await smallDisk();
    const whole = disk.readDurableNow(FILE)!;
    for (let length = 0; length < whole.length; length += 7) {
      const fs = disk.fs();
      const h = await fs.open(FILE, 'readwrite');
      await h.truncate(length);
      await h.datasync();
      await h.close();
      const err = await rejectsWith(openColdDir(fs, STORE, CHAIN), 'CORRUPTION');
      expect(err.location?.file).toBe(FILE);
      expect(coldFilesOn(disk)).toEqual(['MANIFEST', 'small.cold']);
      expectCorruptionOf(await readAll(disk, info), FILE, `cut at ${length}`);
      if (length >= 1) expectCorruptionOf(await readAll(disk, { ...info, bytes: length }), FILE, `cut at ${length}, size agreed`);
      const w = await fs.open(FILE, 'readwrite');
      await w.write([whole], 0);
      await w.datasync();
      await w.close();
    }
  });

  it('a bit flipped at any byte of the cold manifest: CORRUPTION naming it, and nothing deleted', async () => {
    const { disk } = await smallDisk();
    const bytes = disk.readDurableNow(MANIFEST)!;
    await disk.fs().open(`${COLD}/leftover.cold.tmp`, 'create').then((h) => h.close());
    for (let offset = 0; offset < bytes.length; offset++) {
      disk.flipBit(MANIFEST, offset, offset % 8);
      const err = await openColdDir(disk.fs(), STORE, CHAIN).catch((e: unknown) => e);
      expectCorruptionOf(err, MANIFEST, `manifest flip at ${offset}`);
      disk.flipBit(MANIFEST, offset, offset % 8);
    }
    expect(coldFilesOn(disk)).toEqual(['MANIFEST', 'leftover.cold.tmp', 'small.cold']);
    const { manifest, removed } = await openColdDir(disk.fs(), STORE, CHAIN);
    expect(removed).toEqual(['leftover.cold.tmp']);
    expect(manifest.generation).toBe(1);
    expect(coldFilesOn(disk)).toEqual(['MANIFEST', 'small.cold']);
  });

  it('a cold manifest cut at any length: CORRUPTION naming it', async () => {
    const { disk } = await smallDisk();
    const bytes = disk.readDurableNow(MANIFEST)!;
    for (let length = 0; length < bytes.length; length++) {
      const fs = disk.fs();
      const h = await fs.open(MANIFEST, 'readwrite');
      await h.truncate(length);
      await h.close();
      expectCorruptionOf(await openColdDir(fs, STORE, CHAIN).catch((e: unknown) => e), MANIFEST, `manifest cut at ${length}`);
      const w = await fs.open(MANIFEST, 'readwrite');
      await w.write([bytes], 0);
      await w.close();
    }
    expect((await openColdDir(disk.fs(), STORE, CHAIN)).manifest.files).toHaveLength(1);
  });

  it('a listed file missing: CORRUPTION naming it; a manifest of another chain: INVALID_ARGUMENT, as openStore does', async () => {
    const { disk, info } = await smallDisk();
    const fs = disk.fs();
    const err = await rejectsWith(openColdDir(fs, STORE, 'other-chain'), 'INVALID_ARGUMENT');
    expect(err.message).toContain(`belongs to chain '${CHAIN}'`);
    await fs.rename(FILE, `${STORE}/moved.cold`);
    const missing = await rejectsWith(openColdDir(fs, STORE, CHAIN), 'CORRUPTION');
    expect(missing.location).toEqual({ file: FILE, offset: 0 });
    expect(coldFilesOn(disk)).toEqual(['MANIFEST']);
    expectCorruptionOf(await new ColdFileReader(fs, COLD, info).blocks({}).catch((e: unknown) => e), FILE, 'reader of a missing file');
    expect((await FileColdTier.open(fs, '/nowhere', CHAIN)).manifest).toEqual({ generation: 0, chainId: CHAIN, cut: { height: 0, lsn: 0 }, files: [] });
  });
});
