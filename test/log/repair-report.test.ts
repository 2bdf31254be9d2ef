/**
 * The repair report says what was really lost (D5): real logs of several segments, closed
 * cleanly, damaged at a random place (flipped bits, a zeroed range, a truncation) in a random
 * segment with data, then opened with `repair: true`. The loss is computed independently (the
 * records readable before against those readable after, and the bytes of the lost batches from
 * the layout parsed by test/log/log-layout.ts) and must equal the report: LSN range, records,
 * bytes, segments. Seeds are printed; REPAIR_REPORT_SEED=<n> replays one.
 */
import { describe, expect, it } from 'vitest';
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
export function computeLoss(layout: readonly BatchLayout[], before: readonly { lsn: number }[], after: readonly { lsn: number }[], damaged: string): ComputedLoss {
  const kept = new Set(after.map((r) => r.lsn));
  const lost = before.map((r) => r.lsn).filter((lsn) => !kept.has(lsn));
  const lostSet = new Set(lost);
  let bytes = 0;
  const segmentsWithData = new Map<string, { total: number; lost: number }>();
  for (const batch of layout) {
    const seg = segmentsWithData.get(batch.segment) ?? { total: 0, lost: 0 };
    seg.total++;
    if (lostSet.has(batch.firstLsn)) {
      bytes += batch.end - batch.start;
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
export async function repairRun(seed: number, check: (args: { report: RepairReport | undefined; loss: ComputedLoss; after: { lsn: number; payload: Uint8Array }[]; beforeRecords: { lsn: number; payload: Uint8Array }[]; what: string }) => void): Promise<string> {
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
  const log = await openSim(damaged, { repair: true });
  const after = await collect(log);
  const report = log.openReport.repair;
  await log.close();
  const loss = computeLoss(layout, beforeRecords, after, segment);
  check({ report, loss, after, beforeRecords, what });
  // The repaired log opens without repair and reads the same records.
  const again = await openSim(damaged);
  expect((await collect(again)).map((r) => r.lsn), what).toEqual(after.map((r) => r.lsn));
  await again.close();
  return what;
}

const RUNS = 120;

describe('the repair report is exact', () => {
  it('damage at random places in a random segment: the reported LSN range, records, bytes and segments equal the real loss', async () => {
    const fixed = process.env['REPAIR_REPORT_SEED'];
    const first = fixed === undefined ? (Date.now() % 1_000_000) * 1000 : Number(fixed);
    const runs = fixed === undefined ? RUNS : 1;
    console.log(`repair-report seeds ${first}..${first + runs - 1} (REPAIR_REPORT_SEED=<seed> replays one)`);
    for (let i = 0; i < runs; i++) {
      await repairRun(first + i, ({ report, loss, after, beforeRecords, what }) => {
        // Whatever survives is exactly what was there.
        const byLsn = new Map(beforeRecords.map((r) => [r.lsn, r.payload]));
        for (const r of after) expect(r.payload, what).toEqual(byLsn.get(r.lsn));
        expectExactReport(report, loss, what);
      });
    }
  }, 120_000);

  it('the devnet case: damage early in one big segment reports every record and byte after it', async () => {
    const rng = new Prng(7);
    const disk = new SimulatedDisk({ seed: 7 });
    const log = await openSim(disk, { segmentSize: 1024 * 1024 });
    for (let b = 0; b < 400; b++) await log.append(Array.from({ length: 5 }, (_, i) => ({ kind: 1 + i, payload: rng.fill(new Uint8Array(200)) })));
    await log.close();
    const files = filesOf(disk);
    const layout = layoutOf(files);
    const segment = layout[0]!.segment;
    disk.flipBit(segment, 100_000, 3);
    disk.flipBit(segment, 100_001, 3);
    disk.flipBit(segment, 100_002, 3);
    const repaired = await openSim(disk, { segmentSize: 1024 * 1024, repair: true });
    const after = await collect(repaired);
    const report = repaired.openReport.repair!;
    await repaired.close();
    const loss = computeLoss(layout, Array.from({ length: 2000 }, (_, i) => ({ lsn: i + 1 })), after, segment);
    expectExactReport(report, loss, 'devnet case');
    expect(report.segmentsDropped).toBe(0);
  });
});
