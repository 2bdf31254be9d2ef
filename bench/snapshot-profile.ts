/**
 * Profiling aid for `npm run bench -- snapshot` (bench/scenarios/snapshot.ts): builds one case
 * (untimed) and then runs the measured operation, printing the monotonic-clock window (µs, the
 * clock of V8's CPU profiles) it ran in, so that a profile of the whole process can be cut down
 * to that window. Run it under `node --cpu-prof`:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --max-old-space-size=8192 --import tsx bench/snapshot-profile.ts <case> [sizes]
 *
 *   open-image [votes=1000000]                 open + first query with an image of all votes
 *   open-deep [before=9900000] [tail=100000]   open + first query with an image and a tail
 *   restore [validators=10000] [heights=100]   restoreFromSnapshot + openStore with importWatermark
 *   create [validators=10000] [heights=100]    store.snapshots.createSnapshot() on that store
 *   background [votes=1000000]                 takeImage(store, true), then createSnapshot(), on the part-4 store
 *
 * Prints `window <label> <startUs> <endUs>` lines. Must never: run the measured operation
 * before the build is complete, or leave its temp directories behind (bench/lib/temp-dir.ts).
 */
import { randomBytes } from 'node:crypto';
import { fileSnapshotSource, restoreFromSnapshot } from '../src/restore.ts';
import { openStore, takeImage } from '../src/store.ts';
import { createContext } from './lib/context.ts';
import { CHAIN_ID } from './lib/systems.ts';
import { makeTempDir, removeRunDir } from './lib/temp-dir.ts';
import { buildSnapshotSource, fillRange, imageNow, prepareForSnapshots, storeOptions } from './scenarios/snapshot.ts';

const nowUs = (): bigint => process.hrtime.bigint() / 1000n;

async function windowed<T>(label: string, op: () => Promise<T>): Promise<T> {
  const start = nowUs();
  const t = performance.now();
  const result = await op();
  const end = nowUs();
  process.stdout.write(`window ${label} ${start} ${end} (${(performance.now() - t).toFixed(0)} ms)\n`);
  return result;
}

async function main(): Promise<void> {
  const [which = '', a, b] = process.argv.slice(2);
  const ctx = createContext({ quick: false, json: false, reps: 1 });
  const dirs: string[] = [];
  if (which === 'open-image' || which === 'open-deep') {
    const before = Number(a ?? (which === 'open-image' ? 1_000_000 : 9_900_000));
    const tail = which === 'open-image' ? 0 : Number(b ?? 100_000);
    const dir = makeTempDir('profile-open');
    await fillRange(dir, 0, before);
    await imageNow(dir);
    if (tail > 0) await fillRange(dir, before, tail);
    const lastRound = Math.ceil((before + tail) / 200) - 1;
    for (let i = 0; i < 2; i++) {
      globalThis.gc?.();
      await windowed(`open-${i}`, async () => {
        const store = await openStore(storeOptions(dir, { images: { onClose: false } }));
        await store.votes.countVotesForRound(lastRound);
        process.stdout.write(`  log open ${store.log.openReport.durationMs.toFixed(0)} ms, image ${store.replay.image.loaded?.durationMs.toFixed(0)} ms, replay ${store.replay.records} in ${store.replay.durationMs.toFixed(0)} ms\n`);
        await store.close();
      });
    }
  } else if (which === 'restore' || which === 'create') {
    const src = await buildSnapshotSource(ctx, Number(a ?? 10_000), Number(b ?? 100), dirs);
    if (which === 'create') {
      const store = await openStore(storeOptions(src.dir));
      await windowed('create', () => store.snapshots.createSnapshot());
      await store.close();
    } else {
      const dir = makeTempDir('profile-restore');
      await windowed('restore', () => restoreFromSnapshot({ dir, chainId: CHAIN_ID, source: fileSnapshotSource(src.path), trust: { root: src.meta.merkleRoot } }));
      await windowed('open', async () => {
        const store = await openStore({ dir, chainId: CHAIN_ID, signer: { ...src.signer, importWatermark: { height: src.meta.height, round: src.meta.round, step: 'precommit' } } });
        await store.close();
      });
    }
  } else if (which === 'background') {
    const votes = Number(a ?? 1_000_000);
    const dir = makeTempDir('profile-background');
    await fillRange(dir, 0, votes);
    await imageNow(dir);
    await prepareForSnapshots(dir, votes);
    const store = await openStore(storeOptions(dir));
    const signature = new Uint8Array(randomBytes(64));
    const blockHash = new Uint8Array(randomBytes(32));
    let next = votes;
    const append = (): Promise<unknown> => {
      next += 1;
      return store.votes.appendVote({ validatorId: 'validator-bench', height: next, round: next, voteType: 'prevote', blockHash, timestamp: Date.now(), signature });
    };
    for (let i = 0; i < 500; i++) await append();
    await windowed('takeImage', async () => {
      const p = takeImage(store, true);
      let busy = true;
      void p.finally(() => (busy = false)).catch(() => undefined);
      while (busy) await append();
      await p;
    });
    await windowed('createSnapshot', async () => {
      const p = store.snapshots.createSnapshot();
      let busy = true;
      void p.finally(() => (busy = false)).catch(() => undefined);
      while (busy) await append();
      await p;
    });
    await store.close();
  } else {
    throw new Error(`unknown case ${which}: open-image, open-deep, restore, create, background`);
  }
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => removeRunDir());
