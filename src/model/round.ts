/**
 * A validator's round state as a value: its type, the phases of a round, the limits of its
 * fields, the check it must pass at the API boundary and after every read (`checkRoundState`:
 * types, ranges, byte lengths, the pairing of the lock and valid-value fields) and its equality.
 * docs/stores-rounds-validators.md gives the rules.
 *
 * model/ holds plain values, their limits and their checks: it does no I/O and imports nothing
 * but model/ itself and src/errors.ts.
 */
import { invalidArgument } from '../errors.ts';
import { checkBytes, checkInteger, checkObject, checkOneOf, checkSafeUint, checkString, checkU32 } from './check.ts';

/** The phases of one consensus round, in the order a round moves through them. */
export type ConsensusPhase = 'propose' | 'prevote' | 'precommit' | 'commit' | 'finalize';

/** All phases in step order: a checkpoint never moves backwards in this list within one (height, round). */
export const CONSENSUS_PHASES: readonly ConsensusPhase[] = ['propose', 'prevote', 'precommit', 'commit', 'finalize'];

/** Longest `proposer` id, as for validator ids. */
export const MAX_PROPOSER_LENGTH = 128;
/** Largest `appData` blob in bytes (64 KiB): round state is checkpointed often and must stay small. */
export const MAX_ROUND_APP_DATA = 64 * 1024;
/** Largest `validatorCount` (and so `quorumSize`): the registry's limit, `MAX_VALIDATORS` (65,536). */
export const MAX_ROUND_VALIDATOR_COUNT = 65_536;

/**
 * A validator's position in consensus (Tendermint style, with a global round: docs/stores-rounds-validators.md).
 *
 * A round belongs to exactly one height (votes are identified by round, not by height), so a
 * new height always starts in a higher round. The lock pair and the valid-value pair are each
 * all-or-nothing: `lockedRound` is set exactly when `lockedBlockHash` is.
 */
export interface RoundState {
  /** Block height, 0..2^53-1. */
  readonly height: number;
  /** Global round (u32), non-decreasing across heights. */
  readonly round: number;
  readonly phase: ConsensusPhase;
  /** The round the node locked on a block in (<= `round`); with `lockedBlockHash`. */
  readonly lockedRound?: number;
  /** The 32-byte hash of the locked block; with `lockedRound`. */
  readonly lockedBlockHash?: Uint8Array;
  /** The round of the latest polka the node saw (<= `round`); with `validBlockHash`. */
  readonly validRound?: number;
  /** The 32-byte hash of the block of that polka; with `validRound`. */
  readonly validBlockHash?: Uint8Array;
  /** The 32-byte hash of this round's proposal, once received. */
  readonly proposalBlockHash?: Uint8Array;
  /** The proposer's validator id (1..128 characters), if known. */
  readonly proposer?: string;
  /**
   * Opaque bytes the consensus engine needs to resume (e.g. a HotStuff high QC), at most
   * `MAX_ROUND_APP_DATA`. The store keeps them exactly and never interprets them.
   */
  readonly appData?: Uint8Array;
  /**
   * Whether this node is the round's proposer. Optional: checkpoints written before the field
   * existed (round-state record version 1, docs/format.md) decode without it.
   */
  readonly isProposer?: boolean;
  /**
   * How many validators vote at this height (1..`MAX_ROUND_VALIDATOR_COUNT`); with `quorumSize`.
   * Optional, as `isProposer`.
   */
  readonly validatorCount?: number;
  /**
   * The fewest of those validators whose votes make a quorum (more than 2/3 of the stake; with
   * equal stakes floor(2n/3) + 1), 1..`validatorCount`; with `validatorCount`. Optional, as
   * `isProposer`.
   */
  readonly quorumSize?: number;
  /** When the round started, ms since the epoch. */
  readonly startedAt: number;
  /** When this state was last changed, ms since the epoch; >= `startedAt`. */
  readonly updatedAt: number;
}

function optionalHash(name: string, value: unknown): Uint8Array | undefined {
  return value === undefined ? undefined : new Uint8Array(checkBytes(name, value, 32));
}

/**
 * Checks a round state (types, ranges, byte lengths, the pairing of the lock and valid-value
 * fields and of `validatorCount` and `quorumSize`, `lockedRound`/`validRound` <= `round`,
 * `quorumSize` <= `validatorCount`, `updatedAt` >= `startedAt`) and returns a copy
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
  const isProposer = o['isProposer'];
  if (isProposer !== undefined) {
    if (typeof isProposer !== 'boolean') throw invalidArgument(`${name}.isProposer`, `must be a boolean, got ${typeof isProposer}`);
    state.isProposer = isProposer;
  }
  const validatorCount = o['validatorCount'];
  const quorumSize = o['quorumSize'];
  if ((validatorCount === undefined) !== (quorumSize === undefined)) {
    throw invalidArgument(`${name}.validatorCount`, 'and quorumSize must be given together or not at all');
  }
  if (validatorCount !== undefined && quorumSize !== undefined) {
    state.validatorCount = checkInteger(`${name}.validatorCount`, validatorCount, 1, MAX_ROUND_VALIDATOR_COUNT);
    state.quorumSize = checkInteger(`${name}.quorumSize`, quorumSize, 1, state.validatorCount);
  }
  return state;
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
    a.isProposer === b.isProposer &&
    a.validatorCount === b.validatorCount &&
    a.quorumSize === b.quorumSize &&
    a.startedAt === b.startedAt &&
    a.updatedAt === b.updatedAt
  );
}
