/**
 * Rot in the newest batch (D5): a flipped bit in the last batch of the newest segment is damage
 * to acknowledged data, not a torn write. After a clean close every bit of that batch, flipped,
 * gives CORRUPTION naming the segment; after a power cut at any I/O call of the last appends,
 * every bit of the last whole batch on disk, flipped, gives CORRUPTION or an open that still
 * holds every acknowledged record, never fewer.
 */
import { describe, expect, it } from 'vitest';
import { lastBatchRange } from '../support/last-batch.ts';
import { isStoreError } from '../../src/errors.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { collect, diskWith, filesOf, openSim, payloadFor, recordFor } from './wal-helpers.ts';

const SEGMENT = 8192;

/** The newest segment that holds a batch, and the byte range of its last batch. */
function lastBatch(files: ReadonlyMap<string, Uint8Array>): { path: string; start: number; end: number } {
  const segments = [...files.keys()].filter((p) => p.endsWith('.wal')).sort();
  for (let i = segments.length - 1; i >= 0; i--) {
    const path = segments[i]!;
    const range = lastBatchRange(files.get(path)!);
    if (range !== undefined) return { path, ...range };
  }
  throw new Error('no batch on disk');
}

/** Opens a copy of `files` with bit `bit` flipped: 'corruption' (naming `path`) or the records found. */
async function openFlipped(files: ReadonlyMap<string, Uint8Array>, path: string, bit: number): Promise<'corruption' | { payload: Uint8Array }[]> {
  const disk = await diskWith(files, bit);
  disk.flipBit(path, bit >>> 3, bit & 7);
  try {
    const log = await openSim(disk, { segmentSize: SEGMENT });
    const records = await collect(log);
    await log.close();
    return records;
  } catch (err) {
    if (!isStoreError(err, 'CORRUPTION')) throw err;
    expect(err.location?.file).toBe(path);
    return 'corruption';
  }
}

/** A log over two sealed segments and the newest one, closed cleanly; `n` records numbered from 0. */
async function build(seed: number): Promise<{ disk: SimulatedDisk; n: number }> {
  const disk = new SimulatedDisk({ seed, tearInterruptedWrites: true });
  const log = await openSim(disk, { segmentSize: SEGMENT });
  let n = 0;
  while (disk.listFiles().filter((p) => p.endsWith('.wal')).length < 4) {
    await Promise.all([0, 1, 2].map((i) => log.append([recordFor(n + i)])));
    n += 3;
  }
  await log.close();
  return { disk, n };
}

describe('a flipped bit in the newest batch', () => {
  it('after a clean close: every bit of the last batch, flipped, is CORRUPTION naming the segment', async () => {
    const { disk } = await build(3);
    const files = filesOf(disk);
    const { path, start, end } = lastBatch(files);
    expect(end - start).toBeGreaterThan(100);
    for (let bit = start * 8; bit < end * 8; bit++) {
      expect(await openFlipped(files, path, bit), `bit ${bit} (byte ${bit >>> 3})`).toBe('corruption');
    }
  });

  it('after a clean close: the last batch with a sector zeroed (what a torn write leaves) is CORRUPTION, since the close recorded it as acknowledged', async () => {
    const { disk } = await build(4);
    const files = filesOf(disk);
    const { path, start, end } = lastBatch(files);
    for (let sector = Math.floor(start / 512) * 512; sector < end; sector += 512) {
      const copy = await diskWith(files, sector);
      const from = Math.max(sector, start);
      copy.overwrite(path, from, new Uint8Array(Math.min(sector + 512, end) - from));
      await expect(openSim(copy, { segmentSize: SEGMENT }), `sector at ${sector}`).rejects.toMatchObject({ code: 'CORRUPTION' });
    }
  });

  it('after a power cut at every I/O call of the last appends: every bit of the last whole batch, flipped, keeps every acknowledged record or is CORRUPTION', async () => {
    const probe = await build(5);
    const before = probe.disk.callCount;
    const probeLog = await openSim(probe.disk, { segmentSize: SEGMENT });
    for (let b = 0; b < 3; b++) await Promise.all([0, 1].map((i) => probeLog.append([recordFor(probe.n + 2 * b + i, 160)])));
    const calls = probe.disk.callCount - before;
    await probeLog.close();
    let corruptions = 0;
    let kept = 0;
    for (let k = 1; k <= calls; k++) {
      const { disk, n } = await build(100 + k);
      const log = await openSim(disk, { segmentSize: SEGMENT });
      disk.crashAtCall(k);
      let acked = n;
      try {
        for (let b = 0; b < 3; b++) {
          await Promise.all([0, 1].map((i) => log.append([recordFor(n + 2 * b + i, 160)])));
          acked = n + 2 * (b + 1);
        }
      } catch {
        // the power cut
      }
      if (disk.stats.crashes === 0) disk.crash();
      const files = new Map([...filesOf(disk)].map(([p]) => [p, disk.readDurableNow(p)!] as const));
      const { path, start, end } = lastBatch(files);
      // Every bit for the last cut; every 23rd bit (and all of the marker) elsewhere.
      const step = k === calls ? 1 : 23;
      for (let bit = start * 8; bit < end * 8; bit++) {
        if (bit % step !== 0 && bit < (end - 32) * 8) continue;
        const outcome = await openFlipped(files, path, bit);
        if (outcome === 'corruption') {
          corruptions++;
          continue;
        }
        kept++;
        expect(outcome.length, `cut at call ${k}, bit ${bit}: acknowledged ${acked}`).toBeGreaterThanOrEqual(acked);
        outcome.slice(0, acked).forEach((r, i) => expect(r.payload.length).toBe(payloadFor(i, i < n ? 120 : 160).length));
      }
    }
    console.log(`last-batch rot after power cuts: ${calls} cut points, ${corruptions} CORRUPTION, ${kept} opens that kept every acknowledged record`);
    expect(corruptions).toBeGreaterThan(0);
  }, 120_000);
});
