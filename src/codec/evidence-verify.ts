/**
 * What makes Byzantine evidence self-proving: its canonical content bytes and content id, the
 * rules each evidence type must meet (same validator, same slot, a real conflict), and the
 * ed25519 checks of its signatures against the validator's key at that height.
 *
 * Signatures are verified through node:crypto (OpenSSL, about 10x @noble/ed25519 here); the
 * test suite holds it to agree with @noble/ed25519 in RFC 8032 mode (`zip215: false`) on the RFC
 * vectors and on random and tampered signatures (docs/evidence-and-rewards.md, "Signatures").
 * The content id hashes fixed-layout bytes, never an object encoding. This module must never do
 * I/O and never trust a pair's order: a pair is sorted before it is hashed or stored.
 */
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { Point } from '@noble/ed25519';
import { sha256 } from '@noble/hashes/sha2.js';
import { ByteWriter, compareBytes, equalBytes, toHex } from './bytes.ts';
import type { ByzantineEvidence, EvidenceFailure, EvidenceVerdict } from '../model/evidence.ts';
import type { SignedProposal, ValidatorVote } from '../model/vote.ts';
import { ED25519_KEY_BYTES, SIGNATURE_BYTES } from '../model/vote.ts';
import { evidenceTypeCode } from './evidence-record.ts';
import { proposalSignBytes, voteSignBytes } from './vote-sign.ts';

/** Domain tag of evidence content bytes: ASCII `CSTORE-EVIDENCE-V1` and a NUL (19 bytes). */
export const EVIDENCE_CONTENT_TAG: Uint8Array = new TextEncoder().encode('CSTORE-EVIDENCE-V1\0');

/** DER prefix of an ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it. */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
/** Most parsed public keys kept (a validator set's worth); the cache is emptied when full. */
const KEY_CACHE_SIZE = 4096;
const keyCache = new Map<string, KeyObject | null>();

/**
 * The node:crypto key of a raw public key, or null when the key is not acceptable: not a
 * canonical encoding of a curve point, or a point of small order. OpenSSL alone accepts a
 * small-order key (with which one signature verifies for every message); @noble/ed25519 in RFC
 * 8032 mode refuses it, and so do we, so that both paths agree.
 */
function keyObjectOf(publicKey: Uint8Array): KeyObject | null {
  const hex = toHex(publicKey);
  let key = keyCache.get(hex);
  if (key !== undefined) return key;
  try {
    if (Point.fromBytes(publicKey, false).isSmallOrder()) key = null;
    else key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: 'der', type: 'spki' });
  } catch {
    key = null;
  }
  if (keyCache.size >= KEY_CACHE_SIZE) keyCache.clear();
  keyCache.set(hex, key);
  return key;
}

/**
 * True when `signature` is a valid ed25519 signature of `message` by the raw 32-byte
 * `publicKey`, through node:crypto. False for any malformed input (wrong lengths, a key that is
 * not a point); never throws.
 */
export function verifyEd25519Fast(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES || publicKey.length !== ED25519_KEY_BYTES) return false;
  const key = keyObjectOf(publicKey);
  if (key === null) return false;
  try {
    return cryptoVerify(null, message, key, signature);
  } catch {
    return false;
  }
}

/** A signed message of the evidence: its canonical sign bytes and its signature. */
interface SignedMessage {
  readonly bytes: Uint8Array;
  readonly signature: Uint8Array;
}

function voteMessage(v: ValidatorVote, chainId: string): SignedMessage {
  return { bytes: voteSignBytes(v, chainId), signature: v.signature };
}

function proposalMessage(p: SignedProposal, chainId: string): SignedMessage {
  return { bytes: proposalSignBytes(p, chainId), signature: p.signature };
}

/** Orders two messages by sign bytes, then signature: the canonical order of a pair. */
function compareMessages(a: SignedMessage, b: SignedMessage): number {
  return compareBytes(a.bytes, b.bytes) || compareBytes(a.signature, b.signature);
}

/**
 * The evidence with its pair of messages (if it has one) in canonical order: ascending by sign
 * bytes under `chainId`, then by signature. `(a, b)` and `(b, a)` give the same result.
 * @throws ConsensusStoreError INVALID_ARGUMENT on a malformed message or chain id.
 */
export function canonicalEvidence<E extends ByzantineEvidence>(e: E, chainId: string): E {
  if (e.type === 'Equivocation' || e.type === 'DoubleSign') {
    const { voteA, voteB } = e.details;
    if (compareMessages(voteMessage(voteA, chainId), voteMessage(voteB, chainId)) <= 0) return e;
    return { ...e, details: { voteA: voteB, voteB: voteA } };
  }
  if (e.type === 'ProposalEquivocation') {
    const { proposalA, proposalB } = e.details;
    if (compareMessages(proposalMessage(proposalA, chainId), proposalMessage(proposalB, chainId)) <= 0) return e;
    return { ...e, details: { proposalA: proposalB, proposalB: proposalA } };
  }
  return e;
}

