/**
 * Explicit repair (D5, etcd's TestRepairWriteTearMiddle): with `repair: true`, damage in the
 * middle of the log is cut at the last good batch; a `.broken` copy of the damaged file is kept;
 * later segments are removed; the report says what was lost; the repaired log opens cleanly
 * without repair and keeps working.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { DIR, appendRange, collect, openSim, payloadFor, recordFor, segPath } from './wal-helpers.ts';

async function buildLog(seed: number): Promise<SimulatedDisk> {
  const disk = new SimulatedDisk({ seed });
  const log = await openSim(disk);
  for (let n = 0; n < 120; n += 6) await appendRange(log, n, n + 6);
  await log.close();
  return disk;
}

async function expectCleanReopen(disk: SimulatedDisk, count: number): Promise<void> {
  const log = await openSim(disk);
  expect(log.openReport.repair).toBeUndefined();
  const records = await collect(log);
  expect(records.length).toBe(count);
  records.slice(0, Math.min(count, 120)).forEach((r, i) => expect(r.payload).toEqual(payloadFor(i)));
  expect(await log.append([recordFor(1)])).toEqual([count + 1]);
  await log.close();
}

describe('repair', () => {
  it('repair write tear middle: cuts a sealed segment at the last good batch, keeps a .broken copy, drops later segments', async () => {
    const disk2 = await buildLog(1);
    const original = disk2.readFileNow(segPath(2))!;
    disk2.flipBit(segPath(2), 600, 2);
    // A damaged payload in a sealed segment: open checks headers only, the read catches it.
    const plain = await openSim(disk2);
    await expect(collect(plain)).rejects.toMatchObject({ code: 'CORRUPTION', location: { file: segPath(2) } });
    await plain.close();
    const log = await openSim(disk2, { repair: true });
    const report = log.openReport.repair!;
    expect(report.file).toBe(segPath(2));
    expect(report.offset).toBeLessThanOrEqual(600);
    expect(report.brokenCopy).toBe(`${segPath(2)}.broken`);
    expect(report.segmentsDropped).toBeGreaterThan(0);
    expect(report.bytesDropped).toBeGreaterThan(0);
    const kept = log.nextLsn - 1;
    expect(report.firstLostLsn).toBe(kept + 1);
    const records = await collect(log);
    expect(records.length).toBe(kept);
    records.forEach((r, i) => expect(r.payload).toEqual(payloadFor(i)));
    await log.close();
    const copy = disk2.readFileNow(report.brokenCopy)!;
    const expected = original.slice();
    expected[600]! ^= 1 << 2;
    expect(copy).toEqual(expected);
    expect(disk2.listFiles().filter((p) => p.endsWith('.wal')).every((p) => p <= segPath(3))).toBe(true);
    await expectCleanReopen(disk2, kept);
  });

  it('repair of a bad record followed by a good batch in the newest segment', async () => {
    const disk = await buildLog(2);
    const wal = disk.listFiles().filter((p) => p.endsWith('.wal'));
    // The newest segment with data is the one before the pre-created spare.
    const tail = wal[wal.length - 2]!;
    disk.flipBit(tail, 40, 0);
    await expect(openSim(disk)).rejects.toMatchObject({ code: 'CORRUPTION', location: { file: tail } });
    // The message names the way forward.
    await expect(openSim(disk)).rejects.toThrow(/offset \d+\)\. To drop the damaged batches.*`cstore unsafe-repair \/data`.*log: \{ repair: true \}/);
    const log = await openSim(disk, { repair: true });
    const report = log.openReport.repair!;
    expect(report.file).toBe(tail);
    expect(report.firstLostLsn).toBe(log.nextLsn);
    const kept = log.nextLsn - 1;
    await log.close();
    await expectCleanReopen(disk, kept);
  });

  it('repair of a missing sealed segment drops it and everything after', async () => {
    const disk = await buildLog(3);
    await disk.fs().unlink(segPath(2));
    const log = await openSim(disk, { repair: true });
    const report = log.openReport.repair!;
    expect(report.file).toBe(segPath(2));
    expect(report.brokenCopy).toBe('');
    expect(report.firstLostLsn).toBe(log.nextLsn);
    const kept = log.nextLsn - 1;
    await log.close();
    await expectCleanReopen(disk, kept);
  });

  it('repair on a healthy log changes nothing', async () => {
    const disk = await buildLog(4);
    const log = await openSim(disk, { repair: true });
    expect(log.openReport.repair).toBeUndefined();
    expect(log.nextLsn).toBe(121);
    await log.close();
    expect(disk.listFiles().some((p) => p.includes('.broken'))).toBe(false);
    expect(disk.listFiles()).toContain(`${DIR}/MANIFEST`);
  });
});
