/**
 * The pieces every simulated scenario shares: one run's disk, crash probe, workload and
 * violations; opening the store on the simulated disk; settling in-flight calls with a
 * watchdog (a call that never settles after a power cut is a violation, not a hang); cutting
 * power; reopening and checking.
 *
 * It must never let an unexpected error pass silently: anything a scenario did not expect is
 * recorded as a problem with the run's seed.
 */
import { isStoreError } from '../../src/errors.ts';
import { Prng } from '../../src/io/prng.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import { openStore, writableLogOf, type ConsensusStore } from '../../src/store.ts';
import { openLog } from '../../src/log/wal.ts';
import { readManifest } from '../../src/log/manifest.ts';
import type { LogRecord } from '../../src/log/types.ts';
import { newestSignStateSlot } from '../../src/codec/sign-state-slot.ts';
import { SIGN_STATE_FILE } from '../../src/stores/sign-state-file.ts';
import { SIGN_STEPS, type SignWatermark } from '../../src/model/sign.ts';
import { FUZZ_CHAIN_ID, keyOf, OWN_ID } from '../keys.ts';
import type { Tally } from '../report.ts';
import { checkStore } from './check.ts';
import { CrashProbe } from './probe-fs.ts';
import { drawShape, Workload } from './workload.ts';

/** The data directory of every simulated run. */
export const SIM_DIR = '/data';
/** How long in-flight calls may take to settle after a cut before it counts as a hang (ms). */
const SETTLE_TIMEOUT_MS = 20_000;

/**
 * What a run exercises besides the log and the seven stores, drawn from a Prng of its own (so
 * that the older draws of a run seed, and the regression seeds, stay as they were):
 * - `images`: local images taken at random moments while writes are in flight, kept 1-3 deep
 *   (the workload then writes no raw probe batches: taking the writable log turns images off);
 * - `snapshots`: other validators' precommits really signed, portable snapshots created
 *   (explicitly and every few finalized heights) and pruned while writes go on.
 */
export interface RunFeatures {
  readonly images: boolean;
  readonly imageKeep: number;
  readonly snapshots: boolean;
  /** `snapshots.interval`: automatic snapshots every this many finalized heights (0: none). */
  readonly snapshotInterval: number;
  /**
   * Bounded history (docs/stores.md, "Bounded history"): `openStore({ retention })` with a small
   * window, compactions in the background and `store.compact()` at seeded moments; undefined:
   * the default retention (nothing is ever compacted in a run this short).
   */
  readonly retention: { readonly hotHeights: number; readonly compactEvery: number } | undefined;
}

/**
 * Features a caller turns off: `retention: false` replays a run seed as it ran before the
 * retention feature existed (the regression seeds found then keep their path).
 */
export interface FeatureOverrides {
  readonly retention?: boolean;
}

/** Share of the runs (other than `restore`) with the `retention` feature. */
export const RETENTION_SHARE = 0.4;

/** The retention feature of a run seed, from a Prng of its own (seed + 2^45: the older draws stay as they were). */
export function drawRetention(seed: number, scenario?: string): RunFeatures['retention'] {
  if (scenario === 'restore') return undefined;
  const p = new Prng(seed + 2 ** 45);
  if (!p.bool(RETENTION_SHARE)) return undefined;
  return { hotHeights: p.int(3, 6), compactEvery: p.int(1, 3) };
}

/**
 * The features of a run seed. The `restore` scenario always signs precommits (its source makes
 * a snapshot) and takes no automatic snapshots (it makes its own).
 */
export function drawFeatures(seed: number, scenario?: string, overrides?: FeatureOverrides): RunFeatures {
  const p = new Prng(seed + 2 ** 41);
  const images = p.bool(0.5);
  const snapshots = p.bool(0.3);
  const imageKeep = p.int(1, 3);
  if (scenario === 'restore') return { images, imageKeep, snapshots: true, snapshotInterval: 0, retention: undefined };
  // A compaction's release needs the images (the log's older segments are read back from them),
  // and the writable log a probe batch takes turns images off: a retention run takes images.
  const retention = overrides?.retention === false ? undefined : drawRetention(seed, scenario);
  return { images: images || retention !== undefined, imageKeep, snapshots, snapshotInterval: snapshots ? p.pick([0, 3, 5]) : 0, retention };
}

