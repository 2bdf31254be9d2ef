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
import { openStore, type ConsensusStore } from '../../src/store.ts';
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

/** One simulated run's state. */
export class SimRun {
  readonly seed: number;
  readonly prng: Prng;
  readonly disk: SimulatedDisk;
  readonly probe: CrashProbe;
  readonly workload: Workload;
  readonly tally: Tally;
  readonly segmentSize: number;
  readonly problems: string[] = [];
  store: ConsensusStore | undefined;
  /** Accept a log without the key's watermark (after an explicit repair may have cut it). */
  allowFresh = false;

  constructor(seed: number, tally: Tally) {
    this.seed = seed;
    this.prng = new Prng(seed);
    this.disk = new SimulatedDisk({ seed: this.prng.nextU32(), tearInterruptedWrites: true });
    this.probe = new CrashProbe(this.disk);
    this.workload = new Workload(this.prng.fork(), drawShape(this.prng));
    this.tally = tally;
    this.segmentSize = this.prng.pick([4096, 4096, 8192, 16384]);
  }

  /** Opens the store on the disk's current state (throws what openStore throws). */
  async open(repair = false): Promise<ConsensusStore> {
    const model = this.workload.model;
    const store = await openStore({
      dir: SIM_DIR,
      fs: this.probe.fs(),
      chainId: FUZZ_CHAIN_ID,
      signer: {
        privateKey: keyOf(OWN_ID).privateKey,
        validatorId: OWN_ID,
        state: model.lastRelease === undefined ? 'new-key' : 'existing-key',
        allowFreshState: this.allowFresh,
        ...(this.allowFresh ? copiedWatermark(this.disk) : {}),
      },
      now: this.workload.clock.now,
      log: { segmentSize: this.segmentSize, repair },
    });
    this.store = store;
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

  /** Runs every check on the open store; counts what it verified. */
  async check(lostFrom = Infinity, last = false): Promise<void> {
    const store = this.store;
    if (store === undefined) return;
    try {
      const result = await checkStore(store, this.workload.model, lostFrom, last || this.prng.bool(0.2));
      this.tally.ackedChecked += result.checked;
      this.tally.checks++;
      this.problems.push(...result.problems);
    } catch (err) {
      this.problems.push(`check threw: ${describe(err)}`);
    }
    this.problems.push(...this.workload.problems.splice(0));
  }
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
