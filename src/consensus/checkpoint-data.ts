/**
 * The engine's part of a round-state checkpoint (`RoundState.appData`): what a restarted node
 * needs beyond height, round, phase and locks to resume exactly where it stopped: the first
 * round of its height (timeouts), the parent hash, the vote it decided to sign in this phase,
 * the bodies of the blocks it refers to, and, once decided, the decision.
 *
 * Encoded as a versioned msgpackr tuple; decoding checks every field. It is never signed or
 * hashed, so a non-canonical encoding is fine here.
 */
import { Packr } from 'msgpackr';
import { checkBytes, checkSafeUint, checkU32 } from '../model/check.ts';
import { BLOCK_HASH_BYTES } from '../model/vote.ts';
import { checkBlock } from './codec.ts';
import type { Block } from './types.ts';

const VERSION = 1;
const MAX_BLOCKS = 8;
const packr = new Packr({ useRecords: false, moreTypes: false });

/** A decision: the block and the round whose precommits decided it. */
export interface Decision {
  readonly round: number;
  readonly block: Block;
}

/** What the engine keeps in `appData`. */
export interface CheckpointData {
  /** The first round of the current height. */
  readonly heightStartRound: number;
  /** Hash of the block at `height - 1`. */
  readonly parentHash: Uint8Array;
  /** The vote this phase signs: a block hash, null for nil, undefined when the phase signs nothing. */
  readonly intent?: Uint8Array | null;
  /** Bodies of the proposal, locked and valid blocks (at most 8). */
  readonly blocks: readonly Block[];
  /** Set from the commit phase on. */
  readonly decision?: Decision;
}

/** Encodes checkpoint data for `RoundState.appData`. */
export function encodeCheckpointData(data: CheckpointData): Uint8Array {
  return packr.pack([
    VERSION,
    data.heightStartRound,
    data.parentHash,
    data.intent === undefined ? 0 : data.intent === null ? 1 : data.intent,
    data.blocks.slice(0, MAX_BLOCKS),
    data.decision === undefined ? null : [data.decision.round, data.decision.block],
  ]);
}

/**
 * Decodes checkpoint data written by `encodeCheckpointData`.
 * @throws an error when the bytes are not a version-1 checkpoint (the caller treats it as corruption).
 */
export function decodeCheckpointData(bytes: Uint8Array): CheckpointData {
  const raw: unknown = packr.unpack(bytes);
  if (!Array.isArray(raw) || raw.length !== 6 || raw[0] !== VERSION) throw new RangeError('not a version-1 engine checkpoint');
  const [, start, parent, intentRaw, blocksRaw, decisionRaw] = raw as unknown[];
  if (!Array.isArray(blocksRaw) || blocksRaw.length > MAX_BLOCKS) throw new RangeError('checkpoint blocks malformed');
  const intent = intentRaw === 0 ? undefined : intentRaw === 1 ? null : new Uint8Array(checkBytes('intent', intentRaw, BLOCK_HASH_BYTES));
  const base = {
    heightStartRound: checkU32('heightStartRound', start),
    parentHash: new Uint8Array(checkBytes('parentHash', parent, BLOCK_HASH_BYTES)),
    blocks: blocksRaw.map((b, i) => checkBlock(`blocks[${i}]`, b)),
  };
  let decision: Decision | undefined;
  if (decisionRaw !== null) {
    if (!Array.isArray(decisionRaw) || decisionRaw.length !== 2) throw new RangeError('checkpoint decision malformed');
    decision = { round: checkU32('decision.round', decisionRaw[0]), block: checkBlock('decision.block', decisionRaw[1]) };
  }
  checkSafeUint('heightStartRound', base.heightStartRound);
  return {
    ...base,
    ...(intent === undefined ? {} : { intent }),
    ...(decision === undefined ? {} : { decision }),
  };
}
