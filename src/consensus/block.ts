/**
 * Block hashing. A block's hash is SHA-256 over fixed-layout bytes (never a re-encoding of an
 * object: docs/format.md, Signed and hashed bytes), bound to the chain id, so two nodes always
 * agree on it.
 *
 * It must never hash a msgpackr encoding, or anything that is not in `Block`.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ByteWriter } from '../codec/bytes.ts';
import { BLOCK_HASH_BYTES } from '../model/vote.ts';
import type { Block } from './types.ts';

const utf8 = new TextEncoder();
const BLOCK_TAG = utf8.encode('CSTORE-BLOCK-V1\0');

/** The parent hash of height 1: 32 zero bytes. */
export const GENESIS_PARENT_HASH: Uint8Array = new Uint8Array(BLOCK_HASH_BYTES);

/**
 * The block's 32-byte hash: SHA-256 of tag, chain id (u16 length + UTF-8), height u64, round
 * u32, proposer (u16 length + UTF-8), parent hash (32 bytes), all big-endian.
 */
export function blockHash(block: Block, chainId: string): Uint8Array {
  const bytes = new ByteWriter()
    .bytes(BLOCK_TAG)
    .text(chainId)
    .u64(block.height)
    .u32(block.round)
    .text(block.proposer)
    .bytes(block.parentHash)
    .finish();
  return sha256(bytes);
}
