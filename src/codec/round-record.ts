/**
 * Payload encodings of the round-state records (RecordKind.RoundState, RecordKind.RoundStatePrune)
 * and the shape check a round state must pass, at the API boundary and after every read.
 *
 * Payloads are msgpack arrays with a leading format version, so that fields are positional and
 * a future version can be told apart. Nothing here is hashed or signed, so msgpackr's
 * non-canonical output is fine. This module must never do I/O, and a decoder must never return a
 * value that did not pass the same checks as the API's input: a payload that fails is CORRUPTION.
 */
import { Packr } from 'msgpackr';
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import type { ConsensusPhase, RoundState } from '../stores/round-types.ts';
import { CONSENSUS_PHASES, MAX_PROPOSER_LENGTH, MAX_ROUND_APP_DATA } from '../stores/round-types.ts';
import { checkBytes, checkObject, checkOneOf, checkSafeUint, checkString, checkU32 } from '../validate.ts';

/** Format version of both payloads. */
const VERSION = 1;

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

function optionalHash(name: string, value: unknown): Uint8Array | undefined {
  return value === undefined ? undefined : new Uint8Array(checkBytes(name, value, 32));
}

/**
 * Checks a round state (types, ranges, byte lengths, the pairing of the lock and valid-value
 * fields, `lockedRound`/`validRound` <= `round`, `updatedAt` >= `startedAt`) and returns a copy
 * that shares no memory with the input. Throws INVALID_ARGUMENT naming the field.
 */
export function checkRoundState(name: string, value: unknown): RoundState {
  const o = checkObject(name, value);
  const height = checkSafeUint(`${name}.height`, o['height']);
  const round = checkU32(`${name}.round`, o['round']);
  const phase = checkOneOf<ConsensusPhase>(`${name}.phase`, o['phase'], CONSENSUS_PHASES);
  const startedAt = checkSafeUint(`${name}.startedAt`, o['startedAt']);
  const updatedAt = checkSafeUint(`${name}.updatedAt`, o['updatedAt']);
  if (updatedAt < startedAt) throw invalidArgument(`${name}.updatedAt`, 'must not be before startedAt');
  const state: {
    -readonly [K in keyof RoundState]: RoundState[K];
  } = { height, round, phase, startedAt, updatedAt };
  const lockedRound = o['lockedRound'];
  const lockedBlockHash = optionalHash(`${name}.lockedBlockHash`, o['lockedBlockHash']);
  if ((lockedRound === undefined) !== (lockedBlockHash === undefined)) {
    throw invalidArgument(`${name}.lockedRound`, 'and lockedBlockHash must be given together or not at all');
  }
  if (lockedRound !== undefined && lockedBlockHash !== undefined) {
    state.lockedRound = checkU32(`${name}.lockedRound`, lockedRound);
    if (state.lockedRound > round) throw invalidArgument(`${name}.lockedRound`, 'must not exceed round');
    state.lockedBlockHash = lockedBlockHash;
  }
  const validRound = o['validRound'];
  const validBlockHash = optionalHash(`${name}.validBlockHash`, o['validBlockHash']);
  if ((validRound === undefined) !== (validBlockHash === undefined)) {
    throw invalidArgument(`${name}.validRound`, 'and validBlockHash must be given together or not at all');
  }
  if (validRound !== undefined && validBlockHash !== undefined) {
    state.validRound = checkU32(`${name}.validRound`, validRound);
    if (state.validRound > round) throw invalidArgument(`${name}.validRound`, 'must not exceed round');
    state.validBlockHash = validBlockHash;
  }
  const proposalBlockHash = optionalHash(`${name}.proposalBlockHash`, o['proposalBlockHash']);
  if (proposalBlockHash !== undefined) state.proposalBlockHash = proposalBlockHash;
  if (o['proposer'] !== undefined) state.proposer = checkString(`${name}.proposer`, o['proposer'], MAX_PROPOSER_LENGTH);
  if (o['appData'] !== undefined) {
    state.appData = new Uint8Array(checkBytes(`${name}.appData`, o['appData'], { min: 0, max: MAX_ROUND_APP_DATA }));
  }
  return state;
}

/** Encodes a checkpoint. `state` must have passed `checkRoundState`. */
export function encodeRoundStateRecord(state: RoundState, recordedAt: number): Uint8Array {
  return packr.pack([
    VERSION,
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
  ]);
}

/** Encodes a prune record. */
export function encodeRoundPruneRecord(beforeHeight: number, recordedAt: number): Uint8Array {
  return packr.pack([VERSION, beforeHeight, recordedAt]);
}

/** Unpacks a versioned tuple of exactly `length` fields; throws (any error) when it is not one. */
function unpackTuple(payload: Uint8Array, length: number): unknown[] {
  const value: unknown = packr.unpack(payload);
  if (!Array.isArray(value) || value.length !== length) throw new Error(`not a ${length}-field tuple`);
  if (value[0] !== VERSION) throw new Error(`unknown payload version ${String(value[0])}`);
  return value.map((v: unknown) => (v === null ? undefined : v));
}

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
    const f = unpackTuple(payload, 14);
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
    });
    return { state, recordedAt: checkSafeUint('recordedAt', f[13]) };
  } catch (err) {
    throw corrupt('round-state', lsn, err);
  }
}

/** Decodes a prune payload; CORRUPTION (naming `lsn`) if it does not decode. */
export function decodeRoundPruneRecord(payload: Uint8Array, lsn: number): RoundPruneRecord {
  try {
    const f = unpackTuple(payload, 3);
    return { beforeHeight: checkSafeUint('beforeHeight', f[1]), recordedAt: checkSafeUint('recordedAt', f[2]) };
  } catch (err) {
    throw corrupt('round-state prune', lsn, err);
  }
}

function bytesEqual(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** True when two round states hold the same values in every field (bytes compared by content). */
export function roundStatesEqual(a: RoundState, b: RoundState): boolean {
  return (
    a.height === b.height &&
    a.round === b.round &&
    a.phase === b.phase &&
    a.lockedRound === b.lockedRound &&
    bytesEqual(a.lockedBlockHash, b.lockedBlockHash) &&
    a.validRound === b.validRound &&
    bytesEqual(a.validBlockHash, b.validBlockHash) &&
    bytesEqual(a.proposalBlockHash, b.proposalBlockHash) &&
    a.proposer === b.proposer &&
    bytesEqual(a.appData, b.appData) &&
    a.startedAt === b.startedAt &&
    a.updatedAt === b.updatedAt
  );
}
