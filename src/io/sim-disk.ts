/**
 * The simulated disk (D9, docs/durability.md): an in-memory file system that every crash test runs on. It
 * keeps written-but-unsynced data apart from durable data and, from one seed, can cut power at
 * any call (losing, keeping or tearing what was not synced), fail calls with EIO or ENOSPC,
 * run out of space, flip bits and overwrite ranges.
 *
 * Same seed and same sequence of calls give the same states, byte for byte. This file must
 * never use timers, clocks, `Math.random` or `node:fs`; views resolve on microtasks.
 *
 * The model in short (see `sim-crash.ts` for the crash rules):
 * - files are inodes with durable and current content; writes and truncates go to the current
 *   content and are pending until `datasync` (or the sync half of `writeAndSync`);
 * - creates, renames, unlinks and mkdirs are pending in their parent directory until
 *   `syncDir` of it; an inode that no durable entry names is gone after a crash;
 * - a crash decides the fate of everything pending, then makes current = durable, releases
 *   every lock and kills every view and handle taken before it (their calls reject EIO).
 */
import { Prng } from './prng.ts';
import { resolveCrash } from './sim-crash.ts';
import { SIM_OPS, SimFileSystem, type SimGate, type SimOp } from './sim-fs.ts';
import type { FileInode } from './sim-inode.ts';
import { SimVolume } from './sim-volume.ts';
import { ErrnoError, type FileSystem } from './types.ts';

export { SIM_OPS, type SimOp } from './sim-fs.ts';

/** How to build a SimulatedDisk. */
export interface SimDiskOptions {
  /** Seed of every random decision (crash fates, default flipped bits). Any finite number. */
  seed: number;
  /** Total bytes of file content allowed (linked or open files); beyond it writes reject ENOSPC. Default unlimited. */
  capacityBytes?: number;
  /**
   * When a power cut armed by `crashAtCall` falls on a `write` or `writeAndSync`, let the data
   * of that call reach the page cache first (space permitting), so that the crash may lose,
   * keep or tear it like any pending write. This is what a real power cut in the middle of a
   * write does, and the only way a crash-point enumeration over a `writeAndSync` commit path
   * produces torn tails. Default false: the interrupted call takes no effect at all.
   */
  tearInterruptedWrites?: boolean;
}

/** Counters of what the disk did; a snapshot is returned by `SimulatedDisk.stats`. */
export interface SimDiskStats {
  /** Calls made on live views and handles (same as `callCount`). */
  calls: number;
  /** Power cuts, explicit or armed. */
  crashes: number;
  /** Pending writes dropped whole by crashes. */
  writesLost: number;
  /** Pending writes kept whole by crashes. */
  writesKept: number;
  /** Pending writes torn at sector boundaries by crashes. */
  writesTorn: number;
  /** Pending directory entry changes dropped by crashes. */
  dirOpsLost: number;
  /** Pending directory entry changes kept by crashes. */
  dirOpsKept: number;
  /** Injected faults delivered, keyed `op:CODE` (e.g. `datasync:EIO`). */
  faultsInjected: Record<string, number>;
  /** Bits flipped by `flipBit`. */
  bitFlips: number;
  /** Calls rejected ENOSPC because the capacity was reached (not counting injected ones). */
  capacityRejections: number;
}

type FaultCode = 'EIO' | 'ENOSPC';

/**
 * A seeded, in-memory disk with power cuts and faults. Take a `FileSystem` with `fs()`, run the
 * code under test on it, `crash()` (or arm `crashAtCall`), take a fresh `fs()` and check what
 * survived.
 */
