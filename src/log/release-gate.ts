/**
 * Who may release segments when (docs/durability.md, "Releasing segments"): releases run one at
 * a time, in call order; a hold (an online backup copying the log's segments) keeps every
 * release from starting until it is dropped, and is itself granted only once no release is
 * running, so a holder never sees a segment vanish under it. Once closed, no release starts.
 *
 * This file must never let two releases run at once, never start one while a hold is kept,
 * and never grant a hold while one runs. It does no I/O.
 */
import { ConsensusStoreError } from '../errors.ts';

/** Serializes releases and keeps them out while holds are kept. */
export class ReleaseGate {
  /** The end of the last release queued (never rejects). */
  #turn: Promise<unknown> = Promise.resolve();
  /** The release doing its work now, if any. */
  #running: Promise<unknown> | undefined;
  #holds = 0;
  #waiters: (() => void)[] = [];
  #closed = false;

  /** Holds kept now. */
  get holds(): number {
    return this.#holds;
  }

  /**
   * Runs `work` after every release queued before it, once no hold is kept.
   * @throws ConsensusStoreError CLOSED when the gate closed before `work` could start; whatever `work` throws.
   */
  run<T>(work: () => Promise<T>): Promise<T> {
    const go = async (): Promise<T> => {
      while (this.#holds > 0 && !this.#closed) await new Promise<void>((resolve) => this.#waiters.push(resolve));
      if (this.#closed) throw closedError();
      // Synchronously after the check: no hold can be granted in between.
      const work$ = work();
      this.#running = work$;
      try {
        return await work$;
      } finally {
        this.#running = undefined;
      }
    };
    const result = this.#turn.then(go, go);
    this.#turn = result.catch(() => undefined);
    return result;
  }

  /**
   * Keeps releases out until the returned function is called (calling it again does nothing).
   * Resolves once no release is running.
   * @throws ConsensusStoreError CLOSED once the gate is closed.
   */
  async hold(): Promise<() => void> {
    while (this.#running !== undefined) await this.#running.catch(() => undefined);
    if (this.#closed) throw closedError();
    this.#holds++;
    let dropped = false;
    return () => {
      if (dropped) return;
      dropped = true;
      this.#holds--;
      if (this.#holds === 0) this.#wake();
    };
  }

  /** No release starts from now on (those waiting for holds reject CLOSED); resolves once the running one ended. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake();
    await this.#turn;
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

function closedError(): ConsensusStoreError {
  return new ConsensusStoreError('CLOSED', 'log is closed');
}