function messagesOf(e: ByzantineEvidence, chainId: string): SignedMessage[] {
  switch (e.type) {
    case 'Equivocation':
    case 'DoubleSign':
      return [voteMessage(e.details.voteA, chainId), voteMessage(e.details.voteB, chainId)].sort(compareMessages);
    case 'InvalidSignature':
    case 'ReplayAttack':
      return [voteMessage(e.details.vote, chainId)];
    case 'ProposalEquivocation':
      return [proposalMessage(e.details.proposalA, chainId), proposalMessage(e.details.proposalB, chainId)].sort(compareMessages);
  }
}

/**
 * The canonical content bytes of evidence (docs/evidence-and-rewards.md): tag, type u8,
 * validator id (u16 length + UTF-8), height u64, message count u8, then per message in
 * canonical order its sign-bytes length u32, sign bytes and 64-byte signature; big-endian.
 * The reporting fields (`detectedAt`, `submittedBy`, `verifiedByQuorum`) and a replay's times
 * are not content: the same offense reported twice has one id.
 * @throws ConsensusStoreError INVALID_ARGUMENT on a malformed message or chain id.
 */
export function evidenceContentBytes(e: ByzantineEvidence, chainId: string): Uint8Array {
  const messages = messagesOf(e, chainId);
  const w = new ByteWriter()
    .bytes(EVIDENCE_CONTENT_TAG)
    .u8(evidenceTypeCode(e.type))
    .text(e.validatorId)
    .u64(e.height)
    .u8(messages.length);
  for (const m of messages) w.blob(m.bytes).bytes(m.signature);
  return w.finish();
}

/** The 32-byte content id: SHA-256 of `evidenceContentBytes`. */
export function evidenceContentId(e: ByzantineEvidence, chainId: string): Uint8Array {
  return sha256(evidenceContentBytes(e, chainId));
}

/** Looks up a validator's raw 32-byte public key at a height (undefined: unknown then). */
export type PublicKeyAt = (validatorId: string, height: number) => Uint8Array | undefined;

function fail(failure: EvidenceFailure, reason: string): EvidenceVerdict {
  return { ok: false, failure, reason };
}

const OK: EvidenceVerdict = { ok: true };

/** Checks that each message's signature verifies under its validator's key at its height. */
function checkSignatures(
  messages: readonly { readonly validatorId: string; readonly height: number; readonly message: SignedMessage }[],
  publicKeyAt: PublicKeyAt,
): EvidenceVerdict {
  for (const { validatorId, height, message } of messages) {
    const key = publicKeyAt(validatorId, height);
    if (key === undefined) return fail('UNKNOWN_VALIDATOR', `no public key for validator ${validatorId} at height ${height}`);
    if (!verifyEd25519Fast(message.signature, message.bytes, key)) {
      return fail('BAD_SIGNATURE', `a signature does not verify under validator ${validatorId}'s key at height ${height}`);
    }
  }
  return OK;
}

function checkAuthors(e: ByzantineEvidence, authors: readonly string[]): EvidenceVerdict {
  for (const author of authors) {
    if (author !== e.validatorId) return fail('VALIDATOR_MISMATCH', `a message is from ${author}, not from ${e.validatorId}`);
  }
  return OK;
}

function checkHeight(e: ByzantineEvidence, height: number): EvidenceVerdict {
  return e.height === height ? OK : fail('HEIGHT_MISMATCH', `evidence height ${e.height} is not the offense height ${height}`);
}

function verifyEquivocation(e: ByzantineEvidence & { type: 'Equivocation' }, chainId: string, keys: PublicKeyAt): EvidenceVerdict {
  const { voteA: a, voteB: b } = e.details;
  const authors = checkAuthors(e, [a.validatorId, b.validatorId]);
  if (!authors.ok) return authors;
  if (a.round !== b.round) return fail('DIFFERENT_ROUND', `the votes are for rounds ${a.round} and ${b.round}`);
  if (a.voteType !== b.voteType) return fail('DIFFERENT_TYPE', `the votes are a ${a.voteType} and a ${b.voteType}`);
  if (a.height === b.height && equalBytes(a.blockHash, b.blockHash)) {
    return fail('NOT_CONFLICTING', 'the votes have the same height and block hash');
  }
  const height = checkHeight(e, Math.min(a.height, b.height));
  if (!height.ok) return height;
  return checkSignatures(
    [
      { validatorId: a.validatorId, height: a.height, message: voteMessage(a, chainId) },
      { validatorId: b.validatorId, height: b.height, message: voteMessage(b, chainId) },
    ],
    keys,
  );
}

