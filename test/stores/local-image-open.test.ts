/**
 * Opening a store from a local state image (src/stores/local-image.ts, src/stores/imager.ts, the
 * open and close of src/store.ts), through `openStore` on the simulated disk:
 * - a random workload (test/support/store-workload.ts) with images taken at random points, some
 *   while writes are in flight, and random clean reopens: the live store, a reopen that loads
 *   the newest image and a reopen that replays the whole log answer every query alike, and the
 *   calls that would write do the same on copies of the two reopened directories;
 * - a damaged newest image (a byte flipped anywhere, truncated, a trailer byte) is rejected
 *   with a reason and the older image is loaded; an image of another directory (same chain and
 *   key: its record L differs), of another chain, or signed by another node key is rejected and
 *   the log replayed in full;
 * - every `images.*` and `snapshots.*` option out of range, of a wrong type or unknown is
 *   INVALID_ARGUMENT and creates nothing;
 * - `images.keep` images remain, the newest;
 * - writes after `close()` reject CLOSED, also while the close-time image is being written.
 *
 * Prints its fast-check seed; set FC_SEED to replay one (and FC_RUNS for more runs of the property).
 */
import { expectSameAnswers } from '../support/canonical.ts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sealTrailer } from '../../src/codec/snapshot-file.ts';
import { isStoreError } from '../../src/errors.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { FileHandle, FileSystem } from '../../src/io/types.ts';
import type { UnsignedVote } from '../../src/model/vote.ts';
import { openStore, takeImage, type ConsensusStore, type OpenStoreOptions } from '../../src/store.ts';
import { imageFileName, imageLsnOfName, IMAGES_DIR, type WrittenImage } from '../../src/stores/local-image.ts';
import { AUDIT_CHAIN, nodeKey, signedVote } from '../support/audit-test-log.ts';
import { delegatingFs } from '../support/delegating-fs.ts';
import { AUDIT_KEY, NODE, outcome, queryContextOf, run, storeOpArb, storeProbes, storeReads, unsignedVote, type Op } from '../support/store-workload.ts';

const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
console.log(`local-image-open: fast-check seed ${seed}`);

const DIR = '/data';
const CLOCK_START = 1_700_000_000_000;
/** Small segments: a replay from an image starts in the middle of the log's segments. */
const SEGMENT_SIZE = 16 * 1024;

/** Options of one open (a test's overrides replace the defaults; `images` is merged). */
type Overrides = Partial<Omit<OpenStoreOptions, 'dir' | 'fs'>>;

/** A simulated disk with one ticking clock (a reopen never goes back in time). */
class Bench {
  readonly disk: SimulatedDisk;
  #clock = CLOCK_START;
  /** While set, the clock stands still here (queries that stamp their answer, as reward statements do). */
  #frozen: number | undefined;

  constructor(diskSeed: number) {
    this.disk = new SimulatedDisk({ seed: diskSeed });
  }

  get fs(): FileSystem {
    return this.disk.fs();
  }

  /** Opens the store in `dir`: fixed node key and signer, no background images unless overridden. */
  open(dir: string, o: Overrides = {}, fs: FileSystem = this.fs): Promise<ConsensusStore> {
    return openStore({
      chainId: AUDIT_CHAIN,
      signer: { ...NODE, state: 'new-key' },
      audit: { nodeKey: AUDIT_KEY },
      now: () => this.#frozen ?? this.#clock++,
      log: { segmentSize: SEGMENT_SIZE },
      ...o,
      images: { everyRecords: 0, ...o.images },
      dir,
      fs,
    });
  }

  /** Every read of `store` (test/support/store-workload.ts), asked with the clock standing still. */
  async reads(store: ConsensusStore, signRequests: readonly UnsignedVote[] = []): Promise<Record<string, unknown[]>> {
    this.#frozen = CLOCK_START + 100_000_000;
    try {
      return await storeReads(store, queryContextOf(store, signRequests));
    } finally {
      this.#frozen = undefined;
    }
  }
}

