/**
 * The container of snapshot files (docs/format.md, "Snapshot files"): one layout for the two
 * kinds, the portable snapshot (the finalized state at a height, the same bytes on every
 * honest node) and the local state image (this node's whole state at one LSN, private to it).
 *
 *   header       128 bytes, fixed, with its own CRC32C
 *   leaf table   32 bytes per chunk: the Merkle leaf hash of each chunk
 *   chunks       the content, cut into chunks of `chunkSize` bytes (the last may be shorter)
 *   trailer      the per-file envelope: attestations (portable) or the node key's signature
 *                (image), with its own CRC32C
 *
 * The Merkle root (RFC 6962 shape, `merkle.ts`) over the leaf table covers the content and
 * nothing else: a chunk's leaf is SHA-256(0x00 || "cs-snapshot-chunk" || u32 index || u32
 * length || SHA-256(chunk)), so a chunk carries its index (a swapped chunk fails), and with its
 * inclusion proof it can be checked alone, before the rest arrives. The content starts with
 * its own header (kind, chain id, height, LSN, counts), so everything a reader acts on is under
 * the root. The envelope is outside it: two nodes write the same content and root, and each its
 * own attestations and creation time.
 *
 * This file must never do I/O, never trust a length or count before checking it against the
 * bounds here and the bytes actually present, and never hash a re-encoding: leaves are computed
 * over the chunk bytes as they are.
 */
import { crc32cUpdate, maskCrc } from './crc32c.ts';
import { equalBytes } from './bytes.ts';
import { HASH_BYTES, merkleInclusionProof, merkleLeafHash, merkleRoot, sha256, verifyMerkleInclusion } from './merkle.ts';

/** Kinds of snapshot file. */
export const SnapshotFileKind = { Portable: 1, Image: 2 } as const;
export type SnapshotFileKind = (typeof SnapshotFileKind)[keyof typeof SnapshotFileKind];

export const SNAPSHOT_FORMAT_VERSION = 1;
export const SNAPSHOT_HEADER_BYTES = 128;
/** Default chunk size: 1 MiB. */
export const DEFAULT_CHUNK_SIZE = 1 << 20;
export const MIN_CHUNK_SIZE = 4096;
export const MAX_CHUNK_SIZE = 16 << 20;
/** Most chunks a file may have (with 1 MiB chunks: 4 TiB). */
export const MAX_CHUNKS = 1 << 22;
/** Largest trailer: attestations of up to 100,000 validators. */
export const MAX_TRAILER_BYTES = 100_000 * 200;

const FILE_MAGIC = new TextEncoder().encode('CSSNAPFL');
const LEAF_DOMAIN = new TextEncoder().encode('cs-snapshot-chunk');

/** The fixed header of a snapshot file. */
export interface SnapshotFileHeader {
  readonly kind: SnapshotFileKind;
  readonly chunkSize: number;
  readonly chunkCount: number;
  readonly contentLength: number;
  /** Merkle root over the chunk leaves. */
  readonly root: Uint8Array;
  readonly trailerLength: number;
}

/** Encodes the 128-byte header. */
export function encodeSnapshotHeader(h: SnapshotFileHeader): Uint8Array {
  const out = new Uint8Array(SNAPSHOT_HEADER_BYTES);
  const view = new DataView(out.buffer);
  out.set(FILE_MAGIC, 0);
  view.setUint32(8, SNAPSHOT_FORMAT_VERSION, true);
  view.setUint32(12, h.kind, true);
  view.setUint32(16, h.chunkSize, true);
  view.setUint32(20, h.chunkCount, true);
  view.setBigUint64(24, BigInt(h.contentLength), true);
  out.set(h.root, 32);
  view.setUint32(64, h.trailerLength, true);
  view.setUint32(68, headerCrc(out), true);
  return out;
}

function headerCrc(b: Uint8Array): number {
  return maskCrc(crc32cUpdate(crc32cUpdate(0, b.subarray(0, 68)), b.subarray(72, SNAPSHOT_HEADER_BYTES)));
}

/**
 * Decodes and checks the header: magic, version, CRC, kind, and every size against the bounds
 * (chunk size, chunk count matching the content length, trailer size).
 * @throws Error naming what is wrong.
 */