function verifyDoubleSign(e: ByzantineEvidence & { type: 'DoubleSign' }, chainId: string, keys: PublicKeyAt): EvidenceVerdict {
  const { voteA: a, voteB: b } = e.details;
  const authors = checkAuthors(e, [a.validatorId, b.validatorId]);
  if (!authors.ok) return authors;
  if (a.voteType !== 'commit' || b.voteType !== 'commit') {
    return fail('WRONG_VOTE_TYPE', `double signing needs two commit votes, got a ${a.voteType} and a ${b.voteType}`);
  }
  if (a.height !== b.height) return fail('DIFFERENT_HEIGHT', `the votes are for heights ${a.height} and ${b.height}`);
  if (a.blockHash === null || b.blockHash === null) return fail('NIL_VOTE', 'a nil commit vote does not sign a block');
  if (equalBytes(a.blockHash, b.blockHash)) return fail('NOT_CONFLICTING', 'the votes commit the same block hash');
  const height = checkHeight(e, a.height);
  if (!height.ok) return height;
  return checkSignatures(
    [
      { validatorId: a.validatorId, height: a.height, message: voteMessage(a, chainId) },
      { validatorId: b.validatorId, height: b.height, message: voteMessage(b, chainId) },
    ],
    keys,
  );
}

function verifySingleVote(e: ByzantineEvidence & { type: 'InvalidSignature' | 'ReplayAttack' }, chainId: string, keys: PublicKeyAt): EvidenceVerdict {
  const v = e.details.vote;
  const authors = checkAuthors(e, [v.validatorId]);
  if (!authors.ok) return authors;
  const height = checkHeight(e, v.height);
  if (!height.ok) return height;
  if (e.type === 'ReplayAttack' && !(e.details.replayedAt > e.details.firstSeenAt)) {
    return fail('NOT_A_REPLAY', `replayedAt ${e.details.replayedAt} is not after firstSeenAt ${e.details.firstSeenAt}`);
  }
  const verdict = checkSignatures([{ validatorId: v.validatorId, height: v.height, message: voteMessage(v, chainId) }], keys);
  if (e.type === 'ReplayAttack' || (!verdict.ok && verdict.failure !== 'BAD_SIGNATURE')) return verdict;
  return verdict.ok ? fail('SIGNATURE_VALID', 'the vote signature verifies: it is not an invalid signature') : OK;
}

function verifyProposals(e: ByzantineEvidence & { type: 'ProposalEquivocation' }, chainId: string, keys: PublicKeyAt): EvidenceVerdict {
  const { proposalA: a, proposalB: b } = e.details;
  const authors = checkAuthors(e, [a.validatorId, b.validatorId]);
  if (!authors.ok) return authors;
  if (a.height !== b.height) return fail('DIFFERENT_HEIGHT', `the proposals are for heights ${a.height} and ${b.height}`);
  if (a.round !== b.round) return fail('DIFFERENT_ROUND', `the proposals are for rounds ${a.round} and ${b.round}`);
  if (equalBytes(a.blockHash, b.blockHash)) return fail('NOT_CONFLICTING', 'the proposals propose the same block hash');
  const height = checkHeight(e, a.height);
  if (!height.ok) return height;
  return checkSignatures(
    [
      { validatorId: a.validatorId, height: a.height, message: proposalMessage(a, chainId) },
      { validatorId: b.validatorId, height: b.height, message: proposalMessage(b, chainId) },
    ],
    keys,
  );
}

/**
 * Checks that `e` proves what its type says (docs/evidence-and-rewards.md, "What each type
 * proves"): the messages are the accused validator's, for one slot, really conflicting, with
 * `height` the offense height, and every signature checks against the validator's key at the
 * message's height (for InvalidSignature: fails to). Cheap structural rules first, signatures last.
 * `e` must have passed `checkEvidence`.
 * @throws ConsensusStoreError INVALID_ARGUMENT on a malformed chain id.
 */
export function verifyEvidenceContent(e: ByzantineEvidence, chainId: string, publicKeyAt: PublicKeyAt): EvidenceVerdict {
  switch (e.type) {
    case 'Equivocation':
      return verifyEquivocation(e, chainId, publicKeyAt);
    case 'DoubleSign':
      return verifyDoubleSign(e, chainId, publicKeyAt);
    case 'InvalidSignature':
    case 'ReplayAttack':
      return verifySingleVote(e, chainId, publicKeyAt);
    case 'ProposalEquivocation':
      return verifyProposals(e, chainId, publicKeyAt);
  }
}
