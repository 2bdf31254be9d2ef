/**
 * The node's ed25519 key: signing and verification of audit heads (and anything else the node
 * signs about itself), and the bytes of the key file that holds the key between runs.
 *
 * Two implementations of ed25519 live here on purpose: node:crypto (OpenSSL) is the fast path,
 * about ten times faster at verifying; @noble/ed25519 is the reference, pure TypeScript and
 * auditable. The tests hold both to the RFC 8032 vectors and to each other.
 *
 * Validation rules (both paths, so that they can never disagree): a signature is accepted only
 * when it is 64 bytes, its S is canonical (S < L), its R and the public key are canonical point
 * encodings (y < p) and neither is one of the small-order points, and the RFC 8032 equation
 * holds. OpenSSL by itself accepts small-order and non-canonical keys, and @noble's default
 * (ZIP 215) does too; the explicit pre-checks below make the rule strict and the same on both.
 *
 * Key file bytes (text, UTF-8, three lines; `encodeNodeKeyFile`, `decodeNodeKeyFile`):
 *   cstore-node-key v1
 *   private <64 hex digits: the 32-byte seed>
 *   public <64 hex digits>
 * Reading and writing the file (`loadOrCreateNodeKey`) is in src/stores/node-key-file.ts: this
 * file does no I/O.
 *
 * This file must never log or put a private key in an error message, and never sign with a key
 * whose public half it did not derive itself.
 */
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import { checkBytes } from '../model/check.ts';
import { fromHex, toHex } from './bytes.ts';

/** Hex of keys and signatures (the key file, audit exports); the helpers live in bytes.ts. */
export { fromHex, toHex };

ed.hashes.sha512 = sha512;

/** Bytes of an ed25519 private key (seed) and of a public key. */
export const ED25519_KEY_BYTES = 32;
/** Bytes of an ed25519 signature. */
export const ED25519_SIGNATURE_BYTES = 64;

/** An ed25519 key pair; `publicKey` is derived from `privateKey`. */
export interface NodeKey {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

/** The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
const ORDER_LE = Uint8Array.from([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
]);

/**
 * Encodings of the points of order 1, 2, 4 and 8 (with either sign bit, where decoding allows
 * it, and the two x = 0 encodings with the sign bit set, which strict decoders reject). Checked
 * against @noble's `isSmallOrder` in the tests.
 */
const SMALL_ORDER_HEX = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000080',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
];
const SMALL_ORDER = new Set(SMALL_ORDER_HEX);

/** True when the 32 bytes encode y >= p = 2^255 - 19 (sign bit ignored): not canonical. */
function yNotCanonical(point: Uint8Array): boolean {
  if ((point[31]! & 0x7f) !== 0x7f) return false;
  for (let i = 30; i >= 1; i--) if (point[i] !== 0xff) return false;
  return point[0]! >= 0xed;
}

/** True when S (little-endian, 32 bytes at `sig[32..64)`) is below the group order. */
function scalarCanonical(sig: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const s = sig[32 + i]!;
    const l = ORDER_LE[i]!;
    if (s !== l) return s < l;
  }
  return false;
}

/** The pre-checks of the strict rule (everything but the curve equation). */
function passesStrictRules(signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) return false;
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_KEY_BYTES) return false;
  if (!scalarCanonical(signature)) return false;
  const r = signature.subarray(0, 32);
  if (yNotCanonical(publicKey) || yNotCanonical(r)) return false;
  return !SMALL_ORDER.has(toHex(publicKey)) && !SMALL_ORDER.has(toHex(r));
}

/**
 * Recently used KeyObjects: parsing DER per call would cost more than the signature itself. The
 * public keys' limit is a validator set's worth: the vote store verifies every validator's votes
 * through here (docs/stores.md, "Vote verification"), and a set larger than the cache would
 * parse a key per vote.
 */
const PRIVATE_KEY_CACHE_LIMIT = 64;
const PUBLIC_KEY_CACHE_LIMIT = 4096;
const privateKeys = new Map<string, KeyObject>();
const publicKeys = new Map<string, KeyObject>();

function cached(cache: Map<string, KeyObject>, raw: Uint8Array, make: () => KeyObject): KeyObject {
  const id = toHex(raw);
  let key = cache.get(id);
  if (key === undefined) {
    key = make();
    const limit = cache === publicKeys ? PUBLIC_KEY_CACHE_LIMIT : PRIVATE_KEY_CACHE_LIMIT;
    if (cache.size >= limit) cache.delete(cache.keys().next().value as string);
    cache.set(id, key);
  }
  return key;
}

function privateKeyObject(seed: Uint8Array): KeyObject {
  return cached(privateKeys, seed, () =>
    createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' }),
  );
}

