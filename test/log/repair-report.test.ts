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
import { collect, filesOf, openSim } from './wal-helpers.ts';
import { layoutOf } from './log-layout.ts';
import { computeLoss, expectExactReport, repairRun } from './repair-fixtures.ts';

const RUNS = 120;

describe('the repair report is exact', () => {
  it('damage at random places in a random segment: only the damaged batches are lost, and the reported LSN range, records, bytes and segments equal the real loss', async () => {
    const fixed = process.env['REPAIR_REPORT_SEED'];
    const first = fixed === undefined ? (Date.now() % 1_000_000) * 1000 : Number(fixed);
    const runs = fixed === undefined ? RUNS : 1;
    const outcomes = { gap: 0, cut: 0, none: 0 };
    console.log(`repair-report seeds ${first}..${first + runs - 1} (REPAIR_REPORT_SEED=<seed> replays one)`);
    for (let i = 0; i < runs; i++) {
      await repairRun(first + i, ({ report, loss, after, beforeRecords, what, expectedLost }) => {
        // Whatever survives is exactly what was there.
        const byLsn = new Map(beforeRecords.map((r) => [r.lsn, r.payload]));
        for (const r of after) expect(r.payload, what).toEqual(byLsn.get(r.lsn));
        expectExactReport(report, loss, what);
        // Only the damaged batches are lost: every intact batch outside them survives.
        expect(loss.lost, what).toEqual(expectedLost);
        outcomes[report === undefined ? 'none' : report.gapEnd !== undefined ? 'gap' : 'cut']++;
      });
    }
    console.log(`repair outcomes: ${JSON.stringify(outcomes)}`);
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
