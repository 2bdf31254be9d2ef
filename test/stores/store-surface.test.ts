/**
 * What `openStore` hands out: the stores as their interfaces, the log only as facts to read
 * (no way to append past the stores' checks), and a lifecycle status that follows the log:
 * open, poisoned after a failed fdatasync (D6), closed.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { openStore, writableLogOf, type ConsensusStore } from '../../src/store.ts';
import { isStoreError } from '../../src/errors.ts';

function open(disk: SimulatedDisk): Promise<ConsensusStore> {
  return openStore({ dir: '/node', fs: disk.fs(), chainId: 'surface', signer: { privateKey: new Uint8Array(32).fill(4), validatorId: 'me', state: 'new-key' } });
}

describe('the store as openStore returns it', () => {
  it('exposes the log as read-only facts and follows its status: open, poisoned after EIO, closed', async () => {
    const disk = new SimulatedDisk({ seed: 3 });
    const store = await open(disk);
    expect(store.status).toBe('open');
    expect(Object.keys(store.log).sort()).toEqual(['limits', 'nextLsn', 'openReport', 'status']);
    expect((store.log as unknown as { append?: unknown }).append).toBeUndefined();
    expect(Object.isFrozen(store.log)).toBe(true);
    const before = store.log.nextLsn;
    await store.rounds.saveRoundState({ height: 1, round: 1, phase: 'propose', startedAt: 1, updatedAt: 1 });
    expect(store.log.nextLsn).toBe(before + 1);
    disk.injectFault('writeAndSync', 'EIO');
    const failed = await store.rounds.saveRoundState({ height: 1, round: 1, phase: 'prevote', startedAt: 1, updatedAt: 2 }).catch((e: unknown) => e);
    expect(isStoreError(failed, 'IO_FAILED')).toBe(true);
    expect(store.status).toBe('poisoned');
    expect((await store.rounds.loadRoundState())?.state).toMatchObject({ phase: 'propose' });
    await store.close();
    expect(store.status).toBe('closed');
  });

  it('writableLogOf refuses an object it did not build', () => {
    expect(() => writableLogOf({} as ConsensusStore)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
