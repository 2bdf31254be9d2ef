/**
 * The chaos schedule of `--chaos`: from the seed alone, when to SIGKILL which validator and how
 * long it stays down. It never takes down more validators at once than the network tolerates:
 * f = floor((n - 1) / 3) of the validator set as it is now, counting the byzantine ones still
 * in it, but at least one while a byzantine one is in it (it votes too). Once a byzantine
 * validator is removed from the set (slashed through a block: docs/devnet.md, "Validator-set
 * changes"), n is the remaining set: with 3 left, f = 0 and chaos pauses. So liveness is
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
/** The validator set as chaos sees it: its size, and how many of its members are byzantine. */
export interface ChaosSet {
  readonly size: number;
  readonly byzantine: number;
}

/** How many validators of `set` may be down at once (0: chaos pauses). */
export function maxDownOf(set: ChaosSet): number {
  const f = Math.floor((set.size - 1) / 3);
  return set.byzantine > 0 ? Math.max(1, f - set.byzantine) : Math.max(0, f);
}

export class ChaosSchedule {
  readonly #prng: Prng;
  #set: ChaosSet;

  /** @param seed the run's seed; `validators` and `byzantine` (the genesis set) set how many may be down at once. */
  constructor(seed: number, validators: number, byzantine: number) {
    this.#prng = new Prng(seed);
    this.#set = { size: validators, byzantine };
  }

  /** The set as it is now (validators report it); returns true when this changed how many may be down. */
  setChanged(set: ChaosSet): boolean {
    const before = this.maxDown;
    this.#set = set;
    return this.maxDown !== before;
  }

  /** How many validators may be down at once now (0: paused, the set tolerates no fault). */
  get maxDown(): number {
    return maxDownOf(this.#set);
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
    if (down >= this.maxDown || up.length === 0) return undefined;
    return { id: this.#prng.pick(up), downMs: this.#prng.int(200, 1_500) };
  }
}
