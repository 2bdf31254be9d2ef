/**
 * Votes and proposals as values: their types, the limits of their fields (ids, hashes,
 * signatures, keys) and the checks a vote, an unsigned vote or a proposal must pass at the API
 * boundary (`checkVote`, `checkUnsignedVote`, `checkUnsignedProposal`, `checkSignedProposal`,
 * and the field checks they are made of). docs/stores.md, "Votes", gives the rules; the sign
 * bytes that cover these values are in src/codec/vote-sign.ts.
 *
 * model/ holds plain values, their limits and their checks: it does no I/O and imports nothing
 * but model/ itself and src/errors.ts.
 */
import { invalidArgument } from '../errors.ts';
import { checkBytes, checkObject, checkOneOf, checkSafeUint, checkString, checkU32 } from './check.ts';

/** The three vote types. */
export type VoteType = 'prevote' | 'precommit' | 'commit';

/** All vote types, in step order (used by the sign guard's step ordering). */
export const VOTE_TYPES: readonly VoteType[] = ['prevote', 'precommit', 'commit'];

/** Longest validator id, in UTF-16 code units. */
export const MAX_VALIDATOR_ID_LENGTH = 128;
/** Longest chain id, in UTF-16 code units. */
export const MAX_CHAIN_ID_LENGTH = 64;
/** Bytes of a block hash. */
export const BLOCK_HASH_BYTES = 32;
/** Bytes of an ed25519 signature. */
export const SIGNATURE_BYTES = 64;
/** Bytes of an ed25519 private key (the 32-byte seed) and of a public key. */
export const ED25519_KEY_BYTES = 32;

/** A validator's signed vote. */
export interface ValidatorVote {
  /** The validator's id (1..128 UTF-16 code units, well-formed Unicode). */
  readonly validatorId: string;
  /** Block height, 0..2^53-1. */
  readonly height: number;
  /** Global round (u32), monotonic across heights (docs/stores.md, Votes). */
  readonly round: number;
  readonly voteType: VoteType;
  /** 32-byte block hash, or null for a nil vote. */
  readonly blockHash: Uint8Array | null;
  /** When the validator cast it, ms since the epoch (0..2^53-1). */
  readonly timestamp: number;
  /** 64-byte ed25519 signature over `voteSignBytes(vote, chainId)`. */
  readonly signature: Uint8Array;
}

/** A vote before it is signed (what the sign guard and `signVote` take). */
export type UnsignedVote = Omit<ValidatorVote, 'signature'>;

/** A block proposal before it is signed. */
export interface UnsignedProposal {
  /** The proposer's validator id (must be the node's own). */
  readonly validatorId: string;
  readonly height: number;
  readonly round: number;
  /** The proposed block's 32-byte hash. */
  readonly blockHash: Uint8Array;
  /** The round of the proof-of-lock this proposal re-proposes, or null. */
  readonly polRound: number | null;
  /** ms since the epoch. */
  readonly timestamp: number;
}

/** A signed proposal. */
export interface SignedProposal extends UnsignedProposal {
  /** 64-byte ed25519 signature over `proposalSignBytes(proposal, chainId)`. */
  readonly signature: Uint8Array;
}

/** True when `s` has no lone UTF-16 surrogate (so it survives a UTF-8 round trip unchanged). */
export function isWellFormedString(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c > 0xdbff) return false;
    const next = s.charCodeAt(i + 1);
    if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
    i++;
  }
  return true;
}

function checkId(name: string, value: unknown, maxLength: number): string {
  const s = checkString(name, value, maxLength);
  if (!isWellFormedString(s)) throw invalidArgument(name, 'must be well-formed Unicode (no lone surrogates)');
  return s;
}

/** A validator id: 1..128 UTF-16 code units of well-formed Unicode. Throws INVALID_ARGUMENT. */
export function checkValidatorId(name: string, value: unknown): string {
  return checkId(name, value, MAX_VALIDATOR_ID_LENGTH);
}

/** A chain id: 1..64 UTF-16 code units of well-formed Unicode. Throws INVALID_ARGUMENT. */
export function checkChainId(name: string, value: unknown): string {
  return checkId(name, value, MAX_CHAIN_ID_LENGTH);
}

/** A block hash: exactly 32 bytes, or null when `nullable`. Throws INVALID_ARGUMENT. */
export function checkBlockHash(name: string, value: unknown, nullable: boolean): Uint8Array | null {
  if (value === null && nullable) return null;
  return checkBytes(name, value, BLOCK_HASH_BYTES);
}

/**
 * Checks every field of an unsigned vote (types, ranges, lengths) and returns a copy that
 * shares no mutable state with the caller (the hash is copied). Throws INVALID_ARGUMENT.
 */
export function checkUnsignedVote(name: string, value: unknown): UnsignedVote {
  const v = checkObject(name, value);
  return {
    validatorId: checkValidatorId(`${name}.validatorId`, v.validatorId),
    height: checkSafeUint(`${name}.height`, v.height),
    round: checkU32(`${name}.round`, v.round),
    voteType: checkOneOf(`${name}.voteType`, v.voteType, VOTE_TYPES),
    blockHash: copyOrNull(checkBlockHash(`${name}.blockHash`, v.blockHash, true)),
    timestamp: checkSafeUint(`${name}.timestamp`, v.timestamp),
  };
}

/** Checks a signed vote (an unsigned one plus a 64-byte signature) and returns a private copy. Throws INVALID_ARGUMENT. */
export function checkVote(name: string, value: unknown): ValidatorVote {
  const unsigned = checkUnsignedVote(name, value);
  const signature = checkBytes(`${name}.signature`, (value as { signature?: unknown }).signature, SIGNATURE_BYTES);
  return { ...unsigned, signature: signature.slice() };
}

/** Checks an unsigned proposal and returns a private copy. Throws INVALID_ARGUMENT. */
export function checkUnsignedProposal(name: string, value: unknown): UnsignedProposal {
  const p = checkObject(name, value);
  const polRound = p.polRound === null ? null : checkU32(`${name}.polRound`, p.polRound);
  const height = checkSafeUint(`${name}.height`, p.height);
  const round = checkU32(`${name}.round`, p.round);
  if (polRound !== null && polRound >= round) throw invalidArgument(`${name}.polRound`, 'must be below round (or null)');
  return {
    validatorId: checkValidatorId(`${name}.validatorId`, p.validatorId),
    height,
    round,
    blockHash: (checkBlockHash(`${name}.blockHash`, p.blockHash, false) as Uint8Array).slice(),
    polRound,
    timestamp: checkSafeUint(`${name}.timestamp`, p.timestamp),
  };
}

function copyOrNull(bytes: Uint8Array | null): Uint8Array | null {
  return bytes === null ? null : bytes.slice();
}

/** A signed proposal: the unsigned checks plus a 64-byte signature; returns a private copy. */
export function checkSignedProposal(name: string, value: unknown): SignedProposal {
  const unsigned = checkUnsignedProposal(name, value);
  const signature = checkBytes(`${name}.signature`, (value as { signature?: unknown }).signature, SIGNATURE_BYTES);
  return { ...unsigned, signature: signature.slice() };
}
