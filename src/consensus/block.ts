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
import { ByteWriter, compareBytes, toHex } from '../codec/bytes.ts';
import { signBytes, verifyBytes, voteSignBytes } from '../codec/vote-sign.ts';
import { BLOCK_HASH_BYTES, type ValidatorVote } from '../model/vote.ts';
import type { Block, BondTx, EquivocationPair, UnbondTx, ValidatorTx } from './types.ts';
import type { ValidatorSet } from './validator-set.ts';
import { verifyVoteFast } from './verify.ts';

const utf8 = new TextEncoder();
const BLOCK_TAG = utf8.encode('CSTORE-BLOCK-V1\0');
const BLOCK_TAG_V2 = utf8.encode('CSTORE-BLOCK-V2\0');
/** Codes of the transactions in the hashed bytes. */
const TX_SLASH = 1;
const TX_BOND = 2;
const TX_UNBOND = 3;
const BOND_TAG = utf8.encode('CSTORE-BOND-V1\0');
const UNBOND_TAG = utf8.encode('CSTORE-UNBOND-V1\0');
/** Stakes are below 2^128 (the registry's limit). */
const STAKE_LIMIT = 1n << 128n;
const STAKE_PATTERN = /^[1-9][0-9]{0,38}$/;

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
 * The fixed-layout bytes of one transaction, as hashed: its code (u8), then for a slash each
 * vote's sign bytes and signature (each u32 length + bytes), the pair in sign-bytes order so
 * that both orders of one pair hash alike; for a bond the validator id (u16 length + UTF-8),
 * public key (32 bytes), stake (decimal, u16 length + UTF-8) and signature (u32 length +
 * bytes); for an unbond the validator id and signature.
 */
export function txBytes(tx: ValidatorTx, chainId: string): Uint8Array {
  if (tx.type === 'bond') return new ByteWriter().u8(TX_BOND).text(tx.validatorId).bytes(tx.publicKey).text(tx.stake).blob(tx.signature).finish();
  if (tx.type === 'unbond') return new ByteWriter().u8(TX_UNBOND).text(tx.validatorId).blob(tx.signature).finish();
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
  return tx.type === 'slash' ? tx.evidence.voteA.validatorId : tx.validatorId;
}

/** What a bond's signature covers: tag, chain id, validator id, public key, stake (decimal). */
export function bondSignBytes(tx: Pick<BondTx, 'validatorId' | 'publicKey' | 'stake'>, chainId: string): Uint8Array {
  return new ByteWriter().bytes(BOND_TAG).text(chainId).text(tx.validatorId).bytes(tx.publicKey).text(tx.stake).finish();
}

/** What an unbond's signature covers: tag, chain id, validator id. */
export function unbondSignBytes(validatorId: string, chainId: string): Uint8Array {
  return new ByteWriter().bytes(UNBOND_TAG).text(chainId).text(validatorId).finish();
}

/** A bond of `validatorId` with `publicKey` and `stake`, signed with its private key. */
export function signBond(fields: Pick<BondTx, 'validatorId' | 'publicKey' | 'stake'>, privateKey: Uint8Array, chainId: string): BondTx {
  return { type: 'bond', ...fields, signature: signBytes(bondSignBytes(fields, chainId), privateKey) };
}

/** An unbond of `validatorId`, signed with its private key. */
export function signUnbond(validatorId: string, privateKey: Uint8Array, chainId: string): UnbondTx {
  return { type: 'unbond', validatorId, signature: signBytes(unbondSignBytes(validatorId, chainId), privateKey) };
}

/** The stake of a bond as a bigint, or undefined when it is not a positive decimal below 2^128. */
export function bondStake(stake: string): bigint | undefined {
  if (!STAKE_PATTERN.test(stake)) return undefined;
  const value = BigInt(stake);
  return value < STAKE_LIMIT ? value : undefined;
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
 * Why a bond is not valid (undefined when it is): a positive stake below 2^128, an id and a
 * public key no validator holds in `registered` (every validator ever registered, in any
 * status, including those a finalized block bonded with effect later), signed by that key.
 */
export function bondProblem(tx: BondTx, registered: ReadonlyMap<string, Uint8Array>, chainId: string): string | undefined {
  if (bondStake(tx.stake) === undefined) return 'the stake is not a positive decimal below 2^128';
  if (registered.has(tx.validatorId)) return `${tx.validatorId} is already registered`;
  const key = toHex(tx.publicKey);
  for (const [id, k] of registered) if (toHex(k) === key) return `the public key is already ${id}'s`;
  if (!verifyBytes(tx.signature, bondSignBytes(tx, chainId), tx.publicKey)) return 'the signature does not verify';
  return undefined;
}

/** Why an unbond is not valid (undefined when it is): a validator of `set`, signed by its key. */
export function unbondProblem(tx: UnbondTx, set: ValidatorSet, chainId: string): string | undefined {
  const validator = set.get(tx.validatorId);
  if (validator === undefined) return `${tx.validatorId} is not in the validator set`;
  if (!verifyBytes(tx.signature, unbondSignBytes(tx.validatorId, chainId), validator.publicKey)) return 'the signature does not verify';
  return undefined;
}

/**
 * Why the block's transactions are not valid (undefined when they are): at most
 * `MAX_BLOCK_TXS`, one per validator; each slash a proven equivocation of votes at or below the
 * block's height by a validator still in `nextSet`, the set of the block's height + 1 (one
 * already removed, or whose removal an earlier block decided, is not in it); each unbond of a
 * validator of `nextSet`, signed by it; each bond as `bondProblem` says against `registered`
 * (no bond is valid without it), no two with one key; and the block must not remove every
 * validator of `nextSet`. Every node decides this alike: `nextSet` and `registered` follow from
 * the blocks below the block's height.
 */
export function blockTxsProblem(block: Block, nextSet: ValidatorSet, chainId: string, registered?: ReadonlyMap<string, Uint8Array>): string | undefined {
  const txs = block.txs;
  if (txs === undefined) return undefined;
  if (txs.length === 0) return 'a block without transactions carries none (not an empty list)';
  if (txs.length > MAX_BLOCK_TXS) return `more than ${MAX_BLOCK_TXS} transactions`;
  const seen = new Set<string>();
  const keys = new Set<string>();
  let removed = 0;
  for (const [i, tx] of txs.entries()) {
    const id = txValidator(tx);
    if (seen.has(id)) return `txs[${i}]: a second transaction for ${id}`;
    seen.add(id);
    let problem: string | undefined;
    if (tx.type === 'bond') {
      problem = registered === undefined ? 'no registry view to check a bond against' : bondProblem(tx, registered, chainId);
      if (problem === undefined && keys.has(toHex(tx.publicKey))) problem = 'a second bond with this public key';
      keys.add(toHex(tx.publicKey));
    } else if (tx.type === 'unbond') {
      problem = unbondProblem(tx, nextSet, chainId);
      removed++;
    } else {
      if (tx.evidence.voteA.height > block.height || tx.evidence.voteB.height > block.height) return `txs[${i}]: a vote above the block's height`;
      problem = pairProblem(tx.evidence, nextSet, chainId);
      removed++;
    }
    if (problem !== undefined) return `txs[${i}]: ${problem}`;
  }
  if (removed >= nextSet.validators.length) return 'the transactions would remove every validator';
  return undefined;
}
