/**
 * Deliberate misbehaviour for devnets and tests: an equivocator signs, next to each of its
 * node's honest prevotes and precommits, a second vote for the same (height, round, type) and
 * another block hash, with the raw key (bypassing the sign guard, which would refuse it).
 *
 * It exists to prove that honest nodes turn equivocation into evidence and a slash. It must
 * never be enabled on a real validator, and never sign a commit vote or a proposal.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { signVote } from '../codec/vote-sign.ts';
import type { ValidatorVote } from '../model/vote.ts';

/** Produces the conflicting twin of an honest vote, or undefined to stay honest for that vote. */
export interface Equivocator {
  conflictingVote(honest: ValidatorVote): ValidatorVote | undefined;
}

const EVIL_TAG = new TextEncoder().encode('CSTORE-EQUIVOCATE');

/**
 * An equivocator that doubles every prevote and precommit: the twin votes for
 * SHA-256(tag, honest hash or nothing), a block that does not exist.
 * @param privateKey the node's 32-byte ed25519 key.
 */
export function createEquivocator(privateKey: Uint8Array, chainId: string): Equivocator {
  const key = privateKey.slice();
  return {
    conflictingVote(honest) {
      if (honest.voteType === 'commit') return undefined;
      const input = new Uint8Array(EVIL_TAG.length + 32);
      input.set(EVIL_TAG);
      if (honest.blockHash !== null) input.set(honest.blockHash, EVIL_TAG.length);
      const { signature: _ignored, ...unsigned } = honest;
      return signVote({ ...unsigned, blockHash: sha256(input) }, key, chainId);
    },
  };
}