/** A clock of its own, from a fixed start: two stores given one each stamp alike. */
function fixedClock(): () => number {
  let t = CLOCK_START + 50_000_000;
  return () => t++;
}

/** The LSNs of the image files in `dir`, newest first, and any other file there. */
async function imagesIn(fs: FileSystem, dir: string): Promise<{ lsns: number[]; others: string[] }> {
  const path = `${dir}/${IMAGES_DIR}`;
  if ((await fs.stat(path)) === undefined) return { lsns: [], others: [] };
  const names = await fs.readdir(path);
  const lsns = names.map(imageLsnOfName).filter((l): l is number => l !== undefined);
  return { lsns: lsns.sort((a, b) => b - a), others: names.filter((n) => imageLsnOfName(n) === undefined) };
}

/** The store loaded the newest image of `dir` (none: replayed from LSN 1), rejected nothing, and replayed exactly the records after it. */
async function expectLoadedNewest(fs: FileSystem, dir: string, store: ConsensusStore): Promise<number | undefined> {
  const newest = (await imagesIn(fs, dir)).lsns[0];
  const { replay } = store;
  expect(replay.image.rejected).toEqual([]);
  if (newest === undefined) {
    expect(replay.image.loaded).toBeUndefined();
    expect(replay.fromLsn).toBe(1);
  } else {
    expect(replay.image.loaded).toMatchObject({ file: imageFileName(newest), lsn: newest });
    expect(replay.fromLsn).toBe(newest + 1);
  }
  expect(replay.records).toBe(store.log.nextLsn - replay.fromLsn);
  return newest;
}

/** Copies the directory tree `from` to `to` (every file synced). */
async function copyDir(fs: FileSystem, from: string, to: string): Promise<void> {
  await fs.mkdir(to);
  for (const name of await fs.readdir(from)) {
    const stat = await fs.stat(`${from}/${name}`);
    if (stat?.isDirectory === true) await copyDir(fs, `${from}/${name}`, `${to}/${name}`);
    else await writeFile(fs, `${to}/${name}`, await fs.readFile(`${from}/${name}`));
  }
  await fs.syncDir(to);
}

/** A macrotask: what a write to a real disk takes at least. */
const macrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * `fs` whose writes and syncs each wait a macrotask first, as a real disk's do (the simulated
 * disk answers on microtasks): a write started before an image is then still in flight when
 * the image's capture runs.
 */
function slowWrites(fs: FileSystem): FileSystem {
  return delegatingFs(fs, {
    open: async (path, mode, options) => {
      const h = await fs.open(path, mode, options);
      const handle: FileHandle = {
        path: h.path,
        read: (buffer, position, offset, length) => h.read(buffer, position, offset, length),
        write: (buffers, position) => macrotask().then(() => h.write(buffers, position)),
        datasync: () => macrotask().then(() => h.datasync()),
        writeAndSync: (buffers, position) => macrotask().then(() => h.writeAndSync(buffers, position)),
        truncate: (length) => h.truncate(length),
        size: () => h.size(),
        close: () => h.close(),
      };
      return handle;
    },
  });
}

/** Replaces the content of the file at `path` (created if absent) with `bytes`, synced. */
async function writeFile(fs: FileSystem, path: string, bytes: Uint8Array): Promise<void> {
  const handle = await fs.open(path, 'create');
  try {
    await handle.truncate(0);
    if (bytes.length > 0) await handle.writeAndSync([bytes], 0);
    else await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** One step of the random workload. */
type Step =
  | { kind: 'op'; op: Op }
  /** Starts `inflight` writes, takes an image without waiting for them, then waits for all. */
  | { kind: 'image'; inflight: Op[] }
  /** Closes (an image at close when the open said so) and opens again. */
  | { kind: 'reopen'; onClose: boolean };

/** Mostly without an image at close: the next open then loads an earlier image and replays the records after it. */
const onCloseArb = fc.integer({ min: 0, max: 3 }).map((n) => n === 0);

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 14, arbitrary: storeOpArb.map((op): Step => ({ kind: 'op', op })) },
  { weight: 3, arbitrary: fc.array(storeOpArb, { maxLength: 4 }).map((inflight): Step => ({ kind: 'image', inflight })) },
  { weight: 1, arbitrary: onCloseArb.map((onClose): Step => ({ kind: 'reopen', onClose })) },
);

