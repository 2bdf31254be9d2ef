/**
 * The log's everyday behaviour on the simulated disk: append, get, scan, reopen; rotation and
 * preallocation; group commit (one fdatasync for concurrent appends); limits and argument
 * checks; lifecycle (CLOSED, idempotent close, asyncDispose); the single-writer lock.
 */
import { describe, expect, it } from 'vitest';
import { isStoreError } from '../../src/errors.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { Lsn } from '../../src/log/types.ts';
import { openLog, type WriteAheadLog } from '../../src/log/wal.ts';
import { DIR, SMALL_SEGMENT, appendRange, collect, countingFs, openSim, payloadFor, recordFor, segPath } from './wal-helpers.ts';

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isStoreError(err) ? err.code : err).toBe(code);
}

async function lsnsFrom(log: WriteAheadLog, from: number): Promise<number[]> {
  const out: number[] = [];
  await log.scan((r) => {
    out.push(r.lsn);
  }, from as Lsn);
  return out;
}

describe('append, get, scan, reopen', () => {
  it('assigns gap-free LSNs in call order and reads every record back after reopen', async () => {
    const disk = new SimulatedDisk({ seed: 1 });
    const log = await openSim(disk);
    expect(log.status).toBe('open');
    expect(log.nextLsn).toBe(1);
    const lsns = await appendRange(log, 0, 60);
    expect(lsns.flat()).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    const multi = await log.append([recordFor(60), recordFor(61), recordFor(62)]);
    expect(multi).toEqual([61, 62, 63]);
    expect(log.nextLsn).toBe(64);
    const rec = await log.get(10 as Lsn);
    expect(rec?.kind).toBe(recordFor(9).kind);
    expect(rec?.payload).toEqual(payloadFor(9));
    expect(await log.get(64 as Lsn)).toBeUndefined();
    expect(await log.get(0 as Lsn)).toBeUndefined();
    await log.close();

    const again = await openSim(disk);
    expect(again.openReport.recordsScanned).toBe(63);
    expect(again.openReport.tornBytesCut).toBe(0);
    expect(again.nextLsn).toBe(64);
    const all = await collect(again);
    expect(all.map((r) => r.lsn)).toEqual(Array.from({ length: 63 }, (_, i) => i + 1));
    all.slice(0, 60).forEach((r, i) => expect(r.payload).toEqual(payloadFor(i)));
    expect((await lsnsFrom(again, 40))[0]).toBe(40);
    expect(await again.append([recordFor(1)])).toEqual([64]);
    await again.close();
  });

  it('scan stops when visit returns false', async () => {
    const log = await openSim(new SimulatedDisk({ seed: 2 }));
    await appendRange(log, 0, 10);
    const seen: number[] = [];
    await log.scan((r) => {
      seen.push(r.lsn);
      return r.lsn < 4;
    });
    expect(seen).toEqual([1, 2, 3, 4]);
    await log.close();
  });
});

describe('rotation and preallocation', () => {
  it('fills fixed-size preallocated segments, rotates when a batch does not fit, and seals them in the manifest', async () => {
    const disk = new SimulatedDisk({ seed: 3 });
    const log = await openSim(disk);
    for (let i = 0; i < 200; i += 5) await appendRange(log, i, i + 5);
    const segments = disk.listFiles().filter((p) => p.endsWith('.wal'));
    expect(segments.length).toBeGreaterThan(4);
    for (const p of segments) expect(disk.readFileNow(p)!.length).toBe(SMALL_SEGMENT);
    // The next segment exists before it is needed (pre-created, all zeros).
    const last = segments[segments.length - 1]!;
    expect(disk.readFileNow(last)!.every((b) => b === 0)).toBe(true);
    await log.close();
    const again = await openSim(disk);
    expect(again.openReport.segmentsScanned).toBe(segments.length - 1);
    expect((await collect(again)).length).toBe(200);
    for (let lsn = 1; lsn <= 200; lsn += 17) expect((await again.get(lsn as Lsn))?.payload).toEqual(payloadFor(lsn - 1));
    await again.close();
  });

  it('a batch never spans two segments', async () => {
    const disk = new SimulatedDisk({ seed: 4 });
    const log = await openSim(disk);
    const big = { kind: 2, payload: new Uint8Array(1500) };
    for (let i = 0; i < 6; i++) await log.append([big, big]);
    await log.close();
    const again = await openSim(disk);
    expect(again.openReport.batchesScanned).toBe(6);
    expect(again.openReport.segmentsScanned).toBe(6);
    await again.close();
  });
});

