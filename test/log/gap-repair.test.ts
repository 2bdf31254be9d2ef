/**
 * The repair that keeps what follows the damage (D5, gap-repair.ts): filler layout and bounds,
 * power cuts at every I/O call of the repairing open (the fill is finished by the next open,
 * with or without repair mode, and the repair is pending exactly once), and a later cut before a
 * pending fill settles it so that new data written there is never overwritten by filler.
 */
import { describe, expect, it } from 'vitest';
import { COMMIT_RECORD_BYTES, RECORD_HEADER_BYTES } from '../../src/codec/framing.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { FILLER_BATCH_BYTES, FILLER_KIND, encodeFiller } from '../../src/log/filler.ts';
import { readManifest } from '../../src/log/manifest.ts';
import { DIR, appendRange, collect, filesOf, diskWith, openSim, segPath } from './wal-helpers.ts';
import type { WriteAheadLog } from '../../src/log/wal.ts';
import { batchesOf } from './log-layout.ts';

const u32 = (b: Uint8Array, at: number): number => new DataView(b.buffer, b.byteOffset).getUint32(at, true);

describe('filler records', () => {
  it('fill the range exactly, one per lost LSN, in batches within the bounds, ending with matching markers', () => {
    for (const [start, count, slack] of [[32, 1, 0], [32, 1, 800], [1000, 7, 8], [4096, 3, 4096 - 3 * 24 - 32], [64, 5000, 0]] as const) {
      const end = start + count * RECORD_HEADER_BYTES + Math.ceil(count / 4096) * COMMIT_RECORD_BYTES + slack;
      const bytes = encodeFiller(start, end, 100, count)!;
      expect(bytes.length).toBe(end - start);
      const batches = batchesOf('f', Uint8Array.from([...new Uint8Array(32).fill(1), ...bytes]));
      expect(batches.at(-1)!.lastLsn).toBe(100 + count - 1);
      expect(batches.at(-1)!.end).toBe(32 + bytes.length);
      for (const b of batches) expect(b.end - b.start).toBeLessThanOrEqual(FILLER_BATCH_BYTES + 32);
      expect(bytes[8]).toBe(FILLER_KIND);
    }
  });

  it('a range larger than one batch bound is split into several batches', () => {
    const bytes = encodeFiller(32, 32 + 9 * 1024 * 1024, 1, 3)!;
    const batches = batchesOf('f', Uint8Array.from([...new Uint8Array(32).fill(1), ...bytes]));
    expect(batches).toHaveLength(3);
    expect(batches.map((b) => b.lastLsn - b.firstLsn + 1)).toEqual([1, 1, 1]);
  });

  it('decline (the caller cuts) when they do not fit: too few bytes, more batches than records, no LSN, an unaligned range', () => {
    expect(encodeFiller(32, 32 + 24 + 24, 1, 1)).toBeUndefined();
    expect(encodeFiller(32, 32 + 2 * 24 + 32 - 8, 1, 2)).toBeUndefined();
    expect(encodeFiller(32, 32 + 9 * 1024 * 1024, 1, 2)).toBeUndefined();
    expect(encodeFiller(32, 32 + 56, 1, 0)).toBeUndefined();
    expect(encodeFiller(36, 36 + 56, 1, 1)).toBeUndefined();
    expect(encodeFiller(32, 32, 1, 1)).toBeUndefined();
    expect(u32(encodeFiller(32, 88, 1, 1)!, 0)).toBe(0);
  });
});

async function buildLog(seed: number): Promise<SimulatedDisk> {
  const disk = new SimulatedDisk({ seed, tearInterruptedWrites: true });
  const log = await openSim(disk);
  for (let n = 0; n < 120; n += 6) await appendRange(log, n, n + 6);
  await log.close();
  return disk;
}

/** The repairing open run whole on a copy: the records it keeps and its report. */
async function reference(files: Map<string, Uint8Array>): Promise<{ lsns: number[]; first: number; last: number }> {
  const disk = await diskWith(files, 1);
  const log = await openSim(disk, { repair: true });
  const lsns = (await collect(log)).map((r) => r.lsn);
  const report = log.openReport.repair!;
  expect(report.gapEnd).toBeDefined();
  await log.close();
  return { lsns, first: report.firstLostLsn!, last: report.lastLostLsn! };
}