/** Runs `ops` on `store`, in order. */
async function runAll(store: ConsensusStore, ops: readonly Op[], signRequests: UnsignedVote[] = []): Promise<void> {
  for (const o of ops) {
    if (o.op === 'sign') signRequests.push(unsignedVote(o));
    await run(store, o);
  }
}

/** A fixed workload of `n` operations drawn from the test's seed (and an audit event, so that it always writes). */
function sampleOps(n: number, offset: number): Op[] {
  return [...fc.sample(storeOpArb, { seed: seed + offset, numRuns: n }), { op: 'event', height: 1, round: 1 }];
}

describe('opening from a local image', () => {
  it('the live store, a reopen from the newest image and a full replay answer every query alike', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(onCloseArb, fc.array(stepArb, { minLength: 1, maxLength: 60, size: 'max' }), async (firstOnClose, steps) => {
        const bench = new Bench(seed + runs++);
        const fs = slowWrites(bench.fs);
        const signRequests: UnsignedVote[] = [];
        let imagesTaken = 0;
        let onClose = firstOnClose;
        let store = await bench.open(DIR, { images: { onClose } }, fs);
        const start = (o: Op): Promise<void> => {
          if (o.op === 'sign') signRequests.push(unsignedVote(o));
          return run(store, o);
        };
        for (const step of steps) {
          if (step.kind === 'op') {
            await start(step.op);
          } else if (step.kind === 'image') {
            // The writes are started, not awaited: the image is taken while they are in flight.
            const writes = step.inflight.map(start);
            const [image] = await Promise.all([takeImage(store, false), ...writes]);
            if (image !== undefined) {
              imagesTaken++;
              expect(image.lsn).toBeLessThan(store.log.nextLsn);
            }
          } else {
            const before = store.log.nextLsn;
            await store.close();
            const { lsns } = await imagesIn(fs, DIR);
            // A clean close with onClose takes an image of the last record (unless one is there already).
            if (onClose) expect(lsns[0]).toBe(before - 1);
            if (lsns[0] === before - 1) imagesTaken++;
            onClose = step.onClose;
            store = await bench.open(DIR, { images: { onClose } }, fs);
            await expectLoadedNewest(fs, DIR, store);
          }
        }
        // (a) the live store.
        const live = await bench.reads(store, signRequests);
        await store.close();
        if (onClose) imagesTaken++;

        // (b) a reopen from the newest image.
        const fromImage = await bench.open(DIR, { images: { onClose: false } });
        const loadedLsn = await expectLoadedNewest(fs, DIR, fromImage);
        if (imagesTaken > 0) {
          expect(fromImage.replay.image.loaded).toBeDefined();
          expect(fromImage.replay.fromLsn).toBeGreaterThan(1);
        }
        expectSameAnswers(await bench.reads(fromImage, signRequests), live, 'from the image');
        await fromImage.close();

        // (c) a full replay.
        const replayed = await bench.open(DIR, { images: { load: false, onClose: false } });
        expect(replayed.replay.image).toEqual({ loaded: undefined, rejected: [] });
        expect(replayed.replay.fromLsn).toBe(1);
        expectSameAnswers(await bench.reads(replayed, signRequests), live, 'full replay');
        await replayed.close();

        // The calls that would write, on two copies of the directory: they act alike, and leave alike.
        await copyDir(fs, DIR, '/copy-image');
        await copyDir(fs, DIR, '/copy-replay');
        const probed: unknown[] = [];
        for (const [dir, load] of [['/copy-image', true], ['/copy-replay', false]] as const) {
          const copy = await bench.open(dir, { now: fixedClock(), images: { load, onClose: false } });
          expect(copy.replay.image.loaded?.lsn).toBe(load ? loadedLsn : undefined);
          const q = queryContextOf(copy, signRequests);
          probed.push({ probes: await storeProbes(copy, q), after: await storeReads(copy, q) });
          await copy.close();
        }
        expectSameAnswers(probed[0], probed[1], 'writing calls: from the image vs a full replay');
      }),
      { seed, numRuns: Number(process.env['FC_RUNS'] ?? 25) },
    );
  }, 120_000);
});