/** One simulated run's state. */
export class SimRun {
  readonly seed: number;
  readonly prng: Prng;
  /** Draws for the image and snapshot parts of the run (apart from `prng`, see `RunFeatures`). */
  readonly extra: Prng;
  readonly features: RunFeatures;
  readonly disk: SimulatedDisk;
  readonly probe: CrashProbe;
  readonly workload: Workload;
  readonly tally: Tally;
  readonly segmentSize: number;
  readonly problems: string[] = [];
  store: ConsensusStore | undefined;
  /** Accept a log without the key's watermark (after an explicit repair may have cut it). */
  allowFresh = false;
  readonly #noted = new WeakSet<ConsensusStore>();
  /** The newest acknowledged image when each store was opened (what its open should have loaded, at least). */
  readonly #imageAtOpen = new WeakMap<ConsensusStore, number | undefined>();
  /** Image files the corrupt scenario damaged (the open must skip them). */
  readonly damagedImages = new Set<string>();
  /** The id of the snapshot the corrupt scenario damaged. */
  damagedSnapshot: string | undefined;
  /** The corrupt scenario damaged some file (an older image may then be loaded). */
  damageDone = false;

  constructor(seed: number, tally: Tally, scenario?: string, overrides?: FeatureOverrides) {
    this.seed = seed;
    this.prng = new Prng(seed);
    this.disk = new SimulatedDisk({ seed: this.prng.nextU32(), tearInterruptedWrites: true });
    this.probe = new CrashProbe(this.disk);
    this.features = drawFeatures(seed, scenario, overrides);
    this.extra = new Prng(seed + 2 ** 42);
    const fork = this.prng.fork();
    const shape = drawShape(this.prng);
    // A retention run finalizes one more height per wave, so that its window moves and compactions happen.
    const shaped = this.features.retention === undefined ? shape : { ...shape, heightsPerWave: shape.heightsPerWave + 1 };
    this.workload = new Workload(fork, shaped, { ...this.features, prng: this.extra, crashes: () => this.disk.stats.crashes, tally: (kind) => tally.fault(kind) });
    this.tally = tally;
    this.segmentSize = this.prng.pick([4096, 4096, 8192, 16384]);
  }

  /** Opens the store on the disk's current state (throws what openStore throws). */
  async open(repair = false, loadImages = true): Promise<ConsensusStore> {
    const model = this.workload.model;
    const newestImage = model.newestImage();
    // After a repair that kept the batches after its damage the log may hold a newer signature
    // than the SIGNSTATE copy (written after the log record): importing the copy then goes back
    // in round (CONFLICT); the operator imports the higher of the two (`cstore sign-state
    // export` gives it), which is what the log already holds: open with no import then.
    const open = (withImport: boolean): Promise<ConsensusStore> => openStore({
      dir: SIM_DIR,
      // No background images (their timer is a clock): the workload takes them at seeded moments.
      images: { everyRecords: 0, keep: this.features.imageKeep, load: loadImages },
      // A retention run's automatic snapshots carry 2 heights of certificates (the compactor keeps
      // what they read hot: with the default 1,000 nothing would ever go cold).
      snapshots: { interval: this.features.snapshotInterval, keep: 2, chunkSize: 4096, ...(this.features.retention === undefined ? {} : { certificateHeights: 2 }) },
      ...(this.features.retention === undefined ? {} : { retention: this.features.retention }),
      fs: this.probe.fs(),
      chainId: FUZZ_CHAIN_ID,
      // The workload's peer votes carry deliberately random signatures: the fuzzer tests the
      // storage path, so votes are stored unverified (docs/stores.md, "Vote verification").
      voteVerification: 'off',
      signer: {
        privateKey: keyOf(OWN_ID).privateKey,
        validatorId: OWN_ID,
        state: model.lastRelease === undefined ? 'new-key' : 'existing-key',
        allowFreshState: this.allowFresh,
        ...(this.allowFresh && withImport ? copiedWatermark(this.disk) : {}),
      },
      now: this.workload.clock.now,
      log: { segmentSize: this.segmentSize, repair },
    });
    const store = await open(true).catch((err: unknown) => {
      if (this.allowFresh && isStoreError(err, 'CONFLICT') && /goes back in round/.test(err.message)) return open(false);
      throw err;
    });
    this.store = store;
    this.#imageAtOpen.set(store, loadImages ? newestImage : undefined);
    this.workload.attach(store);
    return store;
  }

