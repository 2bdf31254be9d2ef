/**
 * Verified votes (docs/stores.md, "Vote verification"): a vote whose signature was checked, in a
 * form only this library can mint, so that `appendVote` can skip a second check.
 *
 * A `VerifiedVote` is recognised by identity, never by its shape: every token is registered here,
 * in a module-private WeakMap, with a private copy of the vote as it was verified and the chain id
 * (and public key) it was verified for. A plain object with the same fields is not in the map and
 * is verified like any other vote; a token minted for another chain id is not trusted.
 *
 * The token itself is frozen and holds copies of the byte arrays (typed arrays cannot be frozen:
 * changing a token's bytes after minting changes nothing, because the store writes the private
 * copy taken at minting, never the token's visible fields).
 *
 * This module must never be re-exported from the package root (only the type is): a minter
 * anyone could call would be a flag anyone could set. Its callers are the vote stores
 * (`votes.verify`), the sign guard (the node's own votes) and the consensus engine's intake
 * (votes it verified with `verifyVoteFast`).
 */
import { ConsensusStoreError } from '../errors.ts';
import { verifyEd25519 } from '../codec/node-key.ts';
import { voteSignBytes } from '../codec/vote-sign.ts';
import type { ValidatorVote } from '../model/vote.ts';

declare const verifiedBrand: unique symbol;

/**
 * A vote whose signature this library verified for one chain id (docs/stores.md). Only
 * `votes.verify` (and the library's own engine and sign guard) make one; `appendVote` takes it
 * without checking the signature again.
 */
export type VerifiedVote = ValidatorVote & { readonly [verifiedBrand]: true };

/** What a token was verified for, and the vote as it was then. */
interface Minted {
  readonly chainId: string;
  readonly publicKey: Uint8Array;
  readonly vote: ValidatorVote;
}

const minted = new WeakMap<object, Minted>();

function copyOf(vote: ValidatorVote): ValidatorVote {
  return {
    validatorId: vote.validatorId,
    height: vote.height,
    round: vote.round,
    voteType: vote.voteType,
    blockHash: vote.blockHash === null ? null : vote.blockHash.slice(),
    timestamp: vote.timestamp,
    signature: vote.signature.slice(),
  };
}

/**
 * Mints a token for `vote`, which the caller has checked (`checkVote`: fields, limits) and whose
 * signature verified under `publicKey` for `chainId`. The caller vouches for both: only library
 * code that has just verified may call this.
 * @internal not exported from the package root.
 */
export function mintVerifiedVote(vote: ValidatorVote, chainId: string, publicKey: Uint8Array): VerifiedVote {
  const kept = copyOf(vote);
  const token = Object.freeze(copyOf(vote)) as VerifiedVote;
  minted.set(token, { chainId, publicKey: publicKey.slice(), vote: kept });
  return token;
}

/**
 * The vote as verified, when `value` is a token minted for `chainId`; undefined otherwise (not a
 * token, or one of another chain): then the caller verifies it like any vote. The returned vote
 * is the private copy taken at minting: the caller must not change it.
 * @internal
 */
export function verifiedVoteFor(value: unknown, chainId: string): ValidatorVote | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const m = minted.get(value);
  return m !== undefined && m.chainId === chainId ? m.vote : undefined;
}

/** Why a vote failed its signature check (`details.reason` of the INVALID_ARGUMENT). */
export type VoteRejection = 'unknown-validator' | 'key-not-valid-at-height' | 'bad-signature';

/** How a vote store checks the signature of a vote on append (docs/stores.md, "Vote verification"). */
export interface VoteVerification {
  /** The chain id the sign bytes are bound to. */
  readonly chainId: string;
  /** The validator's 32-byte ed25519 public key at `height`, or undefined when it has none then. */
  readonly publicKeyOf: (validatorId: string, height: number) => Uint8Array | undefined;
  /**
   * True when the validator is known at some height (so that a vote at a height where it has no
   * key is `key-not-valid-at-height`, not `unknown-validator`). Default: never known.
   */
  readonly knownValidator?: (validatorId: string) => boolean;
}

/**
 * Checks the signature of `vote` (already checked by `checkVote`) under `verification`, and
 * returns the key it verified under.
 * @throws ConsensusStoreError INVALID_ARGUMENT with `details.reason` (`VoteRejection`),
 *   `details.validatorId` and `details.height`; `name` names the vote in the message.
 */
export function checkVoteSignature(name: string, vote: ValidatorVote, verification: VoteVerification): Uint8Array {
  const { validatorId, height } = vote;
  const reject = (reason: VoteRejection, problem: string): ConsensusStoreError =>
    new ConsensusStoreError('INVALID_ARGUMENT', `${name} of validator ${JSON.stringify(validatorId)} at height ${height} is refused: ${problem}`, {
      details: { argument: name, reason, validatorId, height },
    });
  const key = verification.publicKeyOf(validatorId, height);
  if (key === undefined) {
    if (verification.knownValidator?.(validatorId) === true) throw reject('key-not-valid-at-height', 'the validator has no key at that height');
    throw reject('unknown-validator', 'the validator is not known');
  }
  if (!(key instanceof Uint8Array) || !verifyEd25519(vote.signature, voteSignBytes(vote, verification.chainId), key)) {
    throw reject('bad-signature', "the signature does not verify under the validator's key at that height");
  }
  return key;
}