/** A directory with two images (older, newer) and records after the newer, closed without a third. */
async function twoImages(bench: Bench, dir: string): Promise<{ older: WrittenImage; newer: WrittenImage; reads: Record<string, unknown[]> }> {
  const store = await bench.open(dir, { images: { onClose: false } });
  await runAll(store, sampleOps(25, 10));
  const older = await takeImage(store, false);
  await runAll(store, sampleOps(25, 11));
  const newer = await takeImage(store, false);
  await runAll(store, sampleOps(10, 12));
  const reads = await bench.reads(store);
  await store.close();
  if (older === undefined || newer === undefined) throw new Error('the workload wrote no records');
  expect((await imagesIn(bench.fs, dir)).lsns).toEqual([newer.lsn, older.lsn]);
  return { older, newer, reads };
}

describe('images that fail a check are skipped', () => {
  it('a damaged newest image (a byte flipped anywhere, truncated, a trailer byte) is rejected with a reason, the older one loaded', async () => {
    const bench = new Bench(seed);
    const fs = bench.fs;
    const { older, newer, reads } = await twoImages(bench, DIR);
    const path = `${DIR}/${IMAGES_DIR}/${newer.file}`;
    const good = await fs.readFile(path);

    /** Opens with `bytes` as the newest image; it must be rejected and the older one loaded. */
    const expectFallback = async (what: string, bytes: Uint8Array, reason?: RegExp): Promise<void> => {
      await writeFile(fs, path, bytes);
      const store = await bench.open(DIR, { images: { onClose: false } });
      try {
        expect(store.replay.image.rejected, what).toEqual([{ file: newer.file, reason: expect.stringMatching(reason ?? /./) }]);
        expect(store.replay.image.loaded?.file, what).toBe(older.file);
        expect(store.replay.fromLsn, what).toBe(older.lsn + 1);
        expectSameAnswers(await bench.reads(store), reads, what);
      } finally {
        await store.close();
      }
    };

    // The undamaged file loads.
    const intact = await bench.open(DIR, { images: { onClose: false } });
    expect(intact.replay.image).toMatchObject({ loaded: { file: newer.file }, rejected: [] });
    await intact.close();

    const flipAt = (offset: number): Uint8Array => {
      const bytes = good.slice();
      bytes[offset] = (bytes[offset] as number) ^ 0xff;
      return bytes;
    };
    // One byte flipped: the first and last bytes, every 97th byte, and some from the seed.
    const offsets = new Set<number>([0, good.length - 1]);
    for (let at = 0; at < good.length; at += 211) offsets.add(at);
    for (const at of fc.sample(fc.integer({ min: 0, max: good.length - 1 }), { seed, numRuns: 20 })) offsets.add(at);
    for (const at of offsets) await expectFallback(`byte ${at} of ${good.length} flipped`, flipAt(at));

    // Truncated.
    for (const length of [0, 1, 127, 128, Math.floor(good.length / 2), good.length - 108, good.length - 1]) {
      await expectFallback(`truncated to ${length} bytes`, good.slice(0, length));
    }
    // One byte longer.
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    await expectFallback('one byte appended', longer);

    // The trailer (the last 108 bytes: magic, public key, signature, CRC): a byte flipped fails its CRC...
    const trailerAt = good.length - 108;
    for (const at of [trailerAt, trailerAt + 8, trailerAt + 40, trailerAt + 103, good.length - 1]) {
      await expectFallback(`trailer byte ${at - trailerAt} flipped`, flipAt(at), /trailer/);
    }
    // ...and one flipped under a valid CRC fails what the byte belongs to.
    const resealed = (at: number): Uint8Array => {
      const body = good.slice(trailerAt, trailerAt + 104);
      body[at] = (body[at] as number) ^ 0x01;
      const bytes = good.slice();
      bytes.set(sealTrailer(body), trailerAt);
      return bytes;
    };
    await expectFallback('trailer magic changed, CRC resealed', resealed(0), /trailer is malformed/);
    await expectFallback('trailer public key changed, CRC resealed', resealed(8), /another node key/);
    await expectFallback('trailer signature changed, CRC resealed', resealed(40), /signature does not verify/);
    await expectFallback('trailer signature changed, CRC resealed', resealed(103), /signature does not verify/);

    // Both damaged: both rejected, newest first, and the whole log replayed.
    await writeFile(fs, path, flipAt(200));
    const olderPath = `${DIR}/${IMAGES_DIR}/${older.file}`;
    const olderGood = await fs.readFile(olderPath);
    const olderBad = olderGood.slice();
    olderBad[olderBad.length - 60] = (olderBad[olderBad.length - 60] as number) ^ 0x10;
    await writeFile(fs, olderPath, olderBad);
    const none = await bench.open(DIR, { images: { onClose: false } });
    expect(none.replay.image.rejected.map((r) => r.file)).toEqual([newer.file, older.file]);
    expect(none.replay.image.loaded).toBeUndefined();
    expect(none.replay.fromLsn).toBe(1);
    expectSameAnswers(await bench.reads(none), reads, 'both damaged');
    await none.close();
  }, 60_000);

  it('an image of another directory (same chain and key), of another chain, or signed by another node key is rejected; the log is replayed in full', async () => {
    const bench = new Bench(seed + 1);
    const fs = bench.fs;
    // The directory under test: a longer history, no image of its own.
    const main = await bench.open(DIR, { images: { onClose: false } });
    await runAll(main, sampleOps(60, 20));
    const reads = await bench.reads(main);
    const mainNext = main.log.nextLsn;
    await main.close();
    expect((await imagesIn(fs, DIR)).lsns).toEqual([]);

    /** A shorter history in `dir`, opened with `o`, and its image. */
    const foreign = async (dir: string, o: Overrides, offset: number): Promise<WrittenImage> => {
      const store = await bench.open(dir, { ...o, images: { onClose: false } });
      await runAll(store, sampleOps(15, offset));
      const image = await takeImage(store, false);
      await store.close();
      if (image === undefined) throw new Error('no image');
      expect(image.lsn, 'the foreign image is at an LSN the directory under test holds').toBeLessThan(mainNext);
      return image;
    };
    const cases: [string, Overrides, RegExp][] = [
      ['/other-dir', {}, /is not the one the image was taken after/],
      ['/other-chain', { chainId: 'another-chain' }, /image is of chain "another-chain"/],
      ['/other-key', { audit: { nodeKey: nodeKey(8) } }, /signed by another node key/],
    ];
    for (const [i, [dir, o, reason]] of cases.entries()) {
      const image = await foreign(dir, o, 21 + i);
      // In its own directory it loads.
      const own = await bench.open(dir, { ...o, images: { onClose: false } });
      expect(own.replay.image.loaded?.file, dir).toBe(image.file);
      await own.close();

      const into = `${DIR}/${IMAGES_DIR}/${image.file}`;
      await fs.mkdir(`${DIR}/${IMAGES_DIR}`);
      await writeFile(fs, into, await fs.readFile(`${dir}/${IMAGES_DIR}/${image.file}`));
      await fs.syncDir(`${DIR}/${IMAGES_DIR}`);
      const store = await bench.open(DIR, { images: { onClose: false } });
      expect(store.replay.image.rejected, dir).toEqual([{ file: image.file, reason: expect.stringMatching(reason) }]);
      expect(store.replay.image.loaded, dir).toBeUndefined();
      expect(store.replay.fromLsn, dir).toBe(1);
      expectSameAnswers(await bench.reads(store), reads, dir);
      await store.close();
      await fs.unlink(into);
      await fs.syncDir(`${DIR}/${IMAGES_DIR}`);
    }
  }, 60_000);
});

