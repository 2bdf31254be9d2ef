/**
 * Canonical sign bytes of votes and proposals, ed25519 signing and verification
 * (docs/format.md, "Signed and hashed bytes", describes the layout). The checks of the values
 * that go into them are in src/model/vote.ts.
 *
 * The sign bytes are a fixed, documented layout, bound to a chain id. They must never be a
 * msgpackr (or any other object) re-encoding: two encoders may order or size fields differently,
 * and a signature must verify forever. The timestamp is the last field on purpose: the sign
 * guard compares two requests "except the timestamp" by comparing all bytes but the last 8.
 */
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { ByteWriter, equalBytes, joinU64 } from './bytes.ts';
import { checkBytes } from '../model/check.ts';
import { checkPrivateKey } from '../model/sign.ts';
import {
  BLOCK_HASH_BYTES,
  checkChainId,
  checkUnsignedProposal,
  checkUnsignedVote,
  ED25519_KEY_BYTES,
  SIGNATURE_BYTES,
  VOTE_TYPES,
} from '../model/vote.ts';
import type { UnsignedProposal, UnsignedVote, ValidatorVote, VoteType } from '../model/vote.ts';

ed.hashes.sha512 = sha512;

const utf8 = new TextEncoder();

/** Domain tag of vote sign bytes: ASCII `CSTORE-VOTE-V1` and a NUL (15 bytes). */
export const VOTE_SIGN_TAG: Uint8Array = utf8.encode('CSTORE-VOTE-V1\0');
/** Domain tag of proposal sign bytes: ASCII `CSTORE-PROPOSAL-V1` and a NUL (19 bytes). */
export const PROPOSAL_SIGN_TAG: Uint8Array = utf8.encode('CSTORE-PROPOSAL-V1\0');

/** The vote type's code in sign bytes and records: prevote 1, precommit 2, commit 3. */
export function voteTypeCode(type: VoteType): number {
  return VOTE_TYPES.indexOf(type) + 1;
}

/** The vote type of a code (1..3), or undefined. */
export function voteTypeOfCode(code: number): VoteType | undefined {
  return VOTE_TYPES[code - 1];
}

/** Appends a nil flag (0 present, 1 nil) and the 32-byte hash (zero when nil): the layout of an optional block hash. */
export function writeOptionalHash(w: ByteWriter, hash: Uint8Array | null): ByteWriter {
  return hash === null ? w.u8(1).bytes(new Uint8Array(BLOCK_HASH_BYTES)) : w.u8(0).bytes(hash);
}

/**
 * The canonical bytes a vote's signature covers (docs/format.md, "Signed and hashed bytes"): tag, chain id, validator
 * id, height u64, round u32, type u8, nil flag + 32-byte hash, timestamp u64 (last), big-endian.
 * The `signature` field, if present, is ignored.
 * @throws ConsensusStoreError INVALID_ARGUMENT on a bad field or chain id.
 */
export function voteSignBytes(vote: UnsignedVote, chainId: string): Uint8Array {
  const v = checkUnsignedVote('vote', vote);
  const w = new ByteWriter()
    .bytes(VOTE_SIGN_TAG)
    .text(checkChainId('chainId', chainId))
    .text(v.validatorId)
    .u64(v.height)
    .u32(v.round)
    .u8(voteTypeCode(v.voteType));
  return writeOptionalHash(w, v.blockHash).u64(v.timestamp).finish();
}

/**
 * The canonical bytes a proposal's signature covers: tag, chain id, proposer id, height u64,
 * round u32, pol flag + pol round u32, 32-byte hash, timestamp u64 (last), big-endian.
 * @throws ConsensusStoreError INVALID_ARGUMENT on a bad field or chain id.
 */
export function proposalSignBytes(proposal: UnsignedProposal, chainId: string): Uint8Array {
  const p = checkUnsignedProposal('proposal', proposal);
  return new ByteWriter()
    .bytes(PROPOSAL_SIGN_TAG)
    .text(checkChainId('chainId', chainId))
    .text(p.validatorId)
    .u64(p.height)
    .u32(p.round)
    .u8(p.polRound === null ? 1 : 0)
    .u32(p.polRound ?? 0)
    .bytes(p.blockHash)
    .u64(p.timestamp)
    .finish();
}

/** Bytes of the trailing timestamp field of every sign-bytes layout here. */
export const SIGN_BYTES_TIMESTAMP_SIZE = 8;

/**
 * The trailing timestamp of sign bytes (big-endian u64); -1 above 2^53 - 1, which sign bytes
 * built here never carry (their timestamp was checked).
 */
export function timestampOfSignBytes(signBytes: Uint8Array): number {
  const view = new DataView(signBytes.buffer, signBytes.byteOffset, signBytes.byteLength);
  const at = signBytes.length - SIGN_BYTES_TIMESTAMP_SIZE;
  return joinU64(view.getUint32(at), view.getUint32(at + 4));
}

/** True when two sign-bytes strings are equal except (possibly) their trailing timestamp. */
export function differOnlyInTimestamp(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length || a.length < SIGN_BYTES_TIMESTAMP_SIZE) return false;
  const n = a.length - SIGN_BYTES_TIMESTAMP_SIZE;
  return equalBytes(a.subarray(0, n), b.subarray(0, n));
}

/** The ed25519 public key (32 bytes) of a 32-byte private key. Throws INVALID_ARGUMENT on a bad key. */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  return ed.getPublicKey(checkPrivateKey('privateKey', privateKey));
}

/** A fresh random ed25519 private key (32 bytes), from the platform CSPRNG. */
export function randomPrivateKey(): Uint8Array {
  return ed.utils.randomSecretKey();
}

/** ed25519 signature (64 bytes) of `message`. Throws INVALID_ARGUMENT on a bad key. */
export function signBytes(message: Uint8Array, privateKey: Uint8Array): Uint8Array {
  return ed.sign(message, checkPrivateKey('privateKey', privateKey));
}

/** True when `signature` is a valid ed25519 signature of `message` by `publicKey`; false for any malformed input. */
export function verifyBytes(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES || publicKey.length !== ED25519_KEY_BYTES) return false;
  try {
    return ed.verify(signature, message, publicKey);
  } catch {
    return false;
  }
}

/**
 * Signs a vote with a private key, bound to `chainId`. This is the raw operation: the node's own
 * votes must go through the sign guard (`signGuard.signVote`), which refuses double signing.
 * @returns the vote with its 64-byte signature.
 * @throws ConsensusStoreError INVALID_ARGUMENT on a bad vote, key or chain id.
 */
export function signVote(vote: UnsignedVote, privateKey: Uint8Array, chainId: string): ValidatorVote {
  const v = checkUnsignedVote('vote', vote);
  return { ...v, signature: signBytes(voteSignBytes(v, chainId), privateKey) };
}

/**
 * Verifies a vote's signature against a validator's 32-byte public key and `chainId`.
 * @returns true when the signature is valid; false when it is not (or has a wrong length).
 * @throws ConsensusStoreError INVALID_ARGUMENT when the vote's fields, the key or the chain id are malformed.
 */
export function verifyVote(vote: ValidatorVote, publicKey: Uint8Array, chainId: string): boolean {
  const key = checkBytes('publicKey', publicKey, ED25519_KEY_BYTES);
  const sig = (vote as { signature?: unknown } | null)?.signature;
  const message = voteSignBytes(vote, chainId);
  return sig instanceof Uint8Array && verifyBytes(sig, message, key);
}

