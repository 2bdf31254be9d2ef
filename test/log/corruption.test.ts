/**
 * Interior corruption (D4, D5): a flipped bit anywhere in sealed data (the sealed segments, the
 * newest segment's batches before its last, the manifest) fails open or read with CORRUPTION
 * naming the right file and an offset at or before the bit, never returns the damaged data.
 * Also: a missing segment, a missing manifest, a misplaced segment.
 */
import { describe, expect, it } from 'vitest';
import { recordSpan, readU32 } from '../../src/codec/framing.ts';
import { isStoreError, type ConsensusStoreError } from '../../src/errors.ts';
import { Prng } from '../../src/io/prng.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { decodeManifest } from '../../src/log/manifest.ts';
import type { Lsn } from '../../src/log/types.ts';
import { DIR, appendRange, collect, openSim, segPath } from './wal-helpers.ts';

const MANIFEST = `${DIR}/MANIFEST`;

/** Sealed data regions: file -> [0, end). */
async function buildLog(): Promise<{ disk: SimulatedDisk; regions: Map<string, number> }> {
  const disk = new SimulatedDisk({ seed: 5 });
  const log = await openSim(disk);
  for (let n = 0; n < 120; n += 6) await appendRange(log, n, n + 6);
  await log.close();
  const manifest = decodeManifest(disk.readFileNow(MANIFEST)!, MANIFEST);
  const regions = new Map<string, number>();
  for (const s of manifest.sealed) regions.set(segPath(s.id), s.endOffset);
  // The newest segment: everything before its last batch is sealed data too.
  const tailId = manifest.firstSegmentId + manifest.sealed.length;
  const before = disk.readFileNow(segPath(tailId))!;
  const again = await openSim(disk);
  await appendRange(again, 100, 103);
  await again.close();
  const after = disk.readFileNow(segPath(tailId))!;
  const lastBatchAt = after.findIndex((b, i) => b !== before[i]);
  expect(lastBatchAt).toBeGreaterThan(100);
  regions.set(segPath(tailId), lastBatchAt);
  regions.set(MANIFEST, disk.readFileNow(MANIFEST)!.length);
  return { disk, regions };
}

/** Start of the header or record that holds `offset` of a segment. */
function unitStart(bytes: Uint8Array, offset: number): number {
  if (offset < 32) return 0;
  let pos = 32;
  for (;;) {
    const next = pos + recordSpan(readU32(bytes, pos));
    if (offset < next) return pos;
    pos = next;
  }
}

async function openAndReadAll(disk: SimulatedDisk): Promise<unknown> {
  try {
    const log = await openSim(disk);
    try {
      await collect(log);
      for (let lsn = 1; lsn < log.nextLsn; lsn++) await log.get(lsn as Lsn);
    } finally {
      await log.close();
    }
    return undefined;
  } catch (err) {
    return err;
  }
}

describe('interior corruption', () => {
  it('a flipped bit anywhere in sealed data is CORRUPTION with the right file and offset, never data', async () => {
    const { disk, regions } = await buildLog();
    const originals = new Map([...regions.keys()].map((p) => [p, disk.readFileNow(p)!]));
    const seed = 0x5eed;
    const prng = new Prng(seed);
    const targets: [string, number][] = [];
    for (const [path, end] of regions) {
      // Every byte of the manifest, of the newest segment's sealed part and of the first 1 KiB of
      // the first segment; a seeded sample of the rest.
      const every = path === MANIFEST || path === [...regions.keys()][regions.size - 2] || path === segPath(1);
      for (let off = 0; off < end; off++) {
        if ((every && (path !== segPath(1) || off < 1024)) || prng.int(0, 9) === 0) targets.push([path, off]);
      }
    }
    console.log(`corruption: ${targets.length} flipped bits (sample seed ${seed})`);
    for (const [path, off] of targets) {
      const bit = off % 8;
      disk.flipBit(path, off, bit);
      const err = await openAndReadAll(disk);
      disk.flipBit(path, off, bit);
      expect(isStoreError(err, 'CORRUPTION'), `${path}@${off}: ${String(err)}`).toBe(true);
      const location = (err as ConsensusStoreError).location!;
      expect(location.file, `${path}@${off}`).toBe(path);
      if (path !== MANIFEST) {
        expect(location.offset, `${path}@${off}`).toBeGreaterThanOrEqual(unitStart(originals.get(path)!, off));
        expect(location.offset, `${path}@${off}`).toBeLessThanOrEqual(off);
      }
    }
    expect(await openAndReadAll(disk)).toBeUndefined();
  });

  it('a damaged payload in a sealed segment is never returned by get', async () => {
    const { disk } = await buildLog();
    // Record 2 (37 payload bytes) sits at offset 56, after record 1 (empty payload).
    disk.flipBit(segPath(1), 56 + 24 + 5, 0);
    const log = await openSim(disk);
    await expect(log.get(2 as Lsn)).rejects.toMatchObject({ code: 'CORRUPTION', location: { file: segPath(1), offset: 56 } });
    await expect(collect(log)).rejects.toMatchObject({ code: 'CORRUPTION', location: { file: segPath(1), offset: 56 } });
    expect((await log.get(3 as Lsn))?.lsn).toBe(3);
    await log.close();
  });

  it('a missing sealed segment fails the open with CORRUPTION naming it', async () => {
    const { disk } = await buildLog();
    await disk.fs().unlink(segPath(2));
    await expect(openSim(disk)).rejects.toMatchObject({ code: 'CORRUPTION', location: { file: segPath(2), offset: 0 } });
  });

  it('a missing manifest with segments present is CORRUPTION', async () => {
    const { disk } = await buildLog();
    await disk.fs().unlink(MANIFEST);
    await expect(openSim(disk)).rejects.toMatchObject({ code: 'CORRUPTION', location: { file: MANIFEST } });
  });

  it('a misplaced segment (swapped with another) is detected by its header', async () => {
    const { disk } = await buildLog();
    const fs = disk.fs();
    await fs.rename(segPath(2), `${DIR}/wal/x`);
    await fs.rename(segPath(3), segPath(2));
    await fs.rename(`${DIR}/wal/x`, segPath(3));
    await expect(openSim(disk)).rejects.toMatchObject({ code: 'CORRUPTION', location: { file: segPath(2), offset: 16 } });
  });

  it('a failed open releases the lock and the files', async () => {
    const { disk } = await buildLog();
    disk.flipBit(MANIFEST, 20, 1);
    await expect(openSim(disk)).rejects.toMatchObject({ code: 'CORRUPTION' });
    disk.flipBit(MANIFEST, 20, 1);
    const log = await openSim(disk);
    expect(log.openReport.recordsScanned).toBe(123);
    await log.close();
  });
});
