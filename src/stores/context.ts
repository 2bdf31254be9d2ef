/**
 * The seam between `openStore` and the individual stores: each store owns some record kinds,
 * is rebuilt by being fed every durable record of those kinds in LSN order, and writes through
 * the one shared log so that a write touching several stores is one atomic batch (D3).
 */
import { ConsensusStoreError } from '../errors.ts';
import type { Log, LogRecord } from '../log/types.ts';

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
 * Throws CLOSED once the shared log is closing or closed (every public method of every store
 * rejects CLOSED after `close()`: docs/stores.md, Opening). A poisoned log (D6) is still open
 * for reads.
 * @throws ConsensusStoreError CLOSED.
 */
export function assertOpen(ctx: StoreContext): void {
  const status = ctx.log.status;
  if (status === 'closing' || status === 'closed') throw new ConsensusStoreError('CLOSED', 'the store is closed');
}
