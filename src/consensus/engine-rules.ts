/**
 * Tendermint's rules, as the engine (engine.ts) applies them with a global round: when a height
 * is decided, when to skip to a later round, which proposal is valid for the round, when the
 * prevotes form a polka, and what the node prevotes for given its lock. Pure functions of what
 * the engine knows: the vote tally, the block bodies and proposals it holds, its lock.
 *
 * Nothing here changes state or does I/O: the state machine in engine.ts acts on the answers
 * (signs, checkpoints, locks), so the rules can be read, and tested, on their own.
 */
import { equalBytes, toHex } from '../codec/bytes.ts';
import type { Lock } from './engine-types.ts';
import type { StepSummary, VoteTally } from './tally.ts';
import type { Block, ProposalMessage } from './types.ts';

/** A valid proposal of the current round, with its block hash. */
export interface ProposedBlock {
  readonly message: ProposalMessage;
  readonly hash: Uint8Array;
}

/** The first round with a precommit quorum (2/3+) for a block of height `h` whose body is known, and that block. */
export function decisionAt(tally: VoteTally, blocks: ReadonlyMap<string, Block>, h: number): { round: number; block: Block } | undefined {
  for (const r of tally.precommitRounds(h)) {
    const key = tally.summary(h, r, 'precommit').quorumFor;
    const block = key === undefined || key === 'nil' ? undefined : blocks.get(key);
    if (block !== undefined && block.height === h) return { round: r, block };
  }
  return undefined;
}

/** The highest round above `round` in which 1/3+ of the stake has voted at height `h` (the round to skip to), if any. */
export function roundToSkipTo(tally: VoteTally, h: number, round: number): number | undefined {
  const ahead = tally.roundsAheadWithOneThird(h, round);
  return ahead[ahead.length - 1];
}

/** The proposal of round `r` if it proposes a block of `height` on `parentHash`. */
export function proposalBlock(proposals: ReadonlyMap<number, ProposalMessage>, r: number, height: number, parentHash: Uint8Array): ProposedBlock | undefined {
  const message = proposals.get(r);
  if (message === undefined || message.block.height !== height || !equalBytes(message.block.parentHash, parentHash)) return undefined;
  return { message, hash: message.proposal.blockHash };
}

/** The proposed block when the round's prevotes have a quorum for it (a polka), else undefined. */
export function polkaFor(prevotes: StepSummary, proposed: ProposedBlock | undefined): ProposedBlock | undefined {
  return prevotes.quorumFor !== undefined && proposed !== undefined && prevotes.quorumFor === toHex(proposed.hash) ? proposed : undefined;
}

/**
 * The prevote rule: the block, nil, or wait (its proof-of-lock round not yet seen). A lock on
 * another block allows the proposal only when its proof-of-lock round is at or above the lock's.
 */
export function prevoteFor(
  message: ProposalMessage,
  locked: Lock | undefined,
  tally: VoteTally,
  height: number,
  heightStartRound: number,
): Uint8Array | null | 'wait' {
  const hash = message.proposal.blockHash;
  const vr = message.proposal.polRound;
  const lockAllows = (atRound: number): boolean => locked === undefined || locked.round <= atRound || equalBytes(locked.hash, hash);
  if (vr === null) return lockAllows(-1) ? hash : null;
  if (vr < heightStartRound) return null;
  if (tally.summary(height, vr, 'prevote').quorumFor !== toHex(hash)) return 'wait';
  return lockAllows(vr) ? hash : null;
}
