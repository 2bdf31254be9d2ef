/**
 * Torn tails (D5, etcd's TestOpenOnTornWrite): the last batch of the newest segment is cut at
 * every byte offset, torn at every subset of its 512-byte sectors, and lost or torn by seeded
 * power cuts between its write and its fdatasync. Every time, open succeeds, holds exactly the
 * acknowledged prefix (plus the whole last batch or none of it, D3), wipes what followed the
 * cut, and the log keeps working.
 */
import { delegatingFs } from '../support/delegating-fs.ts';
import { describe, expect, it } from 'vitest';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { ErrnoError, type FileHandle, type FileSystem } from '../../src/io/types.ts';
import { openLog } from '../../src/log/wal.ts';
import { DIR, appendRange, collect, diskWith, filesOf, openSim, payloadFor, recordFor } from './wal-helpers.ts';

const SEGMENT = 8192;

interface Fixture {
  /** Files before the last batch (all acknowledged) and after it. */
  readonly before: Map<string, Uint8Array>;
  readonly after: Map<string, Uint8Array>;
  readonly tailPath: string;
  /** Byte range of the last batch in the tail segment. */
  readonly start: number;
  readonly end: number;
  /** Records acknowledged before the last batch, and in it. */
  readonly acked: number;
  readonly lastBatch: number;
}

/** A log with two sealed segments and a tail segment, then one last batch of several calls. */
async function buildFixture(lastBatchRecords: number, payloadMax: number): Promise<Fixture> {
  const disk = new SimulatedDisk({ seed: 99 });
  const log = await openSim(disk, { segmentSize: SEGMENT });
  let n = 0;
  while (log.openReport && disk.listFiles().filter((p) => p.endsWith('.wal')).length < 4) {
    await appendRange(log, n, n + 7);
    n += 7;
  }
  await log.close();
  const before = filesOf(disk);
  const again = await openSim(disk, { segmentSize: SEGMENT });
  const calls = [];
  for (let i = 0; i < lastBatchRecords; i++) calls.push(again.append([recordFor(n + i, payloadMax)]));
  await Promise.all(calls);
  await again.close();
  const after = filesOf(disk);
  let tailPath = '';
  let start = -1;
  let end = -1;
  for (const [path, bytes] of after) {
    const old = before.get(path);
    if (old === undefined || !path.endsWith('.wal')) continue;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] !== old[i]) {
        if (start < 0) {
          start = i;
          tailPath = path;
        }
        end = i + 1;
      }
    }
  }
  expect(start).toBeGreaterThan(0);
  return { before, after, tailPath, start, end: (end + 7) & ~7, acked: n, lastBatch: lastBatchRecords };
}

/**
 * The files of `f.after` with the tail segment's bytes replaced by `tail`, and the manifest as
 * it was while the last batch was being written (before the clean close that recorded it).
 */
function withTail(f: Fixture, tail: Uint8Array): Map<string, Uint8Array> {
  const files = new Map(f.after);
  files.set(f.tailPath, tail);
  for (const [path, bytes] of f.before) if (path.endsWith('/MANIFEST')) files.set(path, bytes);
  return files;
}

async function expectPrefix(disk: SimulatedDisk, f: Fixture, allowFull: boolean, mustBeFull: boolean): Promise<void> {
  const log = await openSim(disk, { segmentSize: SEGMENT });
  const records = await collect(log);
  const full = f.acked + f.lastBatch;
  if (mustBeFull) expect(records.length).toBe(full);
  else if (allowFull) expect([f.acked, full]).toContain(records.length);
  else expect(records.length).toBe(f.acked);
  records.forEach((r, i) => expect(r.payload.length).toBe(payloadFor(i, i < f.acked ? 120 : 400).length));
  // The cut is wiped: nothing but zeros after the last committed byte of the tail segment.
  const tail = disk.readFileNow(f.tailPath)!;
  if (records.length === f.acked) expect(tail.subarray(f.start).every((b) => b === 0)).toBe(true);
  // The log keeps working after the cut, and a reopen sees the new record.
  expect(await log.append([recordFor(5)])).toEqual([records.length + 1]);
  await log.close();
  const again = await openSim(disk, { segmentSize: SEGMENT });
  expect(again.openReport.tornBytesCut).toBe(0);
  expect((await collect(again)).length).toBe(records.length + 1);
  await again.close();
}

