/**
 * The chaos schedule of `--chaos`: from the seed alone, when to SIGKILL which validator and how
 * long it stays down. It never takes down more validators at once than the network tolerates
 * (f = floor((n - 1) / 3), counting the byzantine ones, but at least one), so liveness is
 * expected to hold throughout and a stall is a finding.
 */
import { Prng } from '../io/prng.ts';

/**
 * A validator process as chaos sees it: `starting` from the fork until it reports ready (it is
 * opening its store and recovering: it does not vote yet), `up` once ready, `down` after it
 * exited or was killed.
 */
export type NodeState = 'starting' | 'up' | 'down';

/** One kill. */
export interface ChaosKill {
  readonly id: string;
  /** How long it stays down before the restart, ms. */
  readonly downMs: number;
}

/** Seeded chaos decisions. */
export class ChaosSchedule {
  readonly #prng: Prng;
  readonly #maxDown: number;

  /** @param seed the run's seed; `validators` and `byzantine` set how many may be down at once. */
  constructor(seed: number, validators: number, byzantine: number) {
    this.#prng = new Prng(seed);
    this.#maxDown = Math.max(1, Math.floor((validators - 1) / 3) - byzantine);
  }

  /** Milliseconds until the next kill. */
  nextDelayMs(): number {
    return this.#prng.int(1_000, 3_500);
  }

  /**
   * The next kill among the validators that are up, or undefined when no more may go down. A
   * validator that is still starting counts as down: it is not voting yet, and killing another
   * then would take more validators out of the network at once than it tolerates.
   */
  nextKill(states: ReadonlyMap<string, NodeState>): ChaosKill | undefined {
    const up = [...states].filter(([, state]) => state === 'up').map(([id]) => id);
    const down = states.size - up.length;
    if (down >= this.#maxDown || up.length === 0) return undefined;
    return { id: this.#prng.pick(up), downMs: this.#prng.int(200, 1_500) };
  }
}
