/**
 * A power cut at every I/O call (D1, D3, D5): a scripted run (an explicit repair of a damaged
 * log, then waves of concurrent appends with rotations, then close) is replayed on a fresh
 * simulated disk once per call, with the disk crashing at that call (interrupted writes torn).
 * After each crash the log must reopen (with repair only if the crash fell inside the repair)
 * and hold every acknowledged record, whole calls only, and every batch the repair kept (all
 * but the damaged one, whose LSNs are a gap).
 */
import { describe, expect, it } from 'vitest';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { Lsn } from '../../src/log/types.ts';
import { appendRange, collect, openSim, payloadFor, recordFor, segPath } from './wal-helpers.ts';

const WAVES = 12;
const PAYLOAD_MAX = 300;
const PAIR_KIND = 199;

/** A 4 KiB-segment log of 60 records with one flipped bit in its second segment. */
async function damagedDisk(seed: number): Promise<SimulatedDisk> {
  const disk = new SimulatedDisk({ seed, tearInterruptedWrites: true });
  const log = await openSim(disk);
  for (let n = 0; n < 60; n += 6) await appendRange(log, n, n + 6);
  await log.close();
  disk.flipBit(segPath(2), 700, 3);
  return disk;
}

interface RunResult {
  /** Acknowledged records: LSN -> record number. */
  readonly acked: Map<number, number>;
  readonly repaired: boolean;
  /** LSNs the repair kept (1..keptBefore-1). */
  readonly keptBefore: number;
  readonly repairReport: unknown;
}

/** The scripted run. Errors after a power cut are expected and swallowed. */
async function script(disk: SimulatedDisk): Promise<RunResult> {
  const acked = new Map<number, number>();
  let repaired = false;
  let keptBefore = 0;
  let repairReport: unknown;
  try {
    const log = await openSim(disk, { repair: true });
    repaired = true;
    keptBefore = log.nextLsn;
    repairReport = log.openReport.repair;
    let n = 100;
    for (let wave = 0; wave < WAVES; wave++) {
      const calls: { nums: number[]; p: Promise<Lsn[]> }[] = [];
      for (let c = 0; c < 4; c++) {
        const nums = c === 3 ? [n, n + 1] : [n];
        n += nums.length;
        const records = nums.map((x) => ({ kind: nums.length === 2 ? PAIR_KIND : recordFor(x).kind, payload: payloadFor(x, PAYLOAD_MAX) }));
        calls.push({ nums, p: log.append(records) });
      }
      const settled = await Promise.allSettled(calls.map((c) => c.p));
      settled.forEach((s, i) => {
        if (s.status === 'fulfilled') s.value.forEach((lsn, j) => acked.set(lsn, calls[i]!.nums[j]!));
      });
    }
    await log.close();
  } catch {
    // The power cut: everything after it fails with EIO.
  }
  return { acked, repaired, keptBefore, repairReport };
}

describe('crash at every I/O call', () => {
  it.each([20, 21, 22])('reopen after a power cut at any call of repair, appends and rotations holds every acknowledged record (seed %i)', async (seed) => {
    const probe = await damagedDisk(seed);
    const start = probe.callCount;
    const clean = await script(probe);
    const total = probe.callCount - start;
    expect(clean.acked.size).toBe(WAVES * 5);
    expect(clean.keptBefore).toBeGreaterThan(1);
    expect(total).toBeGreaterThan(100);
    expect(clean.repairReport).toBeDefined();

    let points = 0;
    for (let at = 1; at <= total; at++) {
      const disk = await damagedDisk(seed);
      disk.crashAtCall(at);
      const run = await script(disk);
      if (disk.stats.crashes === 0) disk.crash();
      const log = await openSim(disk, { repair: !run.repaired });
      const records = await collect(log);
      const byLsn = new Map(records.map((r) => [r.lsn, r]));
      // LSNs are contiguous but for the gap a repair left (its filler LSNs read as absent).
      const gaps = log.openReport.pendingRepairs.filter((p) => p.gapEnd !== undefined);
      const inGap = (lsn: number): boolean => gaps.some((g) => lsn >= g.firstLostLsn! && lsn <= g.lastLostLsn!);
      const expected = Array.from({ length: log.nextLsn - 1 }, (_, i) => i + 1).filter((lsn) => !inGap(lsn));
      expect(records.map((r) => r.lsn), `crash at ${at}`).toEqual(expected);
      for (const [lsn, num] of run.acked) {
        expect(byLsn.get(lsn)?.payload, `crash at ${at}: acknowledged LSN ${lsn}`).toEqual(payloadFor(num, PAYLOAD_MAX));
      }
      if (run.repaired) {
        for (let lsn = 1; lsn < run.keptBefore; lsn++) if (!inGap(lsn)) expect(byLsn.get(lsn)?.payload).toEqual(payloadFor(lsn - 1));
      }
      // Whole calls only (D3): the two-record calls (kind 199) are there as pairs or not at all.
      for (let i = 0; i < records.length; i++) {
        if (records[i]!.kind !== PAIR_KIND) continue;
        expect(records[i + 1]?.kind, `crash at ${at}: half a call at LSN ${records[i]!.lsn}`).toBe(PAIR_KIND);
        i++;
      }
      await log.close();
      points++;
    }
    console.log(`crash-points (seed ${seed}): ${points} power cuts, one at every I/O call of the scripted run`);
    expect(points).toBe(total);
  });
});
