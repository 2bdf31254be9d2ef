/**
 * Deliberate misbehaviour for devnets and tests: an equivocator signs, next to each of its
 * node's honest prevotes and precommits, a second vote for the same (height, round, type) and
 * another block hash, with the raw key (bypassing the sign guard, which would refuse it); a
 * proposal equivocator signs, next to each of its honest proposals, a second proposal for the
 * same (height, round) naming another block.
 *
 * It exists to prove that honest nodes turn equivocation into evidence (and a vote
 * equivocation into a slash). It must never be enabled on a real validator, and never sign a
 * commit vote.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { proposalSignBytes, signBytes, signVote } from '../codec/vote-sign.ts';
import type { ValidatorVote } from '../model/vote.ts';
import { blockHash } from './block.ts';
import type { ProposalMessage } from './types.ts';

/** Produces the conflicting twin of an honest vote or proposal, or undefined to stay honest for it. */
export interface Equivocator {
  conflictingVote(honest: ValidatorVote): ValidatorVote | undefined;
  /** The twin of an honest proposal (absent: proposals stay honest). */
  conflictingProposal?(honest: ProposalMessage): ProposalMessage | undefined;
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

/**
 * An equivocator that doubles every proposal (and no vote): the twin names a block whose parent
 * hash is SHA-256(tag, honest parent hash), a block no honest node votes for.
 * @param privateKey the node's 32-byte ed25519 key.
 */
export function createProposalEquivocator(privateKey: Uint8Array, chainId: string): Equivocator {
  const key = privateKey.slice();
  return {
    conflictingVote: () => undefined,
    conflictingProposal(honest) {
      const input = new Uint8Array(EVIL_TAG.length + 32);
      input.set(EVIL_TAG);
      input.set(honest.block.parentHash, EVIL_TAG.length);
      const block = { ...honest.block, parentHash: sha256(input) };
      const { signature: _ignored, ...unsigned } = honest.proposal;
      const twin = { ...unsigned, blockHash: blockHash(block, chainId) };
      return { type: 'proposal', proposal: { ...twin, signature: signBytes(proposalSignBytes(twin, chainId), key) }, block };
    },
  };
}
