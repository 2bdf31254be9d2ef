// D8 across a power cut during the open that repairs: the repair's manifest write is its commit
// point, and the stores record the loss (the sign guard's barrier with the StoreRepaired audit
// entry, one batch) only after it. A cut anywhere in between, or in the recording, or before
// the log is told to forget the repair, must not leave a store that signs without a watermark,
// and the repair must be in the audit log exactly once.
import { describe, expect, it } from 'vitest';
import { isStoreError } from '../../src/errors.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { openLog } from '../../src/log/wal.ts';
import { openStore, openStoreOnLog, type LogGroupOptions, type OpenStoreOptions, type SignerOptions } from '../../src/store.ts';
import { hashOf } from '../../src/testing/conformance/vote-store.conformance.ts';
import type { LogSignGuard } from '../../src/stores/sign-guard.ts';

const chainId = 'repair-crash-chain';
const identity = { privateKey: new Uint8Array(32).fill(5), validatorId: 'me' };
const SIGNED = 40;
const SEGMENT_BYTES = 4096;

function code(err: unknown): string {
  return isStoreError(err) ? err.code : String(err);
}

/** How one open differs from the default: the signer's sign-state options, and log options over the defaults. */
interface Extra {
  readonly signer?: Pick<SignerOptions, 'state' | 'allowFreshState' | 'importWatermark'>;
  readonly log?: LogGroupOptions;
}

function options(disk: SimulatedDisk, extra: Extra = {}): OpenStoreOptions {
  return { dir: '/node', fs: disk.fs(), chainId, signer: { ...identity, ...extra.signer }, log: { segmentSize: SEGMENT_BYTES, ...extra.log } };
}

/** A disk whose log holds SIGNED own votes over several segments, with a flipped bit in the first (sealed) one. */
async function damagedDisk(seed: number): Promise<SimulatedDisk> {
  const disk = new SimulatedDisk({ seed, tearInterruptedWrites: true });
  const fs = disk.fs();
  await fs.mkdir('/node');
  await fs.syncDir('/');
  const store = await openStore(options(disk, { signer: { state: 'new-key' } }));
  for (let h = 1; h <= SIGNED; h++) {
    await store.signGuard.signVote({ validatorId: 'me', height: h, round: 0, voteType: 'prevote', blockHash: hashOf(h), timestamp: h });
  }
  await store.close();
  // The repair barrier alone is under test here, as in a directory written before the sign
  // guard kept its second copy (SIGNSTATE), which would refuse these opens by itself.
  await fs.unlink('/node/SIGNSTATE');
  await fs.syncDir('/node');
  disk.flipBit('/node/wal/0000000000000001.wal', 900, 3);
  return disk;
}

/** The repairing open (the operator accepts the risk for this one open), run to the end. */
async function repairingOpen(disk: SimulatedDisk): Promise<number> {
  const store = await openStore(options(disk, { log: { repair: true }, signer: { allowFreshState: true } }));
  const beforeClose = disk.callCount;
  await store.close();
  return disk.callCount - beforeClose;
}

describe('recording a repair across power cuts', () => {
  it('keeps the barrier and records the repair once, whatever call of the repairing open the cut hits', async () => {
    const probe = await damagedDisk(1);
    const before = probe.callCount;
    const closeCalls = await repairingOpen(probe);
    const calls = probe.callCount - before;
    expect(calls).toBeGreaterThan(20);

    let cut = 0;
    for (let k = 1; k <= calls + 2; k++) {
      for (const seed of [k, 7000 + k]) {
        const disk = await damagedDisk(seed);
        disk.crashAtCall(k);
        const finished = await repairingOpen(disk).then(
          () => true,
          () => false,
        );
        if (!finished) cut++;
        disk.crash();

        // The operator reruns the repairing open without accepting the risk: refused, the
        // barrier holds (whether the loss was recorded before the cut or is recorded now).
        const refused = await openStore(options(disk, { log: { repair: true } })).then(
          async (s) => {
            await s.close();
            return 'opened';
          },
          (err: unknown) => code(err),
        );
        expect(refused, `cut at call ${k}, seed ${seed}`).toBe('FRESH_SIGN_STATE');

        // With the real watermark imported it opens, the log has nothing pending, and the audit
        // log holds exactly one StoreRepaired entry.
        const store = await openStore(options(disk, { signer: { importWatermark: { height: SIGNED, round: 0, step: 'prevote' } } }));
        try {
          expect(store.log.openReport.pendingRepairs, `cut at call ${k}, seed ${seed}`).toEqual([]);
          const entries = await store.audit.queryByDateRange(0, Date.now() + 1e9, { limit: 10_000 });
          const repaired = entries.filter((e) => e.event.type === 'StoreRepaired');
          expect(repaired, `cut at call ${k}, seed ${seed}`).toHaveLength(1);
          const signed = await store.signGuard.signVote({ validatorId: 'me', height: SIGNED + 1, round: 0, voteType: 'prevote', blockHash: hashOf(1), timestamp: 1 });
          expect(signed.signature).toHaveLength(64);
        } finally {
          await store.close();
        }
      }
    }
    // The cut made the repairing open fail at nearly every point before its close (a few calls,
    // such as handles closed in the background, fail without failing the open; the close's own
    // calls, which record the clean end, never fail it).
    expect(cut).toBeGreaterThan(1.8 * (calls - closeCalls));
  }, 120_000);

  it('without a node key (openStoreOnLog) writes nothing: the pending repair blocks signing in memory and stays pending', async () => {
    const disk = await damagedDisk(3);
    const repairing = await openLog({ dir: '/node', fs: disk.fs(), segmentSize: SEGMENT_BYTES, repair: true });
    const [pending] = repairing.openReport.pendingRepairs;
    expect(pending?.firstLostLsn).toBeGreaterThan(0);
    await repairing.close();

    // A refused open closes the log it was given.
    const refusedLog = await openLog({ dir: '/node', fs: disk.fs(), segmentSize: SEGMENT_BYTES });
    await expect(openStoreOnLog(refusedLog, { chainId, signer: identity })).rejects.toSatisfy((err) => code(err) === 'FRESH_SIGN_STATE');
    await refusedLog.close();
    const log = await openLog({ dir: '/node', fs: disk.fs(), segmentSize: SEGMENT_BYTES });
    try {
      const next = log.nextLsn;
      const store = await openStoreOnLog(log, { chainId, signer: { ...identity, allowFreshState: true } });
      expect(log.nextLsn).toBe(next);
      expect(store.log.openReport.pendingRepairs).toEqual([pending]);
      expect((store.signGuard as LogSignGuard).hasRecordedRepair(pending!.id)).toBe(true);
    } finally {
      await log.close();
    }
    // A keyed open records it (once) and acknowledges it.
    const keyed = await openStore(options(disk, { signer: { importWatermark: { height: SIGNED, round: 0, step: 'prevote' } } }));
    try {
      expect(keyed.log.openReport.pendingRepairs).toEqual([pending]);
      const entries = await keyed.audit.queryByDateRange(0, Date.now() + 1e9, { limit: 10_000 });
      expect(entries.filter((e) => e.event.type === 'StoreRepaired')).toHaveLength(1);
    } finally {
      await keyed.close();
    }
    const after = await openLog({ dir: '/node', fs: disk.fs(), segmentSize: SEGMENT_BYTES });
    expect(after.openReport.pendingRepairs).toEqual([]);
    await after.close();
  });
});