function publicKeyObject(publicKey: Uint8Array): KeyObject | undefined {
  try {
    return cached(publicKeys, publicKey, () =>
      createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' }),
    );
  } catch {
    return undefined;
  }
}

/** The public key of a 32-byte private key (seed). Throws INVALID_ARGUMENT on a bad key. */
export function ed25519PublicKey(privateKey: Uint8Array): Uint8Array {
  return ed.getPublicKey(checkBytes('privateKey', privateKey, ED25519_KEY_BYTES));
}

/** A fresh key pair from the platform CSPRNG. */
export function generateNodeKey(): NodeKey {
  const privateKey = ed.utils.randomSecretKey();
  return { privateKey, publicKey: ed.getPublicKey(privateKey) };
}

/**
 * Signs `message` with node:crypto (the fast path). Deterministic (RFC 8032): equal to
 * `signEd25519Reference` byte for byte.
 * @throws ConsensusStoreError INVALID_ARGUMENT when the key is not 32 bytes.
 */
export function signEd25519(message: Uint8Array, privateKey: Uint8Array): Uint8Array {
  checkBytes('privateKey', privateKey, ED25519_KEY_BYTES);
  const sig = cryptoSign(null, message, privateKeyObject(privateKey));
  return new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength);
}

/** Signs `message` with @noble/ed25519 (the reference). Throws INVALID_ARGUMENT on a bad key. */
export function signEd25519Reference(message: Uint8Array, privateKey: Uint8Array): Uint8Array {
  return ed.sign(message, checkBytes('privateKey', privateKey, ED25519_KEY_BYTES));
}

/**
 * Verifies with node:crypto under the strict rule of this file (top comment). False for any
 * malformed input; never throws.
 */
export function verifyEd25519(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!(message instanceof Uint8Array) || !passesStrictRules(signature, publicKey)) return false;
  const key = publicKeyObject(publicKey);
  if (key === undefined) return false;
  try {
    return cryptoVerify(null, message, key, signature);
  } catch {
    return false;
  }
}

/** Verifies with @noble/ed25519 (RFC 8032 strict mode) under the same rule. Never throws. */
export function verifyEd25519Reference(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!(message instanceof Uint8Array) || !passesStrictRules(signature, publicKey)) return false;
  try {
    return ed.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/**
 * Checks a key pair given in options: two 32-byte arrays, the public one derived from the
 * private one. Returns private copies.
 * @throws ConsensusStoreError INVALID_ARGUMENT naming `name`.
 */
export function checkNodeKey(name: string, privateKey: unknown, publicKey: unknown): NodeKey {
  const priv = checkBytes(`${name}.privateKey`, privateKey, ED25519_KEY_BYTES).slice();
  const pub = checkBytes(`${name}.publicKey`, publicKey, ED25519_KEY_BYTES).slice();
  const derived = ed.getPublicKey(priv);
  if (toHex(derived) !== toHex(pub)) throw invalidArgument(`${name}.publicKey`, 'is not the public key of the private key');
  return { privateKey: priv, publicKey: pub };
}

const KEY_FILE_MAGIC = 'cstore-node-key v1';

/** The text of a key file for `key` (see the top comment for the layout). */
export function encodeNodeKeyFile(key: NodeKey): Uint8Array {
  return new TextEncoder().encode(`${KEY_FILE_MAGIC}\nprivate ${toHex(key.privateKey)}\npublic ${toHex(key.publicKey)}\n`);
}

/**
 * Parses a key file, checking that its public key is the private key's.
 * @throws ConsensusStoreError CORRUPTION (with `path`, offset 0) when the file is not a valid key file.
 */
export function decodeNodeKeyFile(bytes: Uint8Array, path: string): NodeKey {
  const bad = (problem: string): ConsensusStoreError =>
    new ConsensusStoreError('CORRUPTION', `key file ${path}: ${problem}`, { location: { file: path, offset: 0 } });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw bad('not UTF-8 text');
  }
  const lines = text.split('\n');
  if (lines.length !== 4 || lines[0] !== KEY_FILE_MAGIC || lines[3] !== '') throw bad('not a cstore-node-key v1 file');
  const priv = lines[1]?.startsWith('private ') === true ? fromHex(lines[1].slice(8)) : undefined;
  const pub = lines[2]?.startsWith('public ') === true ? fromHex(lines[2].slice(7)) : undefined;
  if (priv?.length !== ED25519_KEY_BYTES || pub?.length !== ED25519_KEY_BYTES) throw bad('key lines malformed');
  if (toHex(ed.getPublicKey(priv)) !== toHex(pub)) throw bad('public key does not match the private key');
  return { privateKey: priv, publicKey: pub };
}
