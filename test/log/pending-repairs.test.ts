/**
 * Pending repairs (D5 with D8 in mind): the manifest carries a repair's report from the repair's
 * commit point until `acknowledgeRepairs`, so that a crash before the stores record the loss
 * does not forget it; the report survives reopens and segment rotations, and goes once
 * acknowledged. The manifest's version-2 trailer round-trips and rejects damage.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { decodeManifest, encodeManifest, emptyManifest, type Manifest } from '../../src/log/manifest.ts';
import { crc32cUpdate, maskCrc } from '../../src/codec/crc32c.ts';
import { writeU32 } from '../../src/codec/framing.ts';
import { DIR, appendRange, openSim, segPath } from './wal-helpers.ts';

const MANIFEST = `${DIR}/MANIFEST`;

async function damagedLog(seed: number): Promise<SimulatedDisk> {
  const disk = new SimulatedDisk({ seed });
  const log = await openSim(disk);
  for (let n = 0; n < 120; n += 6) await appendRange(log, n, n + 6);
  await log.close();
  disk.flipBit(segPath(2), 600, 2);
  return disk;
}

describe('pending repairs', () => {
  it('stay in the manifest across reopens and rotations until acknowledged, then are gone', async () => {
    const disk = await damagedLog(1);
    const repaired = await openSim(disk, { repair: true });
    const report = repaired.openReport.repair!;
    expect(report.firstLostLsn).toBeGreaterThan(0);
    const [pending] = repaired.openReport.pendingRepairs;
    expect(repaired.openReport.pendingRepairs).toHaveLength(1);
    expect(pending).toEqual({ ...report, id: pending!.id });
    // Rotations write the manifest: the report rides along.
    for (let n = 0; n < 120; n += 6) await appendRange(repaired, 1000 + n, 1000 + n + 6);
    await repaired.close();
    expect(decodeManifest(disk.readFileNow(MANIFEST)!, MANIFEST).pendingRepairs).toHaveLength(1);

    disk.crash();
    const again = await openSim(disk);
    expect(again.openReport.repair).toBeUndefined();
    expect(again.openReport.pendingRepairs).toEqual([pending]);
    await again.acknowledgeRepairs(pending!.id - 1); // an older id: nothing to drop
    await again.close();
    const third = await openSim(disk);
    expect(third.openReport.pendingRepairs).toEqual([pending]);
    await third.acknowledgeRepairs(pending!.id);
    await third.acknowledgeRepairs(pending!.id); // idempotent
    await third.close();
    disk.crash();
    const last = await openSim(disk);
    expect(last.openReport.pendingRepairs).toEqual([]);
    expect(decodeManifest(disk.readFileNow(MANIFEST)!, MANIFEST).pendingRepairs).toEqual([]);
    await last.close();
  });

  it('acknowledgeRepairs rejects bad ids with INVALID_ARGUMENT, a closed log with CLOSED, a full disk with DISK_FULL (the repair stays pending)', async () => {
    const disk = await damagedLog(2);
    const log = await openSim(disk, { repair: true });
    const id = log.openReport.pendingRepairs[0]!.id;
    for (const bad of [0, -1, 1.5, Number.NaN, '3', undefined]) {
      await expect(log.acknowledgeRepairs(bad as number)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    disk.injectFault('write', 'ENOSPC');
    await expect(log.acknowledgeRepairs(id)).rejects.toMatchObject({ code: 'DISK_FULL' });
    disk.clearFaults();
    expect(decodeManifest(disk.readFileNow(MANIFEST)!, MANIFEST).pendingRepairs).toHaveLength(1);
    disk.injectFault('datasync', 'EIO');
    await expect(log.acknowledgeRepairs(id)).rejects.toMatchObject({ code: 'IO_FAILED' });
    disk.clearFaults();
    expect(log.status).toBe('open');
    await log.acknowledgeRepairs(id);
    await log.close();
    await expect(log.acknowledgeRepairs(id)).rejects.toMatchObject({ code: 'CLOSED' });
  });
});

describe('the manifest with pending repairs (version 2)', () => {
  const withRepairs: Manifest = {
    ...emptyManifest(),
    generation: 9,
    sealed: [{ id: 1, firstLsn: 1, lastLsn: 40, endOffset: 4000, digest: 77 }],
    pendingRepairs: [
      { id: 4, file: '0000000000000002.wal', offset: 600, brokenCopy: '0000000000000002.wal.broken', firstLostLsn: 41, segmentsDropped: 2, bytesDropped: 9000 },
      { id: 9, file: '0000000000000003.wal', offset: 0, brokenCopy: '', firstLostLsn: undefined, segmentsDropped: 0, bytesDropped: 0 },
    ],
  };

  it('round-trips, and writes version 1 when nothing is pending', () => {
    const bytes = encodeManifest(withRepairs);
    expect(new DataView(bytes.buffer).getUint32(8, true)).toBe(2);
    expect(decodeManifest(bytes, 'M')).toEqual(withRepairs);
    const plain = { ...withRepairs, pendingRepairs: [] };
    const v1 = encodeManifest(plain);
    expect(new DataView(v1.buffer).getUint32(8, true)).toBe(1);
    expect(v1.length).toBe(48 + 32);
    expect(decodeManifest(v1, 'M')).toEqual(plain);
  });

  it('rejects a damaged trailer as CORRUPTION even when its checksum is made to match', () => {
    const good = encodeManifest(withRepairs);
    const trailer = 48 + 32;
    /** Sets the length field and recomputes the checksum as the encoder does: [0,12) ++ [16,end). */
    const reseal = (bytes: Uint8Array): Uint8Array => {
      writeU32(bytes, 16, bytes.length);
      writeU32(bytes, 12, maskCrc(crc32cUpdate(crc32cUpdate(0, bytes, 0, 12), bytes, 16, bytes.length)));
      return bytes;
    };
    expect(decodeManifest(reseal(good.slice()), 'M')).toEqual(withRepairs);
    const cases: [string, (b: Uint8Array) => Uint8Array][] = [
      ['count 0', (b) => (writeU32(b, trailer, 0), b)],
      ['ids out of order', (b) => (writeU32(b, trailer + 4, 99), b)],
      ['file name empty', (b) => ((b[trailer + 4 + 36] = 0), (b[trailer + 4 + 37] = 0), b)],
      ['not UTF-8', (b) => ((b[trailer + 4 + 40] = 0xff), b)],
      ['offset over 2^53', (b) => (writeU32(b, trailer + 4 + 20, 0xffffffff), b)],
      ['truncated', (b) => b.slice(0, b.length - 3)],
      ['trailing bytes', (b) => Uint8Array.from([...b, 0, 0])],
      ['missing trailer', (b) => b.slice(0, trailer)],
    ];
    for (const [what, damage] of cases) {
      expect(() => decodeManifest(reseal(damage(good.slice())), 'M'), what).toThrow(expect.objectContaining({ code: 'CORRUPTION' }));
    }
  });
});

