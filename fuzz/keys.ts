/**
 * Deterministic identities and byte values for the fuzzers: validator keys (fixed, derived
 * from an index, cached because deriving an ed25519 public key costs about a millisecond),
 * block hashes, and hex helpers.
 *
 * Never used for anything secret: every key here is public knowledge by construction.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { publicKeyOf } from '../src/codec/vote-sign.ts';

/** The chain id every fuzz run signs for. */
export const FUZZ_CHAIN_ID = 'fuzz-chain';
/** The node's own validator id (its votes go through the sign guard). */
export const OWN_ID = 'me';

/** A validator's id and key pair. */
export interface FuzzKey {
  readonly id: string;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

const cache = new Map<string, FuzzKey>();
const encoder = new TextEncoder();

/** The key of validator `id` (the same on every run and in every process). */
export function keyOf(id: string): FuzzKey {
  let key = cache.get(id);
  if (key === undefined) {
    const privateKey = sha256(encoder.encode(`consensus-store fuzz key/${id}`));
    key = { id, privateKey, publicKey: publicKeyOf(privateKey) };
    cache.set(id, key);
  }
  return key;
}

/** Id of the i-th other validator. */
export function validatorName(i: number): string {
  return `val-${i}`;
}

/** The 32-byte hash of block (height, variant): variant 0 is the honest block. */
export function blockHashOf(height: number, variant: number): Uint8Array {
  return sha256(encoder.encode(`block/${height}/${variant}`));
}

/** Lower-case hex of `bytes`. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Bytes of a hex string. */
export function unhex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'));
}

/** A stand-in signature for votes the store does not verify (signing costs ~1 ms; most votes need none). */
export function fakeSignature(seed: number): Uint8Array {
  const out = new Uint8Array(64);
  for (let i = 0; i < 64; i++) out[i] = (seed * 131 + i * 17) & 0xff;
  return out;
}
