/**
 * The backup trailer (docs/format.md, "Backup"): the last file a backup writes, naming every
 * other file of the backup with its size and SHA-256, the LSN the backup stops at, the chain id
 * and the time, then the SHA-256 of that listing and the node key's ed25519 signature over it.
 * A backup without its trailer is incomplete; a file not listed, missing, of another size or
 * hash, is damage.
 *
 * Layout, big-endian (it is hashed and signed, docs/format.md "Signed and hashed bytes"):
 *   listing:  "CSBACKUP", u32 format version (1), u32 file count n (1..MAX_FILES), u64 LSN,
 *             u64 created at (ms since the epoch), u32 segment size of the node's log (0: unknown),
 *             u16 chain id length, chain id (UTF-8),
 *             n x (u16 name length, name (UTF-8, relative, '/'-separated), u64 size, 32-byte SHA-256)
 *   then:     32-byte SHA-256 of the listing, 32-byte node public key, 64-byte ed25519 signature
 *             over "CSTORE-BACKUP-V1" 0x00 || the listing's SHA-256
 *
 * This file must never accept a trailer it did not fully check (every length against the bytes
 * left, every name as a plain relative path, no name twice, no trailing byte), nor sign or
 * verify anything but the domain-tagged digest.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ConsensusStoreError, corruption } from '../errors.ts';
import { equalBytes } from '../codec/bytes.ts';
import { ED25519_KEY_BYTES, ED25519_SIGNATURE_BYTES, signEd25519, verifyEd25519, type NodeKey } from '../codec/node-key.ts';

/** The trailer's file name in a backup directory. */
export const TRAILER_FILE = 'TRAILER';
/** The trailer's format version. */
export const BACKUP_FORMAT_VERSION = 1;
/** Most files a backup lists. */
export const MAX_FILES = 1_000_000;
/** Largest trailer read, in bytes. */
export const MAX_TRAILER_BYTES = 256 << 20;
const MAGIC = new TextEncoder().encode('CSBACKUP');
const SIGN_TAG = new TextEncoder().encode('CSTORE-BACKUP-V1\0');
const DIGEST_BYTES = 32;
const FIXED = 8 + 4 + 4 + 8 + 8 + 4 + 2;
const TAIL = DIGEST_BYTES + ED25519_KEY_BYTES + ED25519_SIGNATURE_BYTES;
const MAX_NAME_BYTES = 1024;

/** One file of a backup, as the trailer lists it. */
export interface BackupFile {
  /** Path inside the backup, '/'-separated (`wal/0000000000000001.wal`, `MANIFEST`). */
  readonly name: string;
  readonly size: number;
  /** SHA-256 of the file's bytes. */
  readonly sha256: Uint8Array;
}

/** A trailer's content. */
export interface BackupTrailer {
  readonly lsn: number;
  readonly chainId: string;
  readonly createdAt: number;
  /** The segment size of the node's log (a restore keeps it); 0 when unknown. */
  readonly segmentSize: number;
  readonly files: readonly BackupFile[];
}

