/**
 * Payload encodings of the round-state records (RecordKind.RoundState, RecordKind.RoundStatePrune).
 * A decoded round state passes `checkRoundState` (src/model/round.ts), the check of the API's input.
 *
 * Payloads are msgpack arrays with a leading format version, so that fields are positional and
 * a future version can be told apart. Nothing here is hashed or signed, so msgpackr's
 * non-canonical output is fine. This module must never do I/O, and a decoder must never return a
 * value that did not pass the same checks as the API's input: a payload that fails is CORRUPTION.
 */
import { Packr } from 'msgpackr';
import { ConsensusStoreError } from '../errors.ts';
import { checkSafeUint, checkU32 } from '../model/check.ts';
import { checkRoundState, CONSENSUS_PHASES, type RoundState } from '../model/round.ts';

/** Format version of the prune payload, and of a checkpoint without the version-2 fields. */
const VERSION = 1;
/**
 * Format version of a checkpoint that carries `isProposer`, `validatorCount` or `quorumSize`:
 * version 1's 13 fields, then those three (docs/format.md, "Round-state checkpoint"). A state
 * without any of them is still written as version 1, byte for byte as before, so records and
 * image sections written before the fields existed and those written after by the same state
 * are the same bytes, and both decode (the absent fields then `undefined`).
 */
const VERSION_2 = 2;

const packr = new Packr({ useRecords: false, moreTypes: false });

/** A decoded round-state checkpoint record. */
export interface RoundStateRecord {
  readonly state: RoundState;
  readonly recordedAt: number;
}

/** A decoded prune record: every checkpoint below `beforeHeight` is gone. */
export interface RoundPruneRecord {
  readonly beforeHeight: number;
  readonly recordedAt: number;
}

/** Encodes a checkpoint. `state` must have passed `checkRoundState`. */
export function encodeRoundStateRecord(state: RoundState, recordedAt: number): Uint8Array {
  const extended = state.isProposer !== undefined || state.validatorCount !== undefined || state.quorumSize !== undefined;
  const fields: unknown[] = [
    extended ? VERSION_2 : VERSION,
    state.height,
    state.round,
    CONSENSUS_PHASES.indexOf(state.phase),
    state.lockedRound ?? null,
    state.lockedBlockHash ?? null,
    state.validRound ?? null,
    state.validBlockHash ?? null,
    state.proposalBlockHash ?? null,
    state.proposer ?? null,
    state.appData ?? null,
    state.startedAt,
    state.updatedAt,
    recordedAt,
  ];
  if (extended) fields.push(state.isProposer ?? null, state.validatorCount ?? null, state.quorumSize ?? null);
  return packr.pack(fields);
}

/** Encodes a prune record. */
export function encodeRoundPruneRecord(beforeHeight: number, recordedAt: number): Uint8Array {
  return packr.pack([VERSION, beforeHeight, recordedAt]);
}

/**
 * Unpacks a versioned tuple: `lengths` maps each known version to its field count. Throws (any
 * error) when the payload is not a tuple of a known version with that many fields.
 */
function unpackTuple(payload: Uint8Array, lengths: ReadonlyMap<number, number>): unknown[] {
  const value: unknown = packr.unpack(payload);
  if (!Array.isArray(value)) throw new Error('not a tuple');
  const length = lengths.get(value[0] as number);
  if (length === undefined) throw new Error(`unknown payload version ${String(value[0])}`);
  if (value.length !== length) throw new Error(`not a ${length}-field tuple of version ${String(value[0])}`);
  return value.map((v: unknown) => (v === null ? undefined : v));
}

/** Field counts of a checkpoint payload by version (version included). */
const STATE_LENGTHS: ReadonlyMap<number, number> = new Map([
  [VERSION, 14],
  [VERSION_2, 17],
]);
/** Field counts of a prune payload by version. */
const PRUNE_LENGTHS: ReadonlyMap<number, number> = new Map([[VERSION, 3]]);

function corrupt(what: string, lsn: number, cause: unknown): ConsensusStoreError {
  const problem = cause instanceof Error ? cause.message : String(cause);
  return new ConsensusStoreError('CORRUPTION', `${what} record at LSN ${lsn} does not decode: ${problem}`, {
    cause,
    details: { lsn },
  });
}

/** Decodes a checkpoint payload; CORRUPTION (naming `lsn`) if it does not decode to a valid state. */
export function decodeRoundStateRecord(payload: Uint8Array, lsn: number): RoundStateRecord {
  try {
    const f = unpackTuple(payload, STATE_LENGTHS);
    const phaseIndex = checkU32('phase', f[3]);
    const phase = CONSENSUS_PHASES[phaseIndex];
    if (phase === undefined) throw new Error(`unknown phase ${phaseIndex}`);
    const state = checkRoundState('state', {
      height: f[1],
      round: f[2],
      phase,
      lockedRound: f[4],
      lockedBlockHash: f[5],
      validRound: f[6],
      validBlockHash: f[7],
      proposalBlockHash: f[8],
      proposer: f[9],
      appData: f[10],
      startedAt: f[11],
      updatedAt: f[12],
      isProposer: f[14],
      validatorCount: f[15],
      quorumSize: f[16],
    });
    return { state, recordedAt: checkSafeUint('recordedAt', f[13]) };
  } catch (err) {
    throw corrupt('round-state', lsn, err);
  }
}

/** Decodes a prune payload; CORRUPTION (naming `lsn`) if it does not decode. */
export function decodeRoundPruneRecord(payload: Uint8Array, lsn: number): RoundPruneRecord {
  try {
    const f = unpackTuple(payload, PRUNE_LENGTHS);
    return { beforeHeight: checkSafeUint('beforeHeight', f[1]), recordedAt: checkSafeUint('recordedAt', f[2]) };
  } catch (err) {
    throw corrupt('round-state prune', lsn, err);
  }
}
