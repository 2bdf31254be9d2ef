/**
 * A missing MANIFEST (D5): without repair the open is CORRUPTION whose message names the way
 * forward; with `repair: true` the manifest is rebuilt from the segments (their headers and
 * records), equal to the one the writer kept, and any damage it uncovers is repaired as usual.
 */
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/io/prng.ts';
import { readManifest } from '../../src/log/manifest.ts';
import { DIR, collect, openSim, segPath } from './wal-helpers.ts';
import { buildRandomLog } from './repair-fixtures.ts';

describe('a missing MANIFEST', () => {
  it('is CORRUPTION without repair, naming cstore unsafe-repair and the API option; repair rebuilds it equal to the lost one', async () => {
    const disk = await buildRandomLog(new Prng(11), 60);
    const original = (await readManifest(disk.fs(), DIR))!;
    expect(original.sealed.length).toBeGreaterThan(2);
    const plain = await openSim(disk);
    const records = await collect(plain);
    await plain.close();
    await disk.fs().unlink(`${DIR}/MANIFEST`);
    const refused = openSim(disk);
    await expect(refused).rejects.toMatchObject({ code: 'CORRUPTION', location: { file: `${DIR}/MANIFEST`, offset: 0 } });
    await expect(refused).rejects.toThrow(/cstore unsafe-repair \/data.*log: \{ repair: true \}/);
    const log = await openSim(disk, { repair: true });
    expect(log.openReport.manifestRebuilt).toBe(true);
    expect(log.openReport.repair).toBeUndefined();
    expect(await collect(log)).toEqual(records);
    await log.close();
    const rebuilt = (await readManifest(disk.fs(), DIR))!;
    expect(rebuilt.sealed).toEqual(original.sealed);
    expect(rebuilt.firstSegmentId).toBe(original.firstSegmentId);
    expect(rebuilt.baseLsn).toBe(original.baseLsn);
    const again = await openSim(disk);
    expect(again.openReport.manifestRebuilt).toBeUndefined();
    expect(await again.append([{ kind: 3, payload: new Uint8Array(5) }])).toEqual([records.length + 1]);
    await again.close();
  });

  it('rebuilt with a damaged sealed segment: the repair that follows reports the damage and keeps the rest', async () => {
    const disk = await buildRandomLog(new Prng(12), 60);
    const plain = await openSim(disk);
    const records = await collect(plain);
    await plain.close();
    await disk.fs().unlink(`${DIR}/MANIFEST`);
    disk.flipBit(segPath(2), 300, 1);
    const log = await openSim(disk, { repair: true });
    expect(log.openReport.manifestRebuilt).toBe(true);
    const report = log.openReport.repair!;
    expect(report.file).toBe(segPath(2));
    const after = await collect(log);
    await log.close();
    const kept = new Set(after.map((r) => r.lsn));
    const lost = records.filter((r) => !kept.has(r.lsn)).map((r) => r.lsn);
    expect(lost.length).toBeGreaterThan(0);
    expect(report.firstLostLsn).toBe(lost[0]);
    expect(report.recordsDropped).toBe(lost.length);
  });

  it('rebuilt over a log that held no record (only the pre-created segment): an empty log', async () => {
    const disk = await buildRandomLog(new Prng(13), 0);
    await disk.fs().unlink(`${DIR}/MANIFEST`);
    const log = await openSim(disk, { repair: true });
    expect(log.nextLsn).toBe(1);
    expect(await log.append([{ kind: 1, payload: new Uint8Array(1) }])).toEqual([1]);
    await log.close();
  });
});
