/**
 * Runs the SnapshotStore conformance suite on the write-ahead log through `openStore`, on real
 * files in a temporary directory and on the simulated disk (test/support/store-backends.ts).
 * Each reopen closes the store and opens the same directory or disk again. (A store built on a
 * bare log has no directory for snapshot files: its snapshot calls are refused, checked below.)
 */
import { describe, expect, it } from 'vitest';
import { freshHarness, walBackends } from '../support/store-backends.ts';
import { snapshotStoreConformance, type SnapshotHarness } from '../../src/testing/conformance/snapshot-store.conformance.ts';
import { openStoreOnLog } from '../../src/store.ts';
import { MemoryLog } from '../../src/log/memory-log.ts';
import { isStoreError } from '../../src/errors.ts';

const CHAIN = 'snapshot-chain';

for (const backend of walBackends(CHAIN, 'snapshots')) {
  snapshotStoreConformance(`openStore, ${backend.name}`, () =>
    freshHarness<SnapshotHarness>(backend, (s) => ({ snapshots: s.snapshots, votes: s.votes, validators: s.validators, chainId: CHAIN })),
  );
}

describe('snapshots of a store on a bare log', () => {
  it('every method is refused with INVALID_ARGUMENT, naming why', async () => {
    const store = await openStoreOnLog(MemoryLog.open(), { chainId: CHAIN });
    const calls: (() => Promise<unknown>)[] = [
      () => store.snapshots.createSnapshot(),
      () => store.snapshots.listSnapshots(),
      () => store.snapshots.getLatestSnapshot(),
      () => store.snapshots.getSnapshotMetadata('000000000001-000001'),
      () => store.snapshots.loadFromSnapshot('000000000001-000001'),
      () => store.snapshots.pruneSnapshots(1),
      () => store.snapshots.verifySnapshotIntegrity('000000000001-000001'),
      () => store.snapshots.addAttestation('000000000001-000001', { validatorId: 'v', signature: new Uint8Array(64) }),
    ];
    for (const call of calls) {
      const err = await call().then(() => undefined, (e: unknown) => e);
      expect(isStoreError(err, 'INVALID_ARGUMENT') && /snapshots need openStore/.test((err as Error).message)).toBe(true);
    }
    await store.close();
  });
});
