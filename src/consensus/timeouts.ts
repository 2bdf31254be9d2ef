/**
 * Timeouts that grow with the number of rounds tried at the current height (Tendermint's
 * `timeout + delta * round`, where the round counts from the height's first round, since the
 * global round never resets). Capped, so a long outage never leaves a node asleep for minutes.
 */

/** The three timeouts' base and growth, and the cap, in ms. */
export interface TimeoutConfig {
  readonly proposeMs: number;
  readonly proposeDeltaMs: number;
  readonly prevoteMs: number;
  readonly prevoteDeltaMs: number;
  readonly precommitMs: number;
  readonly precommitDeltaMs: number;
  /** Largest timeout, whatever the round. */
  readonly maxMs: number;
  /** Pause after a height is finalized before the next round starts (Tendermint's timeout_commit). */
  readonly commitMs: number;
  /** Interval of the status heartbeat and of re-sending the node's current messages. */
  readonly gossipMs: number;
}

/** Defaults sized for a local devnet with durable (fsync) storage. */
export const DEFAULT_TIMEOUTS: TimeoutConfig = {
  proposeMs: 600,
  proposeDeltaMs: 300,
  prevoteMs: 300,
  prevoteDeltaMs: 150,
  precommitMs: 300,
  precommitDeltaMs: 150,
  maxMs: 10_000,
  commitMs: 0,
  gossipMs: 250,
};

/** The three timed steps. */
export type TimeoutStep = 'propose' | 'prevote' | 'precommit';

/**
 * Milliseconds to wait in `step` after `roundsTried` earlier rounds at this height.
 * @throws RangeError when `roundsTried` is negative.
 */
export function timeoutFor(config: TimeoutConfig, step: TimeoutStep, roundsTried: number): number {
  if (roundsTried < 0) throw new RangeError(`roundsTried must be >= 0, got ${roundsTried}`);
  const [base, delta] =
    step === 'propose'
      ? [config.proposeMs, config.proposeDeltaMs]
      : step === 'prevote'
        ? [config.prevoteMs, config.prevoteDeltaMs]
        : [config.precommitMs, config.precommitDeltaMs];
  return Math.min(config.maxMs, base + delta * roundsTried);
}