export function decodeSnapshotHeader(b: Uint8Array): SnapshotFileHeader {
  if (b.length < SNAPSHOT_HEADER_BYTES) throw new Error(`header has ${b.length} bytes, not ${SNAPSHOT_HEADER_BYTES}`);
  if (!equalBytes(b.subarray(0, 8), FILE_MAGIC)) throw new Error('not a snapshot file (bad magic)');
  const view = new DataView(b.buffer, b.byteOffset, SNAPSHOT_HEADER_BYTES);
  if (view.getUint32(68, true) !== headerCrc(b)) throw new Error('header checksum mismatch');
  const version = view.getUint32(8, true);
  if (version !== SNAPSHOT_FORMAT_VERSION) throw new Error(`format version ${version} is not ${SNAPSHOT_FORMAT_VERSION}`);
  const kind = view.getUint32(12, true);
  if (kind !== SnapshotFileKind.Portable && kind !== SnapshotFileKind.Image) throw new Error(`unknown snapshot kind ${kind}`);
  const chunkSize = view.getUint32(16, true);
  const chunkCount = view.getUint32(20, true);
  const big = view.getBigUint64(24, true);
  const trailerLength = view.getUint32(64, true);
  if (chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) throw new Error(`chunk size ${chunkSize} is out of range`);
  if (chunkCount < 1 || chunkCount > MAX_CHUNKS) throw new Error(`chunk count ${chunkCount} is out of range`);
  if (big > BigInt(chunkCount) * BigInt(chunkSize) || big <= BigInt(chunkCount - 1) * BigInt(chunkSize)) {
    throw new Error(`content length ${big} does not match ${chunkCount} chunks of ${chunkSize} bytes`);
  }
  if (trailerLength > MAX_TRAILER_BYTES) throw new Error(`trailer of ${trailerLength} bytes is too large`);
  for (let i = 72; i < SNAPSHOT_HEADER_BYTES; i++) if (b[i] !== 0) throw new Error(`reserved header byte ${i} is not zero`);
  return { kind: kind as SnapshotFileKind, chunkSize, chunkCount, contentLength: Number(big), root: b.slice(32, 64), trailerLength };
}

/** Byte offset of the first chunk in a file with `chunkCount` chunks. */
export function chunksOffset(chunkCount: number): number {
  return SNAPSHOT_HEADER_BYTES + chunkCount * HASH_BYTES;
}

/** Total file size for a header. */
export function snapshotFileSize(h: SnapshotFileHeader): number {
  return chunksOffset(h.chunkCount) + h.contentLength + h.trailerLength;
}

/** Length of chunk `index` of a content of `contentLength` bytes. */
export function chunkLength(h: Pick<SnapshotFileHeader, 'chunkSize' | 'chunkCount' | 'contentLength'>, index: number): number {
  return index < h.chunkCount - 1 ? h.chunkSize : h.contentLength - (h.chunkCount - 1) * h.chunkSize;
}

/** The Merkle leaf hash of chunk `index` (see the file comment). */
export function chunkLeafHash(index: number, chunk: Uint8Array): Uint8Array {
  const data = new Uint8Array(LEAF_DOMAIN.length + 8 + HASH_BYTES);
  data.set(LEAF_DOMAIN, 0);
  const view = new DataView(data.buffer);
  view.setUint32(LEAF_DOMAIN.length, index, true);
  view.setUint32(LEAF_DOMAIN.length + 4, chunk.length, true);
  data.set(sha256(chunk), LEAF_DOMAIN.length + 8);
  return merkleLeafHash(data);
}

/** The chunk leaves of `content` cut into `chunkSize` chunks. */
export function contentLeaves(content: Uint8Array, chunkSize: number): Uint8Array[] {
  const count = Math.max(1, Math.ceil(content.length / chunkSize));
  const leaves = new Array<Uint8Array>(count);
  for (let i = 0; i < count; i++) leaves[i] = chunkLeafHash(i, content.subarray(i * chunkSize, Math.min(content.length, (i + 1) * chunkSize)));
  return leaves;
}

/** The leaf table bytes (32 bytes per leaf). */
export function packLeaves(leaves: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(leaves.length * HASH_BYTES);
  leaves.forEach((leaf, i) => out.set(leaf, i * HASH_BYTES));
  return out;
}

/** The leaves of a leaf table. */
export function unpackLeaves(table: Uint8Array): Uint8Array[] {
  const leaves: Uint8Array[] = [];
  for (let at = 0; at < table.length; at += HASH_BYTES) leaves.push(table.subarray(at, at + HASH_BYTES));
  return leaves;
}

/** The root over a list of chunk leaves. */
export function snapshotRoot(leaves: readonly Uint8Array[]): Uint8Array {
  return merkleRoot(leaves);
}

/** The inclusion proof of chunk `index` (siblings from the leaf level up). */
export function chunkProof(leaves: readonly Uint8Array[], index: number): Uint8Array[] {
  return merkleInclusionProof(leaves, index);
}

/**
 * True when `chunk` is chunk `index` of the content whose root is `root` and which has
 * `chunkCount` chunks, by its inclusion proof.
 */
export function verifyChunk(root: Uint8Array, chunkCount: number, index: number, chunk: Uint8Array, proof: readonly Uint8Array[]): boolean {
  if (!Number.isSafeInteger(index) || index < 0 || index >= chunkCount) return false;
  return verifyMerkleInclusion(chunkLeafHash(index, chunk), index, chunkCount, proof, root);
}

/** Adds a masked CRC32C over `body` at its end (the trailer's framing). */
export function sealTrailer(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 4);
  out.set(body, 0);
  new DataView(out.buffer).setUint32(body.length, maskCrc(crc32cUpdate(0, body)), true);
  return out;
}

/** The body of a sealed trailer. @throws Error when its CRC does not match. */
export function openTrailer(sealed: Uint8Array): Uint8Array {
  if (sealed.length < 4) throw new Error('trailer is truncated');
  const body = sealed.subarray(0, sealed.length - 4);
  const crc = new DataView(sealed.buffer, sealed.byteOffset + sealed.length - 4, 4).getUint32(0, true);
  if (crc !== maskCrc(crc32cUpdate(0, body))) throw new Error('trailer checksum mismatch');
  return body;
}
