/**
 * Fixtures of the repair tests: random logs closed cleanly, the loss a damage caused computed
 * independently of the engine (records readable before against after; bytes of the lost batches
 * from the layout parsed by log-layout.ts), and the check of a repair report against it. Test
 * support only.
 */
import { expect } from 'vitest';
import { Prng } from '../../src/io/prng.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { RecordInput, RepairReport } from '../../src/log/types.ts';
import { DIR, collect, diskWith, filesOf, openSim } from './wal-helpers.ts';
import { applyDamage, drawDamage, layoutOf, type BatchLayout, type Damage } from './log-layout.ts';

/** A log of 4 KiB segments holding `batches` batches of 1..6 records of 0..400 bytes, closed cleanly. */
export async function buildRandomLog(rng: Prng, batches: number): Promise<SimulatedDisk> {
  const disk = new SimulatedDisk({ seed: rng.int(1, 1_000_000) });
  const log = await openSim(disk);
  for (let b = 0; b < batches; b++) {
    const records: RecordInput[] = Array.from({ length: rng.int(1, 6) }, () => ({ kind: rng.int(1, 150), payload: rng.fill(new Uint8Array(rng.int(0, 400))) }));
    await log.append(records);
  }
  await log.close();
  return disk;
}

/** The loss as the test computes it, to compare with a report. */
export interface ComputedLoss {
  readonly lost: number[];
  readonly bytes: number;
  readonly segmentsGone: number;
}

/** What was lost between `before` (layout and records of the undamaged log) and `after` (records after the repair). */
export function computeLoss(layout: readonly BatchLayout[], before: readonly { lsn: number }[], after: readonly { lsn: number }[], damaged: string, gap = false): ComputedLoss {
  const kept = new Set(after.map((r) => r.lsn));
  const lost = before.map((r) => r.lsn).filter((lsn) => !kept.has(lsn));
  const lostSet = new Set(lost);
  let bytes = 0;
  const segmentsWithData = new Map<string, { total: number; lost: number }>();
  for (const batch of layout) {
    const seg = segmentsWithData.get(batch.segment) ?? { total: 0, lost: 0 };
    seg.total++;
    if (lostSet.has(batch.firstLsn)) {
      // A gap keeps the segment header of a segment whose first batch it drops; a cut zeroes it.
      bytes += batch.end - (gap && batch.start === 0 ? 32 : batch.start);
      seg.lost++;
    }
    segmentsWithData.set(batch.segment, seg);
  }
  // Segments removed whole: every batch lost, and after the damaged one.
  let segmentsGone = 0;
  for (const [segment, { total, lost: n }] of segmentsWithData) if (segment > damaged && n === total) segmentsGone++;
  return { lost, bytes, segmentsGone };
}

/** Checks `report` against the computed loss. */
export function expectExactReport(report: RepairReport | undefined, loss: ComputedLoss, what: string): void {
  if (loss.lost.length === 0) {
    expect(report?.firstLostLsn, what).toBeUndefined();
    expect(report?.recordsDropped ?? 0, what).toBe(0);
    return;
  }
  expect(report, what).toBeDefined();
  expect(report!.firstLostLsn, what).toBe(loss.lost[0]);
  expect(report!.lastLostLsn, what).toBe(loss.lost[loss.lost.length - 1]);
  expect(report!.recordsDropped, what).toBe(loss.lost.length);
  expect(report!.bytesDropped, what).toBe(loss.bytes);
  expect(report!.segmentsDropped, what).toBe(loss.segmentsGone);
}

function describeDamage(d: Damage, segment: string): string {
  return `${d.kind} at ${d.offset}${d.kind === 'flip' ? ` bits ${d.bits.join(',')}` : d.kind === 'zero' ? ` length ${d.length}` : ''} of ${segment.slice(DIR.length + 5)}`;
}

/** One run: build, damage, repair, compare. Returns a description of what happened. */
/** What `repairRun` hands its check. */
export interface RepairRunResult {
  readonly report: RepairReport | undefined;
  readonly loss: ComputedLoss;
  readonly after: { lsn: number; payload: Uint8Array }[];
  readonly beforeRecords: { lsn: number; payload: Uint8Array }[];
  readonly what: string;
  /** The LSNs of the batches the damage changed (of every batch from the damaged segment on, when it changed the segment header). */
  readonly expectedLost: number[];
}

export async function repairRun(seed: number, check: (result: RepairRunResult) => void): Promise<string> {
  const rng = new Prng(seed);
  const disk = await buildRandomLog(rng, rng.int(40, 90));
  const files = filesOf(disk);
  const layout = layoutOf(files);
  const plain = await openSim(disk);
  const beforeRecords = await collect(plain);
  await plain.close();
  const segments = [...new Set(layout.map((b) => b.segment))];
  const segment = segments[rng.int(0, segments.length - 1)]!;
  const dataEnd = layout.filter((b) => b.segment === segment).at(-1)!.end;
  const damage = drawDamage(rng, dataEnd);
  const damagedFiles = new Map(files);
  damagedFiles.set(segment, applyDamage(files.get(segment)!, damage));
  const damaged = await diskWith(damagedFiles, seed);
  const what = `seed ${seed}: ${describeDamage(damage, segment)}`;
  const log = await openSim(damaged, { repair: true }).catch((err: unknown) => {
    throw new Error(`${what}: the repairing open failed: ${String(err)}`);
  });
  const after = await collect(log);
  const report = log.openReport.repair;
  await log.close();
  const loss = computeLoss(layout, beforeRecords, after, segment, report?.gapEnd !== undefined);
  const damagedBytes = damagedFiles.get(segment)!;
  const original = files.get(segment)!;
  const changed = (b: BatchLayout): boolean => {
    for (let i = b.start; i < b.end; i++) if ((damagedBytes[i] ?? 0) !== original[i]) return true;
    return false;
  };
  const headerChanged = changed({ segment, start: 0, end: 32, firstLsn: 0, lastLsn: 0 });
  // What must be lost: the batches whose bytes changed; a damaged segment header takes its
  // segment and every later one.
  const expectedLost = layout
    .filter((b) => (headerChanged ? b.segment >= segment : b.segment === segment && changed(b)))
    .flatMap((b) => Array.from({ length: b.lastLsn - b.firstLsn + 1 }, (_, i) => b.firstLsn + i));
  check({ report, loss, after, beforeRecords, what, expectedLost });
  // The repaired log opens without repair and reads the same records.
  const again = await openSim(damaged).catch((err: unknown) => {
    throw new Error(`${what}: the open after the repair failed: ${String(err)}`);
  });
  expect((await collect(again)).map((r) => r.lsn), what).toEqual(after.map((r) => r.lsn));
  await again.close();
  return what;
}