/** A decoded trailer: its content, the listing digest, and who signed it. */
export interface SignedTrailer extends BackupTrailer {
  readonly digest: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** True when `name` is a plain relative path: no empty, `.` or `..` part, no backslash or NUL. */
export function isPlainName(name: string): boolean {
  if (name.length === 0 || name.startsWith('/') || name.includes('\\') || name.includes('\0')) return false;
  return name.split('/').every((part) => part.length > 0 && part !== '.' && part !== '..');
}

/** The bytes the node key signs: the tag, then the listing's digest. */
function signedMessage(digest: Uint8Array): Uint8Array {
  const out = new Uint8Array(SIGN_TAG.length + digest.length);
  out.set(SIGN_TAG, 0);
  out.set(digest, SIGN_TAG.length);
  return out;
}

/**
 * Encodes and signs `trailer` with `key`.
 * @throws RangeError on a name or count out of bounds (the backup writes only its own names).
 */
export function encodeTrailer(trailer: BackupTrailer, key: NodeKey): Uint8Array {
  const chain = utf8.encode(trailer.chainId);
  const names = trailer.files.map((f) => {
    if (!isPlainName(f.name)) throw new RangeError(`backup file name ${JSON.stringify(f.name)} is not a plain relative path`);
    const bytes = utf8.encode(f.name);
    if (bytes.length > MAX_NAME_BYTES) throw new RangeError(`backup file name ${f.name} is too long`);
    return bytes;
  });
  if (names.length < 1 || names.length > MAX_FILES) throw new RangeError(`a backup lists 1 to ${MAX_FILES} files`);
  let size = FIXED + chain.length;
  for (const n of names) size += 2 + n.length + 8 + DIGEST_BYTES;
  const out = new Uint8Array(size + TAIL);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(8, BACKUP_FORMAT_VERSION);
  view.setUint32(12, names.length);
  view.setBigUint64(16, BigInt(trailer.lsn));
  view.setBigUint64(24, BigInt(trailer.createdAt));
  view.setUint32(32, trailer.segmentSize);
  view.setUint16(36, chain.length);
  out.set(chain, 38);
  let pos = FIXED + chain.length;
  trailer.files.forEach((f, i) => {
    const n = names[i] as Uint8Array;
    view.setUint16(pos, n.length);
    out.set(n, pos + 2);
    pos += 2 + n.length;
    view.setBigUint64(pos, BigInt(f.size));
    out.set(f.sha256, pos + 8);
    pos += 8 + DIGEST_BYTES;
  });
  const digest = sha256(out.subarray(0, size));
  out.set(digest, size);
  out.set(key.publicKey, size + DIGEST_BYTES);
  out.set(signEd25519(signedMessage(digest), key.privateKey), size + DIGEST_BYTES + ED25519_KEY_BYTES);
  return out;
}

/**
 * Decodes the trailer read from `file` and checks its own digest (not yet its signature: the
 * caller decides which key it trusts, `checkTrailerSignature`).
 * @throws ConsensusStoreError CORRUPTION naming `file` and the offset of the bad field;
 *   UNSUPPORTED_FORMAT for a sound trailer of another version.
 */
export function decodeTrailer(bytes: Uint8Array, file: string): SignedTrailer {
  const fail = (offset: number, problem: string): never => {
    throw corruption(file, offset, `backup trailer: ${problem}`);
  };
  if (bytes.length < FIXED + TAIL) fail(0, `too short (${bytes.length} bytes)`);
  if (!equalBytes(bytes.subarray(0, 8), MAGIC)) fail(0, 'not a backup trailer (bad magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8);
  if (version !== BACKUP_FORMAT_VERSION) throw new ConsensusStoreError('UNSUPPORTED_FORMAT', `backup trailer format version ${version} (this build reads ${BACKUP_FORMAT_VERSION})`);
  const count = view.getUint32(12);
  const end = bytes.length - TAIL;
  const u64 = (at: number, what: string): number => {
    const v = view.getBigUint64(at);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(at, `${what} exceeds 2^53-1`);
    return Number(v);
  };
  if (count < 1 || count > MAX_FILES) fail(12, `file count ${count} out of range`);
  const lsn = u64(16, 'LSN');
  const createdAt = u64(24, 'creation time');
  const segmentSize = view.getUint32(32);
  const chainLength = view.getUint16(36);
  if (FIXED + chainLength > end) fail(36, 'chain id runs past the listing');
  let chainId = '';
  try {
    chainId = utf8Strict.decode(bytes.subarray(38, 38 + chainLength));
  } catch {
    fail(38, 'chain id is not UTF-8');
  }
  const files: BackupFile[] = [];
  const seen = new Set<string>();
  let pos = FIXED + chainLength;
  for (let i = 0; i < count; i++) {
    if (pos + 2 > end) fail(pos, `entry ${i} runs past the listing`);
    const nameLength = view.getUint16(pos);
    if (nameLength === 0 || nameLength > MAX_NAME_BYTES || pos + 2 + nameLength + 8 + DIGEST_BYTES > end) fail(pos, `entry ${i} runs past the listing`);
    let name = '';
    try {
      name = utf8Strict.decode(bytes.subarray(pos + 2, pos + 2 + nameLength));
    } catch {
      fail(pos + 2, `entry ${i}'s name is not UTF-8`);
    }
    if (!isPlainName(name) || name === TRAILER_FILE || seen.has(name)) fail(pos + 2, `entry ${i}'s name ${JSON.stringify(name)} is not a plain relative path, or is repeated`);
    seen.add(name);
    pos += 2 + nameLength;
    const size = u64(pos, `entry ${i}'s size`);
    files.push({ name, size, sha256: bytes.slice(pos + 8, pos + 8 + DIGEST_BYTES) });
    pos += 8 + DIGEST_BYTES;
  }
  if (pos !== end) fail(pos, 'bytes between the listing and its digest');
  const digest = bytes.slice(end, end + DIGEST_BYTES);
  if (!equalBytes(sha256(bytes.subarray(0, end)), digest)) fail(end, 'the listing does not match its SHA-256');
  return {
    lsn,
    chainId,
    createdAt,
    segmentSize,
    files,
    digest,
    publicKey: bytes.slice(end + DIGEST_BYTES, end + DIGEST_BYTES + ED25519_KEY_BYTES),
    signature: bytes.slice(end + DIGEST_BYTES + ED25519_KEY_BYTES),
  };
}

/**
 * Checks the trailer's signature with `publicKey` (the key the verifier trusts).
 * @throws ConsensusStoreError CORRUPTION naming `file` when another key signed it or the signature fails.
 */
export function checkTrailerSignature(trailer: SignedTrailer, publicKey: Uint8Array, file: string, size: number): void {
  const at = size - ED25519_KEY_BYTES - ED25519_SIGNATURE_BYTES;
  if (!equalBytes(trailer.publicKey, publicKey)) throw corruption(file, at, 'backup trailer: signed by another key than the node key it is checked with');
  if (!verifyEd25519(trailer.signature, signedMessage(trailer.digest), publicKey)) throw corruption(file, at + ED25519_KEY_BYTES, 'backup trailer: the node key signature does not verify');
}