describe('a gap repair across power cuts', () => {
  for (const [where, segment, offset] of [['a sealed segment', 2, 600], ['the newest segment', 0, 40]] as const) {
    it(`in ${where}: a cut at any I/O call leaves damage to repair again, or a log whose fill the next open finishes; the repair is pending once`, async () => {
      const base = await buildLog(3);
      const wal = base.listFiles().filter((p) => p.endsWith('.wal'));
      const path = segment === 0 ? wal[wal.length - 2]! : segPath(segment);
      base.flipBit(path, offset, 1);
      const files = filesOf(base);
      const ref = await reference(files);
      const probe = await diskWith(files, 2);
      const before = probe.callCount;
      await (await openSim(probe, { repair: true })).close();
      const calls = probe.callCount - before;
      let committed = 0;
      for (let k = 1; k <= calls; k++) {
        const disk = await diskWith(files, 100 + k);
        disk.crashAtCall(disk.callCount + k);
        await openSim(disk, { repair: true }).then((l) => l.close()).catch(() => undefined);
        disk.crash();
        // Without repair: the damage as it was (CORRUPTION), or the finished gap.
        const plain: WriteAheadLog | Error = await openSim(disk).catch((err: unknown) => err as Error);
        if (!(plain instanceof Error)) {
          // A sealed segment's payloads are checked when read: the damage shows there, or the gap.
          const read = await collect(plain).catch((err: unknown) => err as Error);
          if (read instanceof Error) {
            expect(read, `cut at call ${k}`).toMatchObject({ code: 'CORRUPTION' });
            expect(plain.openReport.pendingRepairs, `cut at call ${k}`).toHaveLength(0);
          } else {
            committed++;
            expect(read.map((r) => r.lsn), `cut at call ${k}`).toEqual(ref.lsns);
            expect(plain.openReport.pendingRepairs, `cut at call ${k}`).toHaveLength(1);
          }
          await plain.close();
        } else {
          expect(plain, `cut at call ${k}`).toMatchObject({ code: 'CORRUPTION' });
        }
        const log = await openSim(disk, { repair: true });
        expect((await collect(log)).map((r) => r.lsn), `cut at call ${k}`).toEqual(ref.lsns);
        const pending = log.openReport.pendingRepairs;
        expect(pending, `cut at call ${k}`).toHaveLength(1);
        expect([pending[0]!.firstLostLsn, pending[0]!.lastLostLsn]).toEqual([ref.first, ref.last]);
        await log.close();
      }
      expect(committed).toBeGreaterThan(0);
      expect(committed).toBeLessThan(calls);
    }, 120_000);
  }
});

describe('a pending fill and a later cut', () => {
  it('a cut before a pending fill settles it: data appended over the range afterwards is never overwritten by filler', async () => {
    const disk = await buildLog(4);
    const wal = disk.listFiles().filter((p) => p.endsWith('.wal'));
    const tail = wal[wal.length - 2]!;
    const layout = batchesOf(tail, disk.readFileNow(tail)!);
    expect(layout.length).toBeGreaterThan(3);
    // Damage the third batch of the newest segment: a gap (intact batches follow), left pending
    // (a bare log: no store acknowledges it).
    disk.flipBit(tail, layout[2]!.start + 30, 0);
    const gapped = await openSim(disk, { repair: true });
    expect(gapped.openReport.repair!.gapEnd).toBe(layout[3]!.start);
    await gapped.close();
    // Then the bytes from the middle of the first batch to the end are zeroed: after the clean
    // close that is damage with nothing intact after it, so the repair cuts before the fill.
    disk.overwrite(tail, layout[0]!.start + 40, new Uint8Array(layout.at(-1)!.end - layout[0]!.start - 40));
    const cut = await openSim(disk, { repair: true });
    expect(cut.openReport.repair!.gapEnd).toBeUndefined();
    const manifest = (await readManifest(disk.fs(), DIR))!;
    expect(manifest.pendingRepairs).toHaveLength(2);
    expect(manifest.pendingRepairs.every((p) => p.gapEnd === undefined)).toBe(true);
    await appendRange(cut, 500, 540);
    const written = await collect(cut);
    await cut.close();
    const again = await openSim(disk);
    expect(await collect(again)).toEqual(written);
    await again.close();
  });
});