  /** Counts a power cut: the armed call's kind if the arm fired, else `fallback`. */
  countCut(fallback: string): void {
    this.tally.crash(this.probe.hitKind ?? fallback);
    this.probe.hitKind = undefined;
  }

  /** Cuts power now (if the armed cut did not already) and marks in-flight writes as unknown. */
  cut(kind: string): void {
    this.disk.crash();
    this.probe.disarm();
    this.workload.model.powerCut();
    this.tally.crash(kind);
  }

  /** Waits for `calls` to settle; a hang is a problem. */
  async settle(calls: readonly Promise<unknown>[], what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const hung = await Promise.race([
      Promise.allSettled(calls).then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), SETTLE_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (hung) this.problems.push(`${what}: calls did not settle within ${SETTLE_TIMEOUT_MS} ms (hang)`);
  }

  /** Closes the current store cleanly (errors propagate) and forgets it. */
  async close(): Promise<void> {
    const store = this.store;
    this.store = undefined;
    await store?.close();
  }

  /** Closes the current store, ignoring errors of a store whose disk lost power. */
  async dropStore(): Promise<void> {
    const store = this.store;
    this.store = undefined;
    if (store !== undefined) await this.settle([store.close().catch(() => undefined)], 'close after cut');
  }

  /**
   * Reopens after a cut; sometimes cuts power again in the middle of the open (a crash point
   * during recovery, tail repair, segment or manifest creation). The final open must succeed.
   */
  async reopen(repair = false, crashOpenRate = 0.3): Promise<ConsensusStore | undefined> {
    if (this.prng.bool(crashOpenRate)) {
      this.probe.phase = repair ? 'repair' : 'open';
      this.probe.arm(this.prng.int(1, 60));
      const crashesBefore = this.disk.stats.crashes;
      try {
        await this.open(repair);
      } catch (err) {
        if (this.disk.stats.crashes === crashesBefore) this.problems.push(`open failed without a power cut: ${describe(err)}`);
      }
      this.probe.phase = 'run';
      if (this.disk.stats.crashes > crashesBefore) {
        this.countCut(repair ? 'repair:other' : 'open:other');
        this.workload.model.powerCut();
        await this.dropStore();
      } else {
        this.probe.disarm();
        if (this.store !== undefined) return this.store;
      }
    }
    try {
      return await this.open(repair);
    } catch (err) {
      this.problems.push(`reopen after a power cut failed (D5: the open never fails on a torn tail): ${describe(err)}`);
      return undefined;
    }
  }

  /**
   * Runs every check on the open store; counts what it verified. `damaged`: a file the corrupt
   * scenario damaged that the open did not read (an image covered it): reads may find it.
   */
  async check(lostFrom = Infinity, last = false, damaged?: string, gap?: { first: number; last: number }): Promise<void> {
    const store = this.store;
    if (store === undefined) return;
    try {
      this.noteImages(store, lostFrom);
      await this.noteCold();
      const result = await checkStore(store, this.workload.model, {
        lostFrom,
        auditChain: last || this.prng.bool(0.2),
        // A run without images scans the store's own log (cheaper); taking it turns images off.
        scanLog: (visit) => (this.features.images ? scanDiskLog(this.disk, this.segmentSize, visit) : writableLogOf(store).scan(visit)),
        ...(damaged === undefined ? {} : { damaged }),
        ...(gap === undefined ? {} : { gap }),
      });
      this.tally.ackedChecked += result.checked;
      this.tally.checks++;
      for (let i = 0; i < result.foundOnRead; i++) this.tally.fault('corrupt:found-on-read');
      this.problems.push(...result.problems);
      if (this.features.snapshots || this.damagedSnapshot !== undefined) await this.workload.checkSnapshots(store, this.problems, this.damagedSnapshot);
    } catch (err) {
      this.problems.push(`check threw: ${describe(err)}`);
    }
    this.problems.push(...this.workload.problems.splice(0));
  }

  /** Retention runs: whether this check reads across both tiers (cold files committed, hot segments released). */
  async noteCold(): Promise<void> {
    if (this.features.retention === undefined) return;
    const cold = coldFiles(this.disk);
    this.tally.fault(cold.length === 0 ? 'retention:check-hot-only' : 'retention:check-across-tiers');
    const manifest = await readManifest(this.disk.fs(), SIM_DIR);
    if ((manifest?.sealed[0]?.firstLsn ?? manifest?.baseLsn ?? 1) > 1) this.tally.fault('retention:check-after-release');
  }

  /**
   * What the open did with the images: loaded (tallied), and none rejected for anything but a
   * log that no longer holds its record (a power cut lost it) unless the run damaged files on
   * purpose: an image is written to a temp file, synced and renamed, so a cut never tears one.
   */
  noteImages(store: ConsensusStore, lostFrom = Infinity): void {
    // Once per open: a live check (eio, enospc) sees the report of an open long past.
    if (this.#noted.has(store)) return;
    this.#noted.add(store);
    const report = store.replay.image;
    this.tally.fault(report.loaded === undefined ? 'image:open-replayed-all' : 'image:open-loaded');
    for (const r of report.rejected) {
      const benign = /beyond the log's last record|is not the one the image was taken after|is not in the log|after records a repair dropped/.test(r.reason);
      const damaged = this.damagedImages.has(`${SIM_DIR}/images/${r.file}`);
      this.tally.fault(benign ? 'image:rejected-log-moved' : damaged ? 'image:rejected-damaged' : 'image:rejected-other');
      if (!benign && !damaged) this.problems.push(`image ${r.file} rejected though nothing damaged it: ${r.reason}`);
    }
    if (report.loaded !== undefined && this.damagedImages.has(`${SIM_DIR}/images/${report.loaded.file}`)) {
      this.problems.push(`the open loaded the damaged image ${report.loaded.file}`);
    }
    const newest = this.#imageAtOpen.get(store);
    if (newest !== undefined && !this.damageDone && lostFrom === Infinity && (report.loaded?.lsn ?? 0) < newest && store.log.nextLsn > newest) {
      this.problems.push(`the open loaded ${report.loaded?.file ?? 'no image'} though the image at LSN ${newest} was acknowledged (rejected: ${JSON.stringify(report.rejected)})`);
    }
  }
}

/**
 * Scans the durable log as the live store sees it, in LSN order, without the store's writable
 * log (taking it turns local images off for the open): the data directory's MANIFEST and
 * segments are copied to a fresh simulated disk and opened there.
 */
export async function scanDiskLog(disk: SimulatedDisk, segmentSize: number, visit: (record: LogRecord) => void): Promise<void> {
  const copy = new SimulatedDisk({ seed: 1 });
  const fs = copy.fs();
  await fs.mkdir(SIM_DIR);
  await fs.mkdir(`${SIM_DIR}/wal`);
  for (const path of disk.listFiles()) {
    if (path !== `${SIM_DIR}/MANIFEST` && !(path.startsWith(`${SIM_DIR}/wal/`) && path.endsWith('.wal'))) continue;
    const bytes = disk.readFileNow(path);
    if (bytes === undefined) continue;
    const h = await fs.open(path, 'create');
    await h.write([bytes], 0);
    await h.close();
  }
  const log = await openLog({ dir: SIM_DIR, fs, segmentSize });
  try {
    await log.scan(visit);
  } finally {
    await log.close();
  }
}

/** The cold files on the disk now (docs/format.md, "Cold files"), the manifest not included. */
export function coldFiles(disk: SimulatedDisk): string[] {
  return disk.listFiles().filter((p) => p.startsWith(`${SIM_DIR}/cold/`) && p.endsWith('.cold')).sort();
}

/** A one-line description of an error. */
export function describe(err: unknown): string {
  if (isStoreError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * After an explicit repair the operator imports the key's watermark; the sign guard's own copy
 * (SIGNSTATE, read here as an operator's tool would) holds the newest one this node signed.
 */
function copiedWatermark(disk: SimulatedDisk): { importWatermark?: SignWatermark } {
  const bytes = disk.readDurableNow(`${SIM_DIR}/${SIGN_STATE_FILE}`);
  if (bytes === undefined) return {};
  const newest = newestSignStateSlot(bytes)?.slot;
  if (newest === undefined) return {};
  return { importWatermark: { height: newest.height, round: newest.round, step: SIGN_STEPS[newest.step - 1]! } };
}