describe('the manifest with wide pending repairs (version 4)', () => {
  const wide: Manifest = {
    ...emptyManifest(),
    generation: 9,
    sealed: [{ id: 1, firstLsn: 1, lastLsn: 40, endOffset: 4000, digest: 77 }],
    pendingRepairs: [
      { id: 4, file: '0000000000000002.wal', offset: 600, brokenCopy: '0000000000000002.wal.broken', firstLostLsn: 41, segmentsDropped: 0, bytesDropped: 900, lastLostLsn: 52, gapEnd: 1500 },
      { id: 9, file: '0000000000000003.wal', offset: 0, brokenCopy: '', firstLostLsn: undefined, segmentsDropped: 0, bytesDropped: 0, lastLostLsn: undefined, gapEnd: undefined },
    ],
  };
  const reseal = (bytes: Uint8Array): Uint8Array => {
    writeU32(bytes, 16, bytes.length);
    writeU32(bytes, 12, maskCrc(crc32cUpdate(crc32cUpdate(0, bytes, 0, 12), bytes, 16, bytes.length)));
    return bytes;
  };

  it('round-trips with and without a clean end, and is written only when a repair carries its fields', () => {
    const bytes = encodeManifest(wide);
    expect(new DataView(bytes.buffer).getUint32(8, true)).toBe(4);
    expect(decodeManifest(bytes, 'M')).toEqual(wide);
    const withClean = { ...wide, cleanEnd: { segmentId: 2, lastLsn: 60, endOffset: 2048, digest: 5 } };
    expect(decodeManifest(encodeManifest(withClean), 'M')).toEqual(withClean);
    const narrow = { ...wide, pendingRepairs: wide.pendingRepairs.map(({ lastLostLsn: _l, gapEnd: _g, ...rest }) => rest) };
    expect(new DataView(encodeManifest(narrow).buffer).getUint32(8, true)).toBe(2);
  });

  it('rejects bad flags, a last lost LSN before the first, a gap ending before it starts, and a clean end without its repairs flag, as CORRUPTION', () => {
    const flagsAt = 48 + 32;
    const entry = flagsAt + 8 + 4;
    const withClean = encodeManifest({ ...wide, cleanEnd: { segmentId: 2, lastLsn: 60, endOffset: 2048, digest: 5 } });
    const cases: [string, Uint8Array, (b: Uint8Array) => Uint8Array][] = [
      ['flags', encodeManifest(wide), (b) => (writeU32(b, flagsAt, 6), b)],
      ['reserved', encodeManifest(wide), (b) => (writeU32(b, flagsAt + 4, 1), b)],
      ['last before first', encodeManifest(wide), (b) => (writeU32(b, entry + 40, 3), b)],
      ['gap before start', encodeManifest(wide), (b) => (writeU32(b, entry + 48, 100), b)],
      ['clean end flag', withClean, (b) => (writeU32(b, flagsAt + 8 + 24, 0), b)],
    ];
    for (const [what, good, damage] of cases) {
      expect(() => decodeManifest(reseal(damage(good.slice())), 'M'), what).toThrow(expect.objectContaining({ code: 'CORRUPTION' }));
    }
  });
});
