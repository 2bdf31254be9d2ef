/**
 * The messages between the devnet parent and its validator processes, over Node's IPC channel
 * (advanced serialization, so byte arrays travel as bytes). The parent relays consensus
 * messages between validators; validators report where they are.
 */
import type { ConsensusPhase } from '../model/round.ts';

/** What a validator process is started with (JSON in argv[2]). */
export interface NodeLaunch {
  readonly id: string;
  readonly dir: string;
  readonly genesisFile: string;
  readonly byzantine: boolean;
}

/** A validator's periodic report. Counters are cumulative for the process's life. */
export interface NodeStats {
  readonly height: number;
  readonly round: number;
  readonly phase: ConsensusPhase;
  readonly votesPersisted: number;
  /** Persist times (ms) of votes since the previous report (at most 512). */
  readonly persistMs: readonly number[];
  readonly equivocations: number;
  readonly errors: number;
  readonly lastError?: string;
  /** The ids of the validator set at `height` (docs/devnet.md, "Validator-set changes"). */
  readonly validators?: readonly string[];
}

/** Validator to parent. */
export type ChildMessage =
  | { readonly t: 'ready'; readonly height: number; readonly round: number; readonly phase: ConsensusPhase; readonly recovered: boolean; readonly missingSinks: readonly string[] }
  | { readonly t: 'net'; readonly to?: string; readonly data: Uint8Array }
  | { readonly t: 'stats'; readonly stats: NodeStats }
  | { readonly t: 'finalized'; readonly height: number; readonly hash: string }
  | { readonly t: 'fatal'; readonly message: string };

/**
 * Parent to validator. `from` of a relayed message is the validator whose process sent it to
 * the parent: the parent knows it from the IPC channel the message came in on, never from the
 * message (the transport's `from`, src/consensus/transport.ts).
 */
export type ParentMessage = { readonly t: 'net'; readonly from: string; readonly data: Uint8Array } | { readonly t: 'stop' };
