/**
 * Explicit repair (D5, etcd's TestRepairWriteTearMiddle): with `repair: true`, damage in the
 * middle of the log drops only the damaged batches (filler records carry their LSNs) and keeps
 * every later batch and segment; a `.broken` copy of the damaged file is kept; a missing segment
 * still cuts; the report says what was lost; the repaired log opens cleanly without repair and
 * keeps working.
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

async function expectCleanReopen(disk: SimulatedDisk, count: number, nextLsn = count + 1): Promise<void> {
  const log = await openSim(disk);
  expect(log.openReport.repair).toBeUndefined();
  const records = await collect(log);
  expect(records.length).toBe(count);
  records.forEach((r) => expect(r.payload).toEqual(payloadFor(r.lsn - 1)));
  expect(await log.append([recordFor(1)])).toEqual([nextLsn]);
  await log.close();
}

describe('repair', () => {
  it('repair write tear middle: drops only the damaged batch of a sealed segment (filler in its place), keeps every later batch and segment, keeps a .broken copy', async () => {
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
    expect(report.gapEnd).toBeGreaterThan(600);
    expect(report.brokenCopy).toBe(`${segPath(2)}.broken`);
    expect(report.segmentsDropped).toBe(0);
    expect(report.recordsDropped).toBe(report.lastLostLsn! - report.firstLostLsn! + 1);
    expect(log.nextLsn).toBe(121);
    const records = await collect(log);
    const lost = (lsn: number): boolean => lsn >= report.firstLostLsn! && lsn <= report.lastLostLsn!;
    expect(records.map((r) => r.lsn)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1).filter((lsn) => !lost(lsn)));
    records.forEach((r) => expect(r.payload).toEqual(payloadFor(r.lsn - 1)));
    // A filler LSN reads as absent.
    expect(await log.get(report.firstLostLsn!)).toBeUndefined();
    await log.close();
    const copy = disk2.readFileNow(report.brokenCopy)!;
    const expected = original.slice();
    expected[600]! ^= 1 << 2;
    expect(copy).toEqual(expected);
    await expectCleanReopen(disk2, 120 - report.recordsDropped!, 121);
  });

  it('repair of a bad record followed by a good batch in the newest segment: only the damaged batch goes', async () => {
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
    expect(report.gapEnd).toBeDefined();
    expect(log.nextLsn).toBe(121);
    await log.close();
    await expectCleanReopen(disk, 120 - report.recordsDropped!, 121);
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
