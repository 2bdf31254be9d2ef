/**
 * The engine's plumbing (engine.ts): the queue on which every state change runs, one at a time;
 * the work that runs beside it (vote appends, so that concurrent ones share one fsync, and audit
 * entries), tracked until it settles; and the timeout timers, at most one per key.
 *
 * It must never start a queued task after `stop` (the engine's first task, `resume`, excepted:
 * it is queued by `start` and skipped all the same once stopped), never drop an error (each goes
 * to the engine's `fail` with where it came from), and never leave a timer armed after `stop`.
 */

/** The queue, the work beside it and the timers of one engine. */
export class EngineTasks {
  readonly #fail: (where: string, error: unknown) => void;
  #queue: Promise<void> = Promise.resolve();
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #scheduled = new Set<string>();
  #stopped = false;

  /** @param fail - receives every error of a task, of tracked work (where `intake`) and of a timer's task. */
  constructor(fail: (where: string, error: unknown) => void) {
    this.#fail = fail;
  }

  /** True once `stop` ran. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Runs `task` after every task queued before it; its error goes to `fail` with `where`. */
  enqueue(where: string, task: () => Promise<void>): void {
    if (this.#stopped && where !== 'resume') return;
    this.#queue = this.#queue.then(() => (this.#stopped ? undefined : task())).catch((error: unknown) => this.#fail(where, error));
  }

  /** Keeps `work` (running beside the queue) until it settles; its error goes to `fail` as `intake`. */
  track(work: Promise<void>): void {
    const p = work.catch((error: unknown) => this.#fail('intake', error));
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  /** Calls `fire` after `ms`, unless a timer of the same `key` is armed or the engine stopped. */
  schedule(key: string, ms: number, fire: () => void): void {
    if (this.#scheduled.has(key) || this.#stopped) return;
    this.#scheduled.add(key);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#scheduled.delete(key);
      fire();
    }, ms);
    this.#timers.add(timer);
  }

  /** No more tasks or timers from now on; disarms the armed timers. */
  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  /** Waits for the queue and every piece of tracked work. */
  async drain(): Promise<void> {
    await this.#queue;
    await Promise.allSettled([...this.#inflight]);
  }
}
