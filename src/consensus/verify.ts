/**
 * Fast signature checks of received votes and proposals through node:crypto's ed25519 (about
 * ten times @noble/ed25519's verify), over the package's canonical sign bytes. Public keys are
 * turned into KeyObjects once and cached.
 *
 * It must never sign (the node signs only through the sign guard), and never throw on
 * malformed input from the network: a bad message verifies false.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { proposalSignBytes, voteSignBytes } from '../codec/vote-sign.ts';
import { checkVote, type SignedProposal, type ValidatorVote } from '../model/vote.ts';
import { mintVerifiedVote, type VerifiedVote } from '../stores/verified-vote.ts';
import { toHex } from '../codec/bytes.ts';

/** DER prefix of an ed25519 SubjectPublicKeyInfo; the 32-byte key follows. */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const MAX_CACHED_KEYS = 4096;
const keys = new Map<string, KeyObject>();

function keyObject(publicKey: Uint8Array): KeyObject {
  const hex = toHex(publicKey);
  let key = keys.get(hex);
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: 'der', type: 'spki' });
    if (keys.size >= MAX_CACHED_KEYS) keys.clear();
    keys.set(hex, key);
  }
  return key;
}

/** True when `signature` is a valid ed25519 signature of `message` by the 32-byte `publicKey`. */
export function verifyEd25519(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  try {
    return verify(null, message, keyObject(publicKey), signature);
  } catch {
    return false;
  }
}

/** True when the vote is well formed and signed by `publicKey` for `chainId`. */
export function verifyVoteFast(vote: ValidatorVote, publicKey: Uint8Array, chainId: string): boolean {
  try {
    return verifyEd25519(vote.signature, voteSignBytes(vote, chainId), publicKey);
  } catch {
    return false;
  }
}

/**
 * The vote as a `VerifiedVote` (docs/stores.md, "Vote verification") when it is well formed
 * (`checkVote`) and signed by `publicKey` for `chainId`; undefined otherwise. The store then
 * takes it without verifying it again. Never throws.
 */
export function verifiedVoteFast(vote: ValidatorVote, publicKey: Uint8Array, chainId: string): VerifiedVote | undefined {
  let checked: ValidatorVote;
  try {
    checked = checkVote('vote', vote);
  } catch {
    return undefined;
  }
  return verifyVoteFast(checked, publicKey, chainId) ? mintVerifiedVote(checked, chainId, publicKey) : undefined;
}

/**
 * A vote that `verifyVoteFast` already accepted under `publicKey` (a certificate's precommit,
 * `checkCertificate`), as a `VerifiedVote`; the plain vote when it is malformed (the store then
 * checks it and refuses it). The caller vouches for the signature: nothing else may call this.
 */
export function alreadyVerifiedVote(vote: ValidatorVote, publicKey: Uint8Array, chainId: string): ValidatorVote {
  try {
    return mintVerifiedVote(checkVote('vote', vote), chainId, publicKey);
  } catch {
    return vote;
  }
}

/** True when the proposal is well formed and signed by `publicKey` for `chainId`. */
export function verifyProposalFast(proposal: SignedProposal, publicKey: Uint8Array, chainId: string): boolean {
  try {
    return verifyEd25519(proposal.signature, proposalSignBytes(proposal, chainId), publicKey);
  } catch {
    return false;
  }
}
