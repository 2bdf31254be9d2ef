/**
 * The seam between `openStore` and the individual stores: each store owns some record kinds,
 * is rebuilt by being fed every durable record of those kinds in LSN order, and writes through
 * the one shared log so that a write touching several stores is one atomic batch (D3).
 */
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import type { ImageReader, ImageWriter } from '../codec/image-section.ts';
import type { Log, LogRecord } from '../log/types.ts';
import { checkInteger, checkKeys, checkObject, checkSafeUint, checkU32, MAX_SAFE, MAX_U32 } from '../model/check.ts';
import type { QueryPage } from './query-types.ts';

/** What every store receives from `openStore`. */
export interface StoreContext {
  /** The one log under all stores. */
  readonly log: Log;
  /** Wall clock in ms since the epoch (injected so that tests are deterministic). */
  readonly now: () => number;
}

/** A store's replay hook. `openStore` calls `apply` for each durable record whose kind is in `kinds`, in LSN order. */
export interface RecordApplier {
  /** The record kinds (codec/kinds.ts) this store owns. */
  readonly kinds: readonly number[];
  /**
   * Folds one durable record into the in-memory indexes. Called on open (replay) and by the
   * store itself once its own append resolved. Must not do I/O. A payload that does not decode
   * is corruption: throw ConsensusStoreError CORRUPTION.
   */
  apply(record: LogRecord): void;
}

/**
 * A store's part of the local state image (docs/format.md, "Local state image"): its whole
 * in-memory state at one LSN, so that an open loads it and replays only the records after it.
 *
 * The contract, checked by the image tests of every store: for any history, a store built by
 * `loadImage` of what `captureImage` produced after records 1..L were applied, then fed records
 * L+1..N with `apply`, answers every query exactly as a store fed records 1..N.
 */
export interface ImageSection {
  /** The section's tag in the image (stable: docs/format.md lists them). */
  readonly imageTag: number;
  /**
   * Captures the state folded so far, synchronously and cheaply (the image writer calls it
   * while no batch is in flight, and writes resume right after). Returns a function that
   * encodes the captured state; it may be called later, after more records were applied, and
   * must still encode the state as it was at capture (copy whatever later writes change).
   */
  captureImage(): (w: ImageWriter) => void;
  /**
   * Loads a section that `captureImage` wrote into this freshly constructed store, before any
   * `apply`. Throws `Error` (or CORRUPTION) on malformed bytes; the loader then discards the
   * whole store and falls back to an older image or a full replay.
   */
  loadImage(r: ImageReader): void;
}

/**
 * Throws CLOSED once the shared log is closing or closed (every public method of every store
 * rejects CLOSED after `close()`: docs/stores.md, Opening). A poisoned log (D6) is still open
 * for reads.
 * @throws ConsensusStoreError CLOSED.
 */
export function assertOpen(ctx: StoreContext): void {
  const status = ctx.log.status;
  if (status === 'closing' || status === 'closed') throw new ConsensusStoreError('CLOSED', 'the store is closed');
}

/**
 * The store clock's reading: `ctx.now()`, which must be a safe non-negative integer (ms since
 * the epoch). A broken injected clock is a programmer's mistake, not bad input.
 * @throws RangeError naming the value it returned.
 */
export function readClock(ctx: StoreContext): number {
  const now = ctx.now();
  if (!Number.isSafeInteger(now) || now < 0) throw new RangeError(`StoreContext.now() returned ${now}, not a safe non-negative integer`);
  return now;
}

/**
 * Runs tasks one at a time, in call order: each starts once every earlier task settled
 * (resolved or rejected), so a write is checked against the state every earlier write left.
 * A task's rejection reaches its own caller only; the tasks after it run all the same.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  /** Queues `task`; resolves or rejects as it does. */
  run<T>(task: () => T | Promise<T>): Promise<T> {
    const run = this.#tail.then(task);
    this.#tail = run.catch(() => undefined);
    return run;
  }
}

/** The default and the largest `limit` of one query. */
export interface QueryLimits {
  readonly defaultLimit: number;
  readonly maxLimit: number;
}

/**
 * A query object (undefined: `{}`) whose keys are all in `keys`.
 * @throws ConsensusStoreError INVALID_ARGUMENT on a non-object or an unknown key (named, with a did-you-mean).
 */
export function checkQuery(name: string, query: unknown, keys: readonly string[]): Record<string, unknown> {
  if (query === undefined) return {};
  const q = checkObject(name, query);
  checkKeys(name, q, keys);
  return q;
}

/** `limit` of a query: its default when absent, else an integer in [1, maxLimit] (never clamped). Throws INVALID_ARGUMENT. */
export function parseLimit(name: string, value: unknown, limits: QueryLimits): number {
  return value === undefined ? limits.defaultLimit : checkInteger(name, value, 1, limits.maxLimit);
}

/**
 * `startHeight` and `endHeight` of a checked query object (`${name}.startHeight`, ...): absent
 * ends are 0 and 2^53 - 1. Throws INVALID_ARGUMENT on a bad height or `startHeight > endHeight`.
 */
export function parseHeightRange(name: string, q: Record<string, unknown>): { startHeight: number; endHeight: number } {
  const startHeight = q['startHeight'] === undefined ? 0 : checkSafeUint(`${name}.startHeight`, q['startHeight']);
  const endHeight = q['endHeight'] === undefined ? MAX_SAFE : checkSafeUint(`${name}.endHeight`, q['endHeight']);
  if (startHeight > endHeight) {
    throw invalidArgument(`${name}.startHeight`, `(${startHeight}) must not exceed ${name}.endHeight (${endHeight})`);
  }
  return { startHeight, endHeight };
}

/**
 * `startRound` and `endRound` of a checked query object: absent ends are 0 and 2^32 - 1. Throws
 * INVALID_ARGUMENT on a bad round or `startRound > endRound`.
 */
export function parseRoundRange(name: string, q: Record<string, unknown>): { startRound: number; endRound: number } {
  const startRound = q['startRound'] === undefined ? 0 : checkU32(`${name}.startRound`, q['startRound']);
  const endRound = q['endRound'] === undefined ? MAX_U32 : checkU32(`${name}.endRound`, q['endRound']);
  if (startRound > endRound) {
    throw invalidArgument(`${name}.startRound`, `(${startRound}) must not exceed ${name}.endRound (${endRound})`);
  }
  return { startRound, endRound };
}

/**
 * The first `limit` items of `source` (already in the query's order and range), each passed
 * through `map`, and whether more were there: one item past the limit is looked at, never more.
 */
export function takePage<S, T = S>(source: Iterable<S>, limit: number, map: (item: S) => T = (item) => item as unknown as T): QueryPage<T> {
  const items: T[] = [];
  for (const item of source) {
    if (items.length >= limit) return { items, truncated: true };
    items.push(map(item));
  }
  return { items, truncated: false };
}