describe('torn tail', () => {
  it('open on a torn write cuts the tail and keeps the acknowledged prefix, at every byte offset', async () => {
    const f = await buildFixture(4, 400);
    let cases = 0;
    let ambiguous = 0;
    for (let k = f.start; k <= f.end; k++) {
      const whole = f.after.get(f.tailPath)!;
      const tail = whole.slice();
      tail.fill(0, k, f.end);
      // Cuts inside the marker's trailing zero bytes change nothing: the batch is still whole.
      const intact = tail.every((b, i) => b === whole[i]);
      const disk = await diskWith(withTail(f, tail), k);
      if (oneBitShort(whole, k, f.end)) {
        // Zeros from k on clear exactly one set bit of the batch: byte for byte the image of a
        // whole batch with one flipped bit. Sectors never tear like this (a sector is written
        // whole or not at all); a flipped bit in an acknowledged batch is damage, so the open
        // refuses rather than cut (docs/durability.md, D5).
        await expect(openSim(disk, { segmentSize: SEGMENT })).rejects.toMatchObject({ code: 'CORRUPTION' });
        ambiguous++;
        continue;
      }
      const log = await openSim(disk, { segmentSize: SEGMENT });
      const count = log.openReport.recordsScanned;
      expect(log.openReport.tornBytesCut).toBeLessThanOrEqual((k - f.start + 7) & ~7);
      await log.close();
      expect(count, `cut at ${k}`).toBe(intact ? f.acked + f.lastBatch : f.acked);
      if (k % 97 === 0 || k === f.end) await expectPrefix(disk, f, intact, intact);
      cases++;
    }
    expect(cases).toBeGreaterThan(200);
    expect(ambiguous).toBeLessThanOrEqual(2);
  });

  it('open on a write torn at every subset of its 512-byte sectors keeps all of the batch or none', async () => {
    const f = await buildFixture(6, 400);
    const first = Math.floor(f.start / 512);
    const last = Math.floor((f.end - 1) / 512);
    const sectors = last - first + 1;
    expect(sectors).toBeGreaterThanOrEqual(3);
    const oldTail = f.before.get(f.tailPath)!;
    const newTail = f.after.get(f.tailPath)!;
    for (let mask = 0; mask < 1 << sectors; mask++) {
      const tail = oldTail.slice();
      for (let s = 0; s < sectors; s++) {
        if (mask & (1 << s)) tail.set(newTail.subarray((first + s) * 512, (first + s + 1) * 512), (first + s) * 512);
      }
      const disk = await diskWith(withTail(f, tail), mask);
      await expectPrefix(disk, f, true, mask === (1 << sectors) - 1);
    }
  });

  it('garbage after a zero header is wiped, not read (etcd #6515)', async () => {
    const f = await buildFixture(3, 400);
    const tail = f.before.get(f.tailPath)!.slice();
    // The batch's first sector never reached the disk (its share of the batch is zero), the
    // later ones did.
    const firstSectorEnd = Math.floor(f.start / 512) * 512 + 512;
    expect(firstSectorEnd).toBeLessThan(f.end - 64);
    tail.set(f.after.get(f.tailPath)!.subarray(firstSectorEnd, f.end), firstSectorEnd);
    tail.fill(0xa5, f.end, f.end + 100);
    const disk = await diskWith(withTail(f, tail));
    const log = await openSim(disk, { segmentSize: SEGMENT });
    expect(log.openReport.tornBytesCut).toBeGreaterThan(0);
    await log.close();
    await expectPrefix(disk, f, false, false);
  });

  it('a power cut between the write and the fdatasync of the last batch loses or tears only that batch (30 seeds)', async () => {
    for (let seed = 1; seed <= 30; seed++) {
      const disk = new SimulatedDisk({ seed });
      const log = await openSim(disk, { segmentSize: SEGMENT });
      await appendRange(log, 0, 40);
      await log.close();
      const armed = { on: false };
      const fs = cutBeforeSync(disk, armed);
      const victim = await openLog({ dir: DIR, fs, segmentSize: SEGMENT });
      armed.on = true;
      const outcome = await Promise.allSettled([0, 1, 2].map((i) => victim.append([recordFor(40 + i, 400)])));
      expect(outcome.every((o) => o.status === 'rejected')).toBe(true);
      await victim.close().catch(() => undefined);
      const reopened = await openSim(disk, { segmentSize: SEGMENT });
      const count = (await collect(reopened)).length;
      expect([40, 43]).toContain(count);
      await reopened.close();
    }
  });
});

/** Whether zeroing `[from, to)` of `bytes` clears exactly one set bit. */
function oneBitShort(bytes: Uint8Array, from: number, to: number): boolean {
  let bits = 0;
  for (let i = from; i < to; i++) for (let x = bytes[i]!; x !== 0; x >>>= 1) bits += x & 1;
  return bits === 1;
}

/** A FileSystem whose armed writeAndSync writes, then cuts the power before the sync. */
function cutBeforeSync(disk: SimulatedDisk, armed: { on: boolean }): FileSystem {
  const fs = disk.fs();
  const wrap = (h: FileHandle): FileHandle => ({
    path: h.path,
    read: (...a) => h.read(...a),
    write: (b, p) => h.write(b, p),
    datasync: () => h.datasync(),
    writeAndSync: async (b, p) => {
      if (!armed.on) return h.writeAndSync(b, p);
      await h.write(b, p);
      disk.crash();
      throw new ErrnoError('EIO', 'fdatasync', h.path);
    },
    truncate: (n) => h.truncate(n),
    size: () => h.size(),
    close: () => h.close(),
  });
  return { ...bind(fs), open: async (p, m) => wrap(await fs.open(p, m)) };
}

function bind(fs: FileSystem): FileSystem {
  return delegatingFs(fs, { open: (p, m) => fs.open(p, m) });
}
