/**
 * Power cuts at every I/O call of writing a local image, creating a portable snapshot and
 * pruning snapshots (simulated disk): the directory always opens to a correct state (every
 * acknowledged vote there, the image used only when whole), and every snapshot listed is whole.
 * And an I/O error while writing an image or a snapshot fails that file only: the store goes on.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { openStore, takeImage, type ConsensusStore } from '../../src/store.ts';
import { signVote } from '../../src/codec/vote-sign.ts';
import { buildChain, snapshotKey } from '../../src/testing/conformance/snapshot-store.conformance.ts';

const CHAIN = 'crash-chain';
const NODE_KEY = { privateKey: new Uint8Array(32).fill(8) };
const DIR = '/node';

function open(disk: SimulatedDisk, extra: Record<string, unknown> = {}): Promise<ConsensusStore> {
  return openStore({ dir: DIR, fs: disk.fs(), chainId: CHAIN, audit: { nodeKey: NODE_KEY }, snapshots: { interval: 0, chunkSize: 4096 }, images: { onClose: false }, ...extra });
}

/** A disk holding 12 finalized heights, each with 3 prevotes and 4 precommits. */
async function seeded(seed: number): Promise<SimulatedDisk> {
  const disk = new SimulatedDisk({ seed });
  const store = await open(disk);
  await buildChain({ votes: store.votes, validators: store.validators, chainId: CHAIN }, 12);
  for (let h = 1; h <= 12; h++) {
    for (const n of [1, 2, 3]) {
      await store.votes.appendVote(signVote({ validatorId: `val-${n}`, height: h, round: h, voteType: 'prevote', blockHash: new Uint8Array(32).fill(h), timestamp: 7 }, snapshotKey(n), CHAIN));
    }
  }
  await store.close();
  return disk;
}

/** Everything acknowledged is there: 84 votes, height 12 finalized. */
async function expectWhole(store: ConsensusStore, label: string): Promise<void> {
  expect(await store.votes.getLastFinalized(), label).toMatchObject({ height: 12 });
  let votes = 0;
  for (let r = 1; r <= 12; r++) votes += await store.votes.countVotesForRound(r);
  expect(votes, label).toBe(84);
  expect((await store.validators.getValidatorsAtHeight(12)).validators, label).toHaveLength(4);
}

/** Runs `step` with a power cut armed at its `at`-th I/O call; returns whether the cut came. */
async function cutAt(disk: SimulatedDisk, at: number, step: (s: ConsensusStore) => Promise<unknown>): Promise<boolean> {
  const store = await open(disk);
  const crashes = disk.stats.crashes;
  disk.crashAtCall(at);
  await step(store).catch(() => undefined);
  const cut = disk.stats.crashes > crashes;
  if (!cut) disk.crash();
  await store.close().catch(() => undefined);
  return cut;
}

const STEPS: [string, (s: ConsensusStore) => Promise<unknown>][] = [
  ['writing a local image', (s) => takeImage(s, false)],
  ['creating a snapshot', (s) => s.snapshots.createSnapshot()],
  [
    'pruning snapshots',
    async (s) => {
      await s.snapshots.pruneSnapshots(1);
    },
  ],
];

