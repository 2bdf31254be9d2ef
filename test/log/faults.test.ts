/**
 * Failed calls (D6): EIO on the commit path's write or fdatasync poisons the log (that call and
 * every later append reject IO_FAILED, reads keep working, nothing is retried); ENOSPC rejects
 * the batch with DISK_FULL, damages nothing, leaves no LSN gap, and the log works again once
 * space is freed, whether the disk fills mid-segment or at segment creation.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { Lsn } from '../../src/log/types.ts';
import { appendRange, collect, openSim, payloadFor, recordFor } from './wal-helpers.ts';

function codeOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => 'ok',
    (e: { code?: unknown }) => e.code,
  );
}

describe('EIO poisons', () => {
  it('EIO on the fdatasync of a batch poisons: that call and every later append reject IO_FAILED, reads keep working', async () => {
    const disk = new SimulatedDisk({ seed: 1 });
    const log = await openSim(disk);
    await appendRange(log, 0, 10);
    disk.injectFault('writeAndSync', 'EIO');
    const failed = log.append([recordFor(10)]);
    const queued = log.append([recordFor(11)]);
    expect(await codeOf(failed)).toBe('IO_FAILED');
    expect(await codeOf(queued)).toBe('IO_FAILED');
    expect(log.status).toBe('poisoned');
    expect(await codeOf(log.append([recordFor(12)]))).toBe('IO_FAILED');
    expect((await log.get(3 as Lsn))?.payload).toEqual(payloadFor(2));
    expect((await collect(log)).length).toBe(10);
    await log.close();
    expect(log.status).toBe('closed');
    const again = await openSim(disk);
    expect((await collect(again)).length).toBeGreaterThanOrEqual(10);
    expect(await again.append([recordFor(13)])).toEqual([again.nextLsn - 1]);
    await again.close();
  });

  it("EIO on a write with durability 'none' poisons too", async () => {
    const disk = new SimulatedDisk({ seed: 2 });
    const log = await openSim(disk, { durability: 'none' });
    await appendRange(log, 0, 3);
    disk.injectFault('write', 'EIO');
    expect(await codeOf(log.append([recordFor(3)]))).toBe('IO_FAILED');
    expect(log.status).toBe('poisoned');
    await log.close();
  });

  it('EIO while sealing a segment (manifest fdatasync) poisons', async () => {
    const disk = new SimulatedDisk({ seed: 3 });
    const log = await openSim(disk);
    await appendRange(log, 0, 5);
    disk.injectFault('datasync', 'EIO');
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => codeOf(log.append([recordFor(i, 300)]))));
    expect(results).toContain('IO_FAILED');
    expect(log.status).toBe('poisoned');
    await log.close();
  });
});

describe('ENOSPC is DISK_FULL', () => {
  it('a full disk on a batch write rejects DISK_FULL, advances nothing, and the next batch reuses the LSNs', async () => {
    const disk = new SimulatedDisk({ seed: 4 });
    const log = await openSim(disk);
    await appendRange(log, 0, 5);
    disk.injectFault('writeAndSync', 'ENOSPC');
    expect(await codeOf(log.append([recordFor(5), recordFor(6)]))).toBe('DISK_FULL');
    expect(log.status).toBe('open');
    expect(log.nextLsn).toBe(6);
    expect(await log.append([recordFor(7)])).toEqual([6]);
    await log.close();
    const again = await openSim(disk);
    const records = await collect(again);
    expect(records.map((r) => r.lsn)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(records[5]!.payload).toEqual(payloadFor(7));
    await again.close();
  });

  it('a disk that fills up at segment creation rejects DISK_FULL cleanly and works again after setCapacity(undefined)', async () => {
    const disk = new SimulatedDisk({ seed: 5 });
    const log = await openSim(disk);
    await appendRange(log, 0, 3);
    // Let the background pre-creation of segment 2 finish, then leave no room for segment 3.
    await appendRange(log, 3, 4);
    const used = disk.listFiles().reduce((n, p) => n + disk.readFileNow(p)!.length, 0);
    disk.setCapacity(used + 100);
    const codes: unknown[] = [];
    const acked: number[] = [];
    for (let n = 4; n < 80; n++) {
      const lsns = await log.append([recordFor(n, 300)]).catch((e: { code: string }) => e.code);
      if (typeof lsns === 'string') codes.push(lsns);
      else acked.push(n);
    }
    expect(codes.length).toBeGreaterThan(0);
    expect(new Set(codes)).toEqual(new Set(['DISK_FULL']));
    expect(log.status).toBe('open');
    disk.setCapacity(undefined);
    const next = log.nextLsn;
    expect(await log.append([recordFor(999, 300)])).toEqual([next]);
    await log.close();
    const again = await openSim(disk);
    const records = await collect(again);
    expect(records.length).toBe(4 + acked.length + 1);
    acked.forEach((n, i) => expect(records[4 + i]!.payload).toEqual(payloadFor(n, 300)));
    await again.close();
  });
});
