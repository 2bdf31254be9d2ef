/**
 * Block hashing, and the rules for the validator-set transactions a block carries. A block's
 * hash is SHA-256 over fixed-layout bytes (never a re-encoding of an object: docs/format.md,
 * Signed and hashed bytes), bound to the chain id, so two nodes always agree on it.
 *
 * Versions: a block without transactions hashes exactly as before transactions existed
 * (`CSTORE-BLOCK-V1`), so the blocks in existing data directories keep their hashes; a block
 * with transactions hashes under `CSTORE-BLOCK-V2`, the V1 fields followed by the
 * transactions (docs/devnet.md, "Validator-set changes").
 *
 * It must never hash a msgpackr encoding, or anything that is not in `Block`.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ByteWriter, compareBytes } from '../codec/bytes.ts';
import { voteSignBytes } from '../codec/vote-sign.ts';
import { BLOCK_HASH_BYTES, type ValidatorVote } from '../model/vote.ts';
import type { Block, EquivocationPair, ValidatorTx } from './types.ts';
import type { ValidatorSet } from './validator-set.ts';
import { verifyVoteFast } from './verify.ts';

const utf8 = new TextEncoder();
const BLOCK_TAG = utf8.encode('CSTORE-BLOCK-V1\0');
const BLOCK_TAG_V2 = utf8.encode('CSTORE-BLOCK-V2\0');
/** Code of a slash transaction in the hashed bytes. */
const TX_SLASH = 1;

/** Most validator-set transactions one block carries. */
export const MAX_BLOCK_TXS = 8;

/**
 * How many heights after its block a validator-set change takes effect: decided in the block
 * at height H, in effect from H + 2. While at H the engine already takes votes and proposals
 * of H + 1, so the set of H + 1 must be fixed when H starts (docs/stores-rounds-validators.md).
 */
export const SET_CHANGE_DELAY = 2;

/** The parent hash of height 1: 32 zero bytes. */
export const GENESIS_PARENT_HASH: Uint8Array = new Uint8Array(BLOCK_HASH_BYTES);

/**
 * The block's 32-byte hash: SHA-256 of tag, chain id (u16 length + UTF-8), height u64, round
 * u32, proposer (u16 length + UTF-8), parent hash (32 bytes), all big-endian; with
 * transactions, under the V2 tag, then their count (u16) and each transaction's bytes
 * (`txBytes`).
 */
export function blockHash(block: Block, chainId: string): Uint8Array {
  const txs = block.txs ?? [];
  const w = new ByteWriter()
    .bytes(txs.length === 0 ? BLOCK_TAG : BLOCK_TAG_V2)
    .text(chainId)
    .u64(block.height)
    .u32(block.round)
    .text(block.proposer)
    .bytes(block.parentHash);
  if (txs.length > 0) {
    w.u16(txs.length);
    for (const tx of txs) w.blob(txBytes(tx, chainId));
  }
  return sha256(w.finish());
}

/**
 * The fixed-layout bytes of one transaction, as hashed: for a slash, its code (u8), then each
 * vote's sign bytes and signature (each u32 length + bytes), the pair in sign-bytes order so
 * that both orders of one pair hash alike.
 */
export function txBytes(tx: ValidatorTx, chainId: string): Uint8Array {
  const [a, b] = orderedPair(tx.evidence, chainId);
  return new ByteWriter()
    .u8(TX_SLASH)
    .blob(voteSignBytes(a, chainId))
    .blob(a.signature)
    .blob(voteSignBytes(b, chainId))
    .blob(b.signature)
    .finish();
}

/** The pair's votes in the order of their sign bytes. */
export function orderedPair(pair: EquivocationPair, chainId: string): [ValidatorVote, ValidatorVote] {
  return compareBytes(voteSignBytes(pair.voteA, chainId), voteSignBytes(pair.voteB, chainId)) <= 0 ? [pair.voteA, pair.voteB] : [pair.voteB, pair.voteA];
}

/** The validator a transaction is about. */
export function txValidator(tx: ValidatorTx): string {
  return tx.evidence.voteA.validatorId;
}

/**
 * Why the pair does not prove an equivocation of a validator of `set` (undefined when it does):
 * one validator, the same round and vote type, another block hash or height, both signatures
 * good under the validator's key in `set`.
 */
export function pairProblem(pair: EquivocationPair, set: ValidatorSet, chainId: string): string | undefined {
  const { voteA: a, voteB: b } = pair;
  if (a.validatorId !== b.validatorId) return 'the two votes are of different validators';
  if (a.round !== b.round || a.voteType !== b.voteType) return 'the two votes are not of one round and vote type';
  if (a.voteType === 'commit') return 'commit votes are not slashable';
  const sameBlock = a.blockHash === null ? b.blockHash === null : b.blockHash !== null && compareBytes(a.blockHash, b.blockHash) === 0;
  if (a.height === b.height && sameBlock) return 'the two votes do not conflict';
  const validator = set.get(a.validatorId);
  if (validator === undefined) return `${a.validatorId} is not in the validator set`;
  if (!verifyVoteFast(a, validator.publicKey, chainId) || !verifyVoteFast(b, validator.publicKey, chainId)) return 'a signature does not verify';
  return undefined;
}

/**
 * Why the block's transactions are not valid (undefined when they are): at most
 * `MAX_BLOCK_TXS`, one per validator, each a proven equivocation of votes at or below the
 * block's height by a validator still in `nextSet`, the set of the block's height + 1 (one
 * already removed, or whose removal an earlier block decided, is not in it). Every node decides
 * this alike: `nextSet` follows from the blocks below the block's height.
 */
export function blockTxsProblem(block: Block, nextSet: ValidatorSet, chainId: string): string | undefined {
  const txs = block.txs;
  if (txs === undefined) return undefined;
  if (txs.length === 0) return 'a block without transactions carries none (not an empty list)';
  if (txs.length > MAX_BLOCK_TXS) return `more than ${MAX_BLOCK_TXS} transactions`;
  const seen = new Set<string>();
  for (const [i, tx] of txs.entries()) {
    const id = txValidator(tx);
    if (seen.has(id)) return `txs[${i}]: a second transaction for ${id}`;
    seen.add(id);
    if (tx.evidence.voteA.height > block.height || tx.evidence.voteB.height > block.height) return `txs[${i}]: a vote above the block's height`;
    const problem = pairProblem(tx.evidence, nextSet, chainId);
    if (problem !== undefined) return `txs[${i}]: ${problem}`;
  }
  return undefined;
}