export class SimulatedDisk {
  readonly #volume: SimVolume;
  readonly #crashPrng: Prng;
  readonly #bitPrng: Prng;
  readonly #tearInterrupted: boolean;
  readonly #locks = new Map<string, object>();
  readonly #faults = new Map<SimOp, FaultCode[]>();
  readonly #stats: SimDiskStats = {
    calls: 0, crashes: 0, writesLost: 0, writesKept: 0, writesTorn: 0,
    dirOpsLost: 0, dirOpsKept: 0, faultsInjected: {}, bitFlips: 0, capacityRejections: 0,
  };
  readonly #gate: SimGate;
  #epoch = 0;
  #crashAt: number | undefined;

  /**
   * @throws RangeError when the seed is not finite or the capacity not a non-negative safe integer.
   */
  constructor(options: SimDiskOptions) {
    checkCapacity(options.capacityBytes);
    this.#crashPrng = new Prng(options.seed);
    this.#bitPrng = this.#crashPrng.fork();
    this.#volume = new SimVolume(options.capacityBytes);
    this.#tearInterrupted = options.tearInterruptedWrites ?? false;
    this.#gate = {
      volume: this.#volume,
      locks: this.#locks,
      enter: (op, syscall, path, epoch, interrupted) => this.#enter(op, syscall, path, epoch, interrupted),
      takeFault: (op) => this.#takeFault(op),
    };
  }

  /**
   * A FileSystem on the disk's current state. Views taken before a crash are dead: every call on
   * them (and on their FileHandles) rejects with ErrnoError `EIO` and is not counted.
   */
  fs(): FileSystem {
    return new SimFileSystem(this.#gate, this.#epoch);
  }

  /**
   * Cuts power now: decides, from the seed, the fate of everything not yet durable, releases all
   * locks, kills all existing views and handles, and disarms `crashAtCall`. Injected faults stay.
   */
  crash(): void {
    resolveCrash(this.#volume, this.#crashPrng, this.#stats);
    this.#locks.clear();
    this.#epoch++;
    this.#crashAt = undefined;
    this.#stats.crashes++;
  }

  /**
   * Arms a power cut: the n-th I/O call from now (n >= 1) does not take effect (but see
   * `tearInterruptedWrites`); the disk crashes at that moment, as `crash()`, and that call and
   * all later calls on old views reject EIO. Arming again replaces the previous arm.
   * @throws RangeError when n is not a positive safe integer.
   */
  crashAtCall(n: number): void {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`crashAtCall needs n >= 1, got ${n}`);
    this.#crashAt = this.#stats.calls + n;
  }

  /** Total I/O calls made on live views and handles so far (the crash-point numbering). */
  get callCount(): number {
    return this.#stats.calls;
  }

  /**
   * Makes the next `count` (default 1) calls of `op` reject with `code` and take no effect.
   * For `write`/`writeAndSync` with ENOSPC nothing is written. For `writeAndSync` with EIO the
   * write part happens (and stays unsynced) and the sync fails. A faulted `close` still closes.
   * Faults queue up in the order injected.
   * @throws RangeError on an unknown op or code, or a count that is not a positive safe integer.
   */
  injectFault(op: SimOp, code: FaultCode, count = 1): void {
    if (!SIM_OPS.includes(op)) throw new RangeError(`unknown SimOp ${String(op)}`);
    if (code !== 'EIO' && code !== 'ENOSPC') throw new RangeError(`unknown fault code ${String(code)}`);
    if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`fault count must be >= 1, got ${count}`);
    const queue = this.#faults.get(op) ?? [];
    for (let i = 0; i < count; i++) queue.push(code);
    this.#faults.set(op, queue);
  }

  /** Drops every injected fault not yet delivered. */
  clearFaults(): void {
    this.#faults.clear();
  }

  /**
   * Changes the capacity (undefined = unlimited). A write or growing truncate that would make
   * the total file bytes exceed it rejects ENOSPC and changes nothing. Freeing space (truncate,
   * unlink of a file no handle holds) makes writes work again.
   * @throws RangeError when bytes is not undefined or a non-negative safe integer.
   */
  setCapacity(bytes: number | undefined): void {
    checkCapacity(bytes);
    this.#volume.capacity = bytes;
  }

  /**
   * Flips bit `bit` (0-7, default from the seed) of byte `offset` of the file at `path`, in its
   * durable and its current content wherever the offset lies inside them (media corruption).
   * @throws ErrnoError ENOENT when no file is at `path`; RangeError when offset or bit is out of range.
   */
  flipBit(path: string, offset: number, bit?: number): void {
    const file = this.#fileAt(path, 'flipBit');
    const limit = Math.max(file.current.length, file.durable.length);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= limit) {
      throw new RangeError(`flipBit offset ${offset} outside ${path} (${limit} bytes)`);
    }
    const b = bit ?? this.#bitPrng.int(0, 7);
    if (!Number.isInteger(b) || b < 0 || b > 7) throw new RangeError(`flipBit bit must be 0-7, got ${b}`);
    for (const store of [file.durable, file.current]) if (offset < store.length) store.xorByte(offset, 1 << b);
    this.#stats.bitFlips++;
  }

  /**
   * Overwrites bytes of the file at `path` from `offset`, in its durable and current content
   * wherever the range lies inside them (a misdirected or garbage write). Never changes a length.
   * @throws ErrnoError ENOENT when no file is at `path`; RangeError when the range passes both ends.
   */
  overwrite(path: string, offset: number, bytes: Uint8Array): void {
    const file = this.#fileAt(path, 'overwrite');
    const limit = Math.max(file.current.length, file.durable.length);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + bytes.length > limit) {
      throw new RangeError(`overwrite of ${bytes.length} bytes at ${offset} outside ${path} (${limit} bytes)`);
    }
    for (const store of [file.durable, file.current]) {
      const n = Math.max(0, Math.min(bytes.length, store.length - offset));
      if (n > 0) store.write(offset, bytes.subarray(0, n));
    }
  }

  /** A copy of the current content (what a live view reads) of the file at `path`, or undefined. */
  readFileNow(path: string): Uint8Array | undefined {
    const inode = this.#volume.lookup(path);
    return inode?.kind === 'file' ? inode.current.snapshot() : undefined;
  }

  /** A copy of the durable content (what surely survives a crash) of the file now at `path`, or undefined. */
  readDurableNow(path: string): Uint8Array | undefined {
    const inode = this.#volume.lookup(path);
    return inode?.kind === 'file' ? inode.durable.snapshot() : undefined;
  }

  /** Paths of all regular files currently visible, sorted. */
  listFiles(): string[] {
    return this.#volume.listFiles();
  }

  /** A snapshot of the counters. */
  get stats(): SimDiskStats {
    return {
      ...this.#stats,
      faultsInjected: { ...this.#stats.faultsInjected },
      capacityRejections: this.#volume.capacityRejections,
    };
  }

  #enter(_op: SimOp, syscall: string, path: string, epoch: number, interrupted?: () => void): void {
    if (epoch !== this.#epoch) throw new ErrnoError('EIO', syscall, path);
    this.#stats.calls++;
    if (this.#crashAt !== undefined && this.#stats.calls >= this.#crashAt) {
      if (this.#tearInterrupted) interrupted?.();
      this.crash();
      throw new ErrnoError('EIO', syscall, path);
    }
  }

  #takeFault(op: SimOp): FaultCode | undefined {
    const code = this.#faults.get(op)?.shift();
    if (code !== undefined) {
      const key = `${op}:${code}`;
      this.#stats.faultsInjected[key] = (this.#stats.faultsInjected[key] ?? 0) + 1;
    }
    return code;
  }

  #fileAt(path: string, what: string): FileInode {
    const inode = this.#volume.lookup(path);
    if (inode?.kind !== 'file') throw new ErrnoError('ENOENT', what, path);
    return inode;
  }
}

function checkCapacity(bytes: number | undefined): void {
  if (bytes !== undefined && (!Number.isSafeInteger(bytes) || bytes < 0)) {
    throw new RangeError(`capacity must be a non-negative safe integer, got ${bytes}`);
  }
}
