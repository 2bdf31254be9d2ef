/**
 * Decision certificates: a block with the 2/3+ precommits that decided it. A node that fell
 * behind (restarted, partitioned) catches up by checking one certificate per height instead of
 * replaying the rounds it missed. Pure functions: building from stored votes, and checking one
 * that came from the network (every signature, the stake, the block hash).
 *
 * It must never accept a certificate whose precommits do not hold 2/3+ of the stake for exactly
 * this block at exactly this (height, round), each validator counted once.
 */
import { equalBytes } from '../codec/bytes.ts';
import { blockHash } from './block.ts';
import type { Block, CertificateMessage } from './types.ts';
import type { ValidatorSet } from './validator-set.ts';
import { verifyVoteFast } from './verify.ts';
import type { ValidatorVote } from '../model/vote.ts';

/**
 * Builds the certificate of `block`, decided in `round`, from stored votes: the precommits of
 * that round for that block, one per validator; undefined when they do not reach 2/3+.
 */
export function buildCertificate(
  block: Block,
  round: number,
  votes: readonly ValidatorVote[],
  set: ValidatorSet,
  chainId: string,
): CertificateMessage | undefined {
  const hash = blockHash(block, chainId);
  const chosen = new Map<string, ValidatorVote>();
  let stake = 0n;
  for (const v of votes) {
    if (v.voteType !== 'precommit' || v.round !== round || v.height !== block.height || !equalBytes(v.blockHash, hash)) continue;
    if (chosen.has(v.validatorId) || set.get(v.validatorId) === undefined) continue;
    chosen.set(v.validatorId, v);
    stake += set.stakeOf(v.validatorId);
  }
  if (!set.isQuorum(stake)) return undefined;
  return { type: 'certificate', round, block, precommits: [...chosen.values()] };
}

/**
 * Checks a certificate from the network: the block's hash, and precommits of known validators
 * for that hash at the block's height and the certificate's round, correctly signed, distinct,
 * holding 2/3+ of the stake. Returns the block hash when it holds, undefined otherwise.
 */
export function checkCertificate(cert: CertificateMessage, set: ValidatorSet, chainId: string): Uint8Array | undefined {
  const hash = blockHash(cert.block, chainId);
  const seen = new Set<string>();
  let stake = 0n;
  for (const v of cert.precommits) {
    const validator = set.get(v.validatorId);
    if (validator === undefined || seen.has(v.validatorId)) return undefined;
    if (v.voteType !== 'precommit' || v.round !== cert.round || v.height !== cert.block.height || !equalBytes(v.blockHash, hash)) return undefined;
    if (!verifyVoteFast(v, validator.publicKey, chainId)) return undefined;
    seen.add(v.validatorId);
    stake += validator.stake;
  }
  return set.isQuorum(stake) ? hash : undefined;
}