describe('image and snapshot options', () => {
  it('every option out of range, of a wrong type or unknown is INVALID_ARGUMENT and creates nothing', async () => {
    const bench = new Bench(seed);
    const bad: [string, Overrides][] = [];
    const group = (name: 'images' | 'snapshots', values: Record<string, unknown[]>): void => {
      for (const [key, list] of Object.entries(values)) {
        for (const value of list) bad.push([`options.${name}.${key}`, { [name]: { [key]: value } } as Overrides]);
      }
      bad.push([`options.${name}.bogus`, { [name]: { bogus: 1 } } as Overrides]);
      for (const value of [5, 'x', true, null, []]) bad.push([`options.${name}`, { [name]: value } as unknown as Overrides]);
    };
    const notInts = [1.5, '5', NaN, Infinity, null, true, 10n, {}];
    group('images', {
      everyRecords: [-1, 2 ** 53, ...notInts],
      keep: [0, 17, -1, ...notInts],
      onClose: [0, 1, 'true', null, {}],
      load: [0, 'false', null, []],
    });
    group('snapshots', {
      interval: [-1, 2 ** 53, ...notInts],
      keep: [0, 1001, ...notInts],
      chunkSize: [0, 4095, (16 << 20) + 1, ...notInts],
      certificateHeights: [0, 1_000_001, ...notInts],
    });
    // A misspelt key of each, near a real one.
    bad.push(['options.images.onclose', { images: { onclose: true } } as Overrides]);
    bad.push(['options.snapshots.intervals', { snapshots: { intervals: 5 } } as Overrides]);
    for (const [i, [name, o]] of bad.entries()) {
      const dir = `/bad-${i}`;
      const err = await openStore({ chainId: AUDIT_CHAIN, audit: { nodeKey: AUDIT_KEY }, ...o, dir, fs: bench.fs }).then(
        (store) => store.close().then(() => undefined),
        (e: unknown) => e,
      );
      const label = `${name} = ${String(JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)))}`;
      expect(isStoreError(err, 'INVALID_ARGUMENT'), label).toBe(true);
      expect((err as Error).message, label).toContain(name);
      expect(await bench.fs.stat(dir), label).toBeUndefined();
    }
    expect(bench.disk.listFiles()).toEqual([]);
  });
});