describe('power cuts while images and snapshots are written', () => {
  for (const [name, step] of STEPS) {
    it(`at every I/O call of ${name}, the directory opens whole and lists only whole snapshots`, async () => {
      // Pruning needs snapshots to prune: three, made before the cut.
      const prepare = async (disk: SimulatedDisk): Promise<void> => {
        if (name !== 'pruning snapshots') return;
        const s = await open(disk);
        for (const height of [4, 8, 12]) await s.snapshots.createSnapshot({ height });
        await s.close();
      };
      const seed = 40;
      const probe = await seeded(seed);
      await prepare(probe);
      const s0 = await open(probe);
      const before = probe.callCount;
      await step(s0);
      const total = probe.callCount - before;
      await s0.close();
      expect(total).toBeGreaterThan(3);
      let cuts = 0;
      for (let at = 1; at <= total; at++) {
        const disk = await seeded(seed);
        await prepare(disk);
        if (await cutAt(disk, at, step)) cuts++;
        const store = await open(disk, { images: { onClose: false, load: true } });
        await expectWhole(store, `${name}, cut at call ${at}`);
        for (const m of await store.snapshots.listSnapshots()) expect(await store.snapshots.verifySnapshotIntegrity(m.id), `${m.id} after a cut at ${at}`).toBe(true);
        // A store that loaded an image answers as one that replayed everything.
        const full = store.replay.image.loaded === undefined ? undefined : await (async () => {
          await store.close();
          return open(disk, { images: { onClose: false, load: false } });
        })();
        if (full !== undefined) {
          await expectWhole(full, `${name}, full replay after a cut at ${at}`);
          await full.close();
        } else {
          await store.close();
        }
      }
      expect(cuts).toBe(total);
    }, 120_000);
  }

});

describe('an I/O error while writing an image or a snapshot', () => {
  it('fails that file only: the store keeps writing, and the next attempt succeeds', async () => {
    const disk = await seeded(50);
    const store = await open(disk);
    disk.injectFault('write', 'EIO');
    const failed = await store.snapshots.createSnapshot().then(() => undefined, (e: unknown) => e);
    expect(failed, 'the snapshot whose write failed rejects').toBeInstanceOf(Error);
    expect(await store.snapshots.listSnapshots()).toEqual([]);
    disk.clearFaults();
    await store.votes.appendVote(signVote({ validatorId: 'val-4', height: 12, round: 12, voteType: 'prevote', blockHash: new Uint8Array(32).fill(12), timestamp: 7 }, snapshotKey(4), CHAIN));
    expect(store.status).toBe('open');
    const meta = await store.snapshots.createSnapshot();
    expect(await store.snapshots.verifySnapshotIntegrity(meta.id)).toBe(true);
    expect((await disk.fs().readdir(`${DIR}/snapshots`)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    disk.injectFault('datasync', 'EIO');
    await expect(takeImage(store, false)).rejects.toBeDefined();
    disk.clearFaults();
    expect(store.status).toBe('open');
    const image = await takeImage(store, false);
    expect(image?.lsn).toBe(store.log.nextLsn - 1);
    await store.close();
    const again = await open(disk);
    expect(again.replay.image.loaded?.lsn).toBe(image?.lsn);
    expect(await again.votes.voteExists('val-4', 12, 'prevote')).toBe(true);
    await again.close();
  });
});

describe('automatic snapshots and close', () => {
  it('close waits for a snapshot in flight: nothing is written or pruned in the directory after close', async () => {
    const disk = new SimulatedDisk({ seed: 60 });
    const store = await openStore({ dir: DIR, fs: disk.fs(), chainId: CHAIN, audit: { nodeKey: NODE_KEY }, snapshots: { interval: 2, keep: 1 } });
    await buildChain({ votes: store.votes, validators: store.validators, chainId: CHAIN }, 29);
    // Height 30 makes height 20 (a multiple of the interval, 10 heights back) due: an automatic
    // snapshot and a prune start in the background.
    for (const n of [1, 2, 3]) {
      await store.votes.appendVote(signVote({ validatorId: `val-${n}`, height: 30, round: 30, voteType: 'precommit', blockHash: new Uint8Array(32).fill(30), timestamp: 9 }, snapshotKey(n), CHAIN));
    }
    await store.votes.markFinalized(30, 30);
    await store.close();
    const files = async (): Promise<string[]> => (await disk.fs().readdir(`${DIR}/snapshots`)).sort();
    const atClose = await files();
    await new Promise((r) => setTimeout(r, 300));
    expect(await files()).toEqual(atClose);
    const again = await open(disk);
    const listed = await again.snapshots.listSnapshots();
    // Automatic snapshots skip the multiples crossed while one is running: at least one was made.
    expect(listed.length).toBeGreaterThanOrEqual(1);
    for (const m of listed) expect(await again.snapshots.verifySnapshotIntegrity(m.id)).toBe(true);
    await again.close();
  });
});
