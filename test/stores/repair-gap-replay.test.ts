/**
 * Every store replays around a repair's gap (D5): a random history over every store (votes,
 * sign requests, round states, validator registrations and updates, evidence, rewards, audit
 * events), closed cleanly, one batch in the middle of the log damaged, then opened with
 * `repair: true`: the open succeeds, every read answers, the audit chain verifies (the break is
 * the one the signed StoreRepaired entry names), and the store takes writes. Seeds are printed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { openStore, type ConsensusStore } from '../../src/store.ts';
import { AUDIT_CHAIN } from '../support/audit-test-log.ts';
import { AUDIT_KEY, NODE, queryContextOf, run, storeOpArb, storeReads, type Op } from '../support/store-workload.ts';
import { layoutOf } from '../log/log-layout.ts';
import type { StoreRepaired } from '../../src/model/audit.ts';

const SEGMENT_SIZE = 16 * 1024;
const DIR = '/node';

function open(disk: SimulatedDisk, extra: { repair?: boolean; state?: 'new-key' } = {}): Promise<ConsensusStore> {
  let clock = 1_700_000_000_000;
  return openStore({
    dir: DIR,
    fs: disk.fs(),
    chainId: AUDIT_CHAIN,
    signer: { ...NODE, ...(extra.state === undefined ? { allowFreshState: true } : { state: extra.state }) },
    audit: { nodeKey: AUDIT_KEY },
    now: () => clock++,
    log: { segmentSize: SEGMENT_SIZE, repair: extra.repair === true },
    images: { everyRecords: 0, onClose: false },
  });
}

describe('stores replay around a repair gap', () => {
  it('a damaged batch in the middle: the repairing open succeeds, reads answer, the audit chain verifies with the gap named, writes go on', async () => {
    const first = Date.now() % 100_000;
    console.log(`repair-gap-replay seeds ${first}..${first + 7}`);
    let auditGaps = 0;
    let skipped = 0;
    for (let seed = first; seed < first + 8; seed++) {
      const disk = new SimulatedDisk({ seed });
      await disk.fs().mkdir(DIR);
      const store = await open(disk, { state: 'new-key' });
      const ops: Op[] = fc.sample(storeOpArb, { seed, numRuns: 150 });
      for (const o of ops) await run(store, o);
      await store.close();
      const files = new Map(disk.listFiles().filter((p) => p.endsWith('.wal')).map((p) => [p, disk.readFileNow(p)!]));
      const layout = layoutOf(files);
      // A batch in the middle (not one of the last few: those may be cut rather than filled).
      const batch = layout[Math.floor(layout.length / 3) + (seed % 5)]!;
      disk.flipBit(batch.segment, batch.start + 40, seed % 8);
      // The second copy of the watermark would refuse the open when the gap took the newest sign
      // record (test/stores/sign-guard-repair.test.ts covers that); replay is under test here.
      await disk.fs().unlink(`${DIR}/SIGNSTATE`);
      const repaired = await open(disk, { repair: true }).catch((err: unknown) => {
        throw new Error(`seed ${seed}: the repairing open failed: ${String(err)}`);
      });
      const report = repaired.log.openReport.repair;
      expect(report?.gapEnd, `seed ${seed}`).toBeDefined();
      await storeReads(repaired, queryContextOf(repaired, []));
      const integrity = await repaired.audit.verifyIntegrity();
      expect(integrity, `seed ${seed}`).toMatchObject({ ok: true });
      const recorded = (await repaired.audit.queryByDateRange(0, Number.MAX_SAFE_INTEGER)).filter((e) => e.event.type === 'StoreRepaired');
      expect(recorded, `seed ${seed}`).toHaveLength(1);
      const event = recorded[0]!.event as StoreRepaired;
      expect([event.firstLostLsn, event.lastLostLsn, event.recordsDropped, event.gapEnd], `seed ${seed}`).toEqual([report!.firstLostLsn, report!.lastLostLsn, report!.recordsDropped, report!.gapEnd]);
      if (event.lostAuditSequences != null) auditGaps++;
      skipped += repaired.replay.skippedAfterGap ?? 0;
      // Writes go on, and the chain still verifies after them.
      await run(repaired, { op: 'event', height: 1, round: 1 });
      expect(await repaired.audit.verifyIntegrity(), `seed ${seed}`).toMatchObject({ ok: true });
      await repaired.close();
      const again = await open(disk);
      expect(await again.audit.verifyIntegrity(), `seed ${seed}`).toMatchObject({ ok: true });
      await again.close();
    }
    console.log(`repair-gap-replay: ${auditGaps} of 8 gaps took audit entries; ${skipped} records skipped after a gap`);
  }, 120_000);

  it('the audit chain verifier rejects a StoreRepaired entry that names a gap the chain does not have', async () => {
    const disk = new SimulatedDisk({ seed: 5 });
    await disk.fs().mkdir(DIR);
    const store = await open(disk, { state: 'new-key' });
    await run(store, { op: 'event', height: 1, round: 1 });
    await store.audit.logEvent({ type: 'StoreRepaired', file: 'x.wal', offset: 0, firstLostLsn: 3, bytesDropped: 8, brokenCopy: 'x.wal.broken', lastLostLsn: 3, recordsDropped: 1, gapEnd: 64, lostAuditSequences: { first: 1, last: 1 } });
    const report = await store.audit.verifyIntegrity();
    expect(report.ok).toBe(false);
    expect(report.firstBad?.reason).toContain('a gap the chain does not have');
    await store.close();
  });

  it('StoreRepaired input checks: the repair fields come all or none, lost audit sequences in order', async () => {
    const disk = new SimulatedDisk({ seed: 6 });
    await disk.fs().mkdir(DIR);
    const store = await open(disk, { state: 'new-key' });
    const base = { type: 'StoreRepaired', file: 'x.wal', offset: 0, firstLostLsn: 3, bytesDropped: 8, brokenCopy: 'x.wal.broken' } as const;
    await expect(store.audit.logEvent({ ...base, lastLostLsn: 3 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(store.audit.logEvent({ ...base, lastLostLsn: 3, recordsDropped: 1, gapEnd: null, lostAuditSequences: { first: 4, last: 2 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(store.audit.logEvent({ ...base, lastLostLsn: -1, recordsDropped: 1, gapEnd: null, lostAuditSequences: null })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const ok = await store.audit.logEvent({ ...base, lastLostLsn: null, recordsDropped: null, gapEnd: null, lostAuditSequences: null });
    expect(ok.event).toMatchObject({ lastLostLsn: null, lostAuditSequences: null });
    await store.close();
    const again = await open(disk);
    const [entry] = (await again.audit.queryByDateRange(0, Number.MAX_SAFE_INTEGER)).filter((e) => e.event.type === 'StoreRepaired');
    expect(entry!.event).toEqual(ok.event);
    await again.close();
  });
});