describe('images.keep', () => {
  for (const keep of [1, 2, 3]) {
    it(`keeps the newest ${keep}`, async () => {
      const bench = new Bench(seed + keep);
      const fs = bench.fs;
      let store = await bench.open(DIR, { images: { keep } });
      const taken: number[] = [];
      for (let i = 0; i < 5; i++) {
        await runAll(store, sampleOps(3, 30 + i));
        const image = await takeImage(store, false);
        if (image === undefined) throw new Error('no image');
        taken.push(image.lsn);
        expect(await imagesIn(fs, DIR), `after image ${i + 1}`).toEqual({ lsns: taken.slice(-keep).reverse(), others: [] });
      }
      // The image at close counts too, and a reopen loads the newest.
      await runAll(store, sampleOps(3, 40));
      taken.push(store.log.nextLsn - 1);
      await store.close();
      expect(await imagesIn(fs, DIR), 'after close').toEqual({ lsns: taken.slice(-keep).reverse(), others: [] });
      store = await bench.open(DIR, { images: { keep } });
      expect(store.replay.image.loaded?.lsn).toBe(taken[taken.length - 1]);
      await store.close();
    });
  }
});

describe('close', () => {
  it('writes after close() reject CLOSED, also while the close-time image is being written', async () => {
    const bench = new Bench(seed);
    const base = bench.fs;
    let duringImage: (() => Promise<void>) | undefined;
    let imageWrites = 0;
    // Calls `duringImage` when the image's temporary file is opened: the close-time image is being written.
    const fs = delegatingFs(base, {
      open: async (p, m, o) => {
        if (p.endsWith('.csimg.tmp')) {
          imageWrites++;
          await duringImage?.();
        }
        return base.open(p, m, o);
      },
    });
    const store = await bench.open(DIR, {}, fs);
    await runAll(store, [
      { op: 'register', v: 0, height: 1, stake: 10 },
      { op: 'vote', v: 0, height: 1, round: 1, type: 'prevote', hash: 1 },
      { op: 'round', height: 1, round: 1, phase: 0 },
    ]);
    const lastLsn = store.log.nextLsn - 1;
    // A write of every kind, each valid on an open store.
    const writes = (): Promise<unknown>[] => [
      outcome(() => store.votes.appendVote(signedVote(0, 1, 1, 'precommit', 1))),
      outcome(() => store.votes.markFinalized(1, 1)),
      outcome(() => store.signGuard.signVote(unsignedVote({ op: 'sign', height: 5, round: 5, type: 'prevote', hash: 1, time: 0 }))),
      outcome(() => store.signGuard.importWatermark({ height: 6, round: 6, step: 'prevote' })),
      outcome(() => store.rounds.saveRoundState({ height: 2, round: 2, phase: 'propose', startedAt: 1, updatedAt: 1 })),
      outcome(() => store.rounds.pruneBeforeHeight(1)),
      outcome(() => store.validators.registerValidator({ validatorId: 'val-1', publicKey: nodeKey(101).publicKey, stake: 5n }, 2)),
      outcome(() => store.validators.updateStake('val-0', 20n, 2)),
      outcome(() => store.validators.updateStatus('val-0', 'jailed', 2, 'ops')),
      outcome(() => store.audit.logEvent({ type: 'RoundStarted', height: 2, round: 2, proposer: null })),
      outcome(() => store.rewards.recordDistribution({ height: 2, timestamp: CLOCK_START, treasuryBefore: 10n, treasuryAfter: 9n, totalDistributed: 1n, lines: [{ validatorId: 'val-0', reason: 'BlockProposal', amount: 1n }] })),
      outcome(() => store.evidence.pruneExpired({ currentHeight: 10, now: CLOCK_START, maxAgeBlocks: 1, maxAgeMs: 0 })),
      outcome(() => store.snapshots.createSnapshot()),
    ];
    const closedAll = (results: unknown[]): void => {
      for (const [i, r] of results.entries()) expect(r, `write ${i}`).toEqual({ error: 'CLOSED' });
    };
    let during: unknown[] | undefined;
    duringImage = async () => {
      expect(store.status).toBe('closing');
      during = await Promise.all(writes());
    };
    const closing = store.close();
    // Right after close() was called, before anything of it ran.
    const atOnce = writes();
    await closing;
    closedAll(await Promise.all(atOnce));
    expect(imageWrites, 'the close took an image').toBe(1);
    expect(during, 'writes were tried while the image was written').toBeDefined();
    closedAll(during ?? []);
    closedAll(await Promise.all(writes()));
    // Nothing of them reached the log; the image holds what was there at close.
    duringImage = undefined;
    const reopened = await bench.open(DIR);
    expect(reopened.log.nextLsn).toBe(lastLsn + 1);
    expect(reopened.replay.image.loaded?.lsn).toBe(lastLsn);
    expect(await reopened.validators.getValidator('val-1')).toBeUndefined();
    await reopened.close();
  });
});
