/**
 * Block hashing. A block's hash is SHA-256 over fixed-layout bytes (never a re-encoding of an
 * object: docs/format.md, Signed and hashed bytes), bound to the chain id, so two nodes always
 * agree on it.
 *
 * It must never hash a msgpackr encoding, or anything that is not in `Block`.
 */
import { sha256 } from '@noble/hashes/sha2.js';
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
  const chain = utf8.encode(chainId);
  const proposer = utf8.encode(block.proposer);
  const out = new Uint8Array(BLOCK_TAG.length + 2 + chain.length + 8 + 4 + 2 + proposer.length + BLOCK_HASH_BYTES);
  const view = new DataView(out.buffer);
  let at = 0;
  out.set(BLOCK_TAG, at);
  at += BLOCK_TAG.length;
  view.setUint16(at, chain.length);
  out.set(chain, at + 2);
  at += 2 + chain.length;
  view.setUint32(at, Math.floor(block.height / 0x1_0000_0000));
  view.setUint32(at + 4, block.height >>> 0);
  view.setUint32(at + 8, block.round);
  at += 12;
  view.setUint16(at, proposer.length);
  out.set(proposer, at + 2);
  at += 2 + proposer.length;
  out.set(block.parentHash, at);
  return sha256(out);
}

/** Lower-case hex of bytes (map keys, logs). */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** True when two byte strings (or two nulls) are equal. */
export function sameBytes(a: Uint8Array | null | undefined, b: Uint8Array | null | undefined): boolean {
  if (a === b) return true;
  if (a === null || a === undefined || b === null || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
