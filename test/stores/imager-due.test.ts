/**
 * When the background imager takes an image: once `images.everyRecords` records were written
 * since the last one, and at least a quarter as many as the last one covered (each image writes
 * the whole state, so a fixed interval would write quadratically much over a growing history).
 */
import { describe, expect, it } from 'vitest';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { openStore, type ConsensusStore } from '../../src/store.ts';

const NODE_KEY = { privateKey: new Uint8Array(32).fill(6) };

async function images(disk: SimulatedDisk): Promise<number[]> {
  const names = (await disk.fs().stat('/n/images')) === undefined ? [] : await disk.fs().readdir('/n/images');
  return names.filter((n) => n.endsWith('.csimg')).map((n) => Number(n.slice(6, 22))).sort((a, b) => a - b);
}

async function roundStates(store: ConsensusStore, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) await store.rounds.saveRoundState({ height: i, round: i, phase: 'propose', startedAt: 1, updatedAt: 1 });
}

const waitForTimer = (): Promise<void> => new Promise((r) => setTimeout(r, 400));

describe('background images', () => {
  it('wait for everyRecords and for a quarter of what the last image covered', async () => {
    const disk = new SimulatedDisk({ seed: 9 });
    const store = await openStore({ dir: '/n', fs: disk.fs(), chainId: 'c', audit: { nodeKey: NODE_KEY }, images: { everyRecords: 20, onClose: false, keep: 16 } });
    await roundStates(store, 1, 10);
    await waitForTimer();
    expect(await images(disk), 'fewer than everyRecords written').toEqual([]);
    await roundStates(store, 11, 200);
    await waitForTimer();
    const first = await images(disk);
    expect(first).toHaveLength(1);
    const quarter = first[0]! * 0.25;
    expect(quarter).toBeGreaterThan(40);
    // Past everyRecords (20), short of a quarter of the first image's LSN: no image.
    await roundStates(store, 1000, 30);
    await waitForTimer();
    expect(await images(disk), 'below a quarter of the last image').toEqual(first);
    // Past both.
    await roundStates(store, 2000, Math.ceil(quarter));
    await waitForTimer();
    expect(await images(disk)).toHaveLength(2);
    await store.close();
  });
});