describe('group commit', () => {
  it('concurrent appends share one write and one fdatasync', async () => {
    const disk = new SimulatedDisk({ seed: 5 });
    const { fs, counts } = countingFs(disk.fs());
    const log = await openLog({ dir: DIR, fs, segmentSize: 64 * 1024 });
    const before = counts.writeAndSync;
    await appendRange(log, 0, 50);
    expect(counts.writeAndSync - before).toBe(1);
    // While one batch is in flight, the calls that arrive meanwhile form the next batch.
    const first = log.append([recordFor(1)]);
    await Promise.resolve();
    await Promise.resolve();
    const rest = appendRange(log, 0, 30);
    await Promise.all([first, rest]);
    expect(counts.writeAndSync - before).toBeLessThanOrEqual(3);
    await log.close();
  });

  it('splits batches at maxBatchRecords without splitting a call', async () => {
    const disk = new SimulatedDisk({ seed: 6 });
    const { fs, counts } = countingFs(disk.fs());
    const log = await openLog({ dir: DIR, fs, segmentSize: 64 * 1024, maxBatchRecords: 4 });
    const before = counts.writeAndSync;
    const calls = [
      log.append([recordFor(1), recordFor(2), recordFor(3)]),
      log.append([recordFor(4), recordFor(5)]),
      log.append([recordFor(6)]),
    ];
    expect((await Promise.all(calls)).flat()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(counts.writeAndSync - before).toBe(2);
    await log.close();
  });

  it('maxBatchDelayMs waits for companions and never acknowledges before the write', async () => {
    const disk = new SimulatedDisk({ seed: 7 });
    const { fs, counts } = countingFs(disk.fs());
    const log = await openLog({ dir: DIR, fs, segmentSize: 64 * 1024, maxBatchDelayMs: 20 });
    const before = counts.writeAndSync;
    const a = log.append([recordFor(1)]);
    await new Promise((r) => setTimeout(r, 5));
    expect(counts.writeAndSync - before).toBe(0);
    const b = log.append([recordFor(2)]);
    expect(await Promise.all([a, b])).toEqual([[1], [2]]);
    expect(counts.writeAndSync - before).toBe(1);
    await log.close();
  });

  it("durability 'none' writes without fdatasync", async () => {
    const disk = new SimulatedDisk({ seed: 8 });
    const { fs, counts } = countingFs(disk.fs());
    const log = await openLog({ dir: DIR, fs, segmentSize: 64 * 1024, durability: 'none' });
    const before = { ...counts };
    await appendRange(log, 0, 10);
    expect(counts.writeAndSync - before.writeAndSync).toBe(0);
    expect(counts.write - before.write).toBe(1);
    await log.close();
  });
});

describe('limits and argument checks', () => {
  it('rejects bad records and oversize calls with their codes and writes nothing', async () => {
    const disk = new SimulatedDisk({ seed: 9 });
    const { fs, counts } = countingFs(disk.fs());
    const log = await openLog({ dir: DIR, fs, segmentSize: 8192, maxRecordSize: 1000, maxBatchRecords: 8, maxQueuedRecords: 8 });
    const before = { ...counts };
    await rejectsWith(log.append([]), 'INVALID_ARGUMENT');
    await rejectsWith(log.append('x' as never), 'INVALID_ARGUMENT');
    await rejectsWith(log.append([{ kind: 0, payload: new Uint8Array(1) }]), 'INVALID_ARGUMENT');
    await rejectsWith(log.append([{ kind: 200, payload: new Uint8Array(1) }]), 'INVALID_ARGUMENT');
    await rejectsWith(log.append([{ kind: 1.5, payload: new Uint8Array(1) }]), 'INVALID_ARGUMENT');
    await rejectsWith(log.append([{ kind: 1, payload: 'abc' as never }]), 'INVALID_ARGUMENT');
    await rejectsWith(log.append([null as never]), 'INVALID_ARGUMENT');
    await rejectsWith(log.append([recordFor(1), { kind: 1, payload: new Uint8Array(1001) }]), 'RECORD_TOO_LARGE');
    await rejectsWith(log.append(Array.from({ length: 9 }, (_, i) => recordFor(i))), 'BATCH_TOO_LARGE');
    const big = { kind: 1, payload: new Uint8Array(1000) };
    await rejectsWith(log.append(Array.from({ length: 8 }, () => big)), 'BATCH_TOO_LARGE');
    const queued = log.append(Array.from({ length: 8 }, (_, i) => recordFor(i)));
    await rejectsWith(log.append([recordFor(9)]), 'QUEUE_FULL');
    await queued;
    expect(counts.writeAndSync - before.writeAndSync).toBe(1);
    expect(log.nextLsn).toBe(9);
    await rejectsWith(log.get(1.5 as Lsn), 'INVALID_ARGUMENT');
    await rejectsWith(log.scan('x' as never), 'INVALID_ARGUMENT');
    await log.close();
  });

  it('rejects bad options with INVALID_ARGUMENT', async () => {
    const fs = new SimulatedDisk({ seed: 10 }).fs();
    const bad: object[] = [
      { segmentSize: 1000 },
      { segmentSize: 4096 * 3 + 1 },
      { segmentSize: 4096, maxRecordSize: 5000 },
      { segmentSize: 4096, maxBatchBytes: 8192 },
      { maxBatchRecords: 0 },
      { maxQueuedRecords: 1, maxBatchRecords: 2 },
      { maxBatchDelayMs: -1 },
      { durability: 'sometimes' },
      { repair: 'yes' },
      { dir: '' },
    ];
    for (const opts of bad) await rejectsWith(openLog({ dir: DIR, fs, ...opts }), 'INVALID_ARGUMENT');
  });
});

describe('lifecycle and lock', () => {
  it('close is idempotent, waits for queued appends, and every later call rejects CLOSED', async () => {
    const disk = new SimulatedDisk({ seed: 11 });
    const log = await openSim(disk);
    const pending = appendRange(log, 0, 20);
    const closing = log.close();
    expect(log.status).toBe('closing');
    await rejectsWith(log.append([recordFor(1)]), 'CLOSED');
    expect((await pending).length).toBe(20);
    await closing;
    await log.close();
    expect(log.status).toBe('closed');
    await rejectsWith(log.append([recordFor(1)]), 'CLOSED');
    await rejectsWith(log.get(1 as Lsn), 'CLOSED');
    await rejectsWith(log.scan(() => undefined), 'CLOSED');
    const again = await openSim(disk);
    expect(again.openReport.recordsScanned).toBe(20);
    await again[Symbol.asyncDispose]();
    expect(again.status).toBe('closed');
  });

  it('a second opener gets LOCKED until the first closes', async () => {
    const disk = new SimulatedDisk({ seed: 12 });
    const log = await openSim(disk);
    await rejectsWith(openSim(disk), 'LOCKED');
    await log.close();
    const again = await openSim(disk);
    await again.close();
  });

  it('the manifest and segment files sit where the format says', async () => {
    const disk = new SimulatedDisk({ seed: 13 });
    const log = await openSim(disk);
    await appendRange(log, 0, 3);
    await log.close();
    const files = disk.listFiles();
    expect(files).toContain(`${DIR}/MANIFEST`);
    expect(files).toContain(segPath(1));
  });
});

describe('openLog options', () => {
  it('rejects an unknown option key with INVALID_ARGUMENT naming it, and suggests the near one', async () => {
    const disk = new SimulatedDisk({ seed: 77 });
    const err = await openLog({ dir: '/data', fs: disk.fs(), durabilty: 'none' } as never).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(String((err as Error).message)).toContain('options.durabilty is not an option here (did you mean durability?)');
    expect(disk.listFiles()).toEqual([]);
  });
});
