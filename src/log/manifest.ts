/**
 * The MANIFEST: which segments the log has, and for each sealed segment where it ends, its LSN
 * range and the digest of its record headers, so that open can check sealed segments without
 * re-checksumming every payload (DESIGN section 4). Encoded, decoded and written atomically here.
 *
 * This file must never write the manifest in place: every version goes to `MANIFEST.tmp`, is
 * fdatasync'ed, renamed over `MANIFEST` and the directory fsync'ed, so that a crash leaves the
 * old or the new manifest, whole. Its checksum catches any other damage.
 *
 * Layout (little-endian):
 *   0  "CSMANIFS"            8 bytes
 *   8  u32 version           1
 *  12  u32 masked CRC32C     of [0,12) ++ [16,end)
 *  16  u32 total bytes       48 + 32 * sealed count
 *  20  u32 sealed count
 *  24  u64 generation        +1 on every write
 *  32  u64 first segment id  the oldest segment of the log
 *  40  u64 base LSN          LSN of the first record of that segment
 *  48  sealed segments, 32 bytes each, ids consecutive from the first segment id:
 *        u64 id, u64 first LSN, u64 last LSN, u32 end offset, u32 header digest
 */
import { join } from 'node:path';
import { crc32cUpdate, maskCrc } from '../codec/crc32c.ts';
import { readU32, readU64, writeU32, writeU64 } from '../codec/framing.ts';
import { ConsensusStoreError, corruption } from '../errors.ts';
import { errnoOf, type FileSystem } from '../io/types.ts';

/** The manifest's file name inside the data directory. */
export const MANIFEST_NAME = 'MANIFEST';
const MAGIC = new TextEncoder().encode('CSMANIFS');
const VERSION = 1;
const FIXED_BYTES = 48;
const ENTRY_BYTES = 32;
/** Bound on sealed segments a manifest may list (64 TiB of 64 MiB segments). */
const MAX_SEALED = 1_000_000;

/** A sealed segment as the manifest records it. */
export interface SealedSegment {
  /** Segment id (file name). */
  readonly id: number;
  readonly firstLsn: number;
  readonly lastLsn: number;
  /** Offset just past the last batch (where the unwritten space begins). */
  readonly endOffset: number;
  /** CRC32C over every record header of the segment, in order (see `segment-walk.ts`). */
  readonly digest: number;
}

/** The manifest's content. */
export interface Manifest {
  readonly generation: number;
  /** The oldest segment of the log. */
  readonly firstSegmentId: number;
  /** LSN of the first record of `firstSegmentId`. */
  readonly baseLsn: number;
  /** Sealed segments, ids consecutive from `firstSegmentId`. */
  readonly sealed: readonly SealedSegment[];
}

/** The manifest of a new, empty log. */
export function emptyManifest(): Manifest {
  return { generation: 0, firstSegmentId: 1, baseLsn: 1, sealed: [] };
}

/** The LSN the first record after the last sealed segment gets. */
export function nextLsnAfterSealed(manifest: Manifest): number {
  const last = manifest.sealed[manifest.sealed.length - 1];
  return last === undefined ? manifest.baseLsn : last.lastLsn + 1;
}

/** The id of the first segment after the sealed ones (the one being written, or to be written). */
export function firstUnsealedId(manifest: Manifest): number {
  return manifest.firstSegmentId + manifest.sealed.length;
}

/** Encodes `manifest` into its bytes. */
export function encodeManifest(manifest: Manifest): Uint8Array {
  const total = FIXED_BYTES + ENTRY_BYTES * manifest.sealed.length;
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  writeU32(out, 8, VERSION);
  writeU32(out, 16, total);
  writeU32(out, 20, manifest.sealed.length);
  writeU64(out, 24, manifest.generation);
  writeU64(out, 32, manifest.firstSegmentId);
  writeU64(out, 40, manifest.baseLsn);
  let pos = FIXED_BYTES;
  for (const s of manifest.sealed) {
    writeU64(out, pos, s.id);
    writeU64(out, pos + 8, s.firstLsn);
    writeU64(out, pos + 16, s.lastLsn);
    writeU32(out, pos + 24, s.endOffset);
    writeU32(out, pos + 28, s.digest);
    pos += ENTRY_BYTES;
  }
  writeU32(out, 12, manifestCrc(out));
  return out;
}

function manifestCrc(bytes: Uint8Array): number {
  return maskCrc(crc32cUpdate(crc32cUpdate(0, bytes, 0, 12), bytes, 16, bytes.length));
}

/**
 * Decodes manifest bytes read from `file`.
 *
 * @throws ConsensusStoreError CORRUPTION (with the offset of the bad field) when the bytes are
 *   torn, damaged or inconsistent; UNSUPPORTED_FORMAT for a sound manifest of another version.
 */
export function decodeManifest(bytes: Uint8Array, file: string): Manifest {
  if (bytes.length < FIXED_BYTES) throw corruption(file, 0, `manifest too short (${bytes.length} bytes)`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw corruption(file, 0, 'not a manifest (bad magic)');
  }
  const total = readU32(bytes, 16);
  if (total !== bytes.length) throw corruption(file, 16, `manifest length ${total} but file has ${bytes.length} bytes`);
  if (readU32(bytes, 12) !== manifestCrc(bytes)) throw corruption(file, 12, 'manifest checksum mismatch');
  const version = readU32(bytes, 8);
  if (version !== VERSION) {
    throw new ConsensusStoreError('UNSUPPORTED_FORMAT', `manifest version ${version} (this build reads ${VERSION})`);
  }
  const count = readU32(bytes, 20);
  if (count > MAX_SEALED || FIXED_BYTES + count * ENTRY_BYTES !== total) {
    throw corruption(file, 20, `manifest sealed count ${count} does not match its length`);
  }
  const generation = readU64(bytes, 24);
  const firstSegmentId = readU64(bytes, 32);
  const baseLsn = readU64(bytes, 40);
  if (generation < 0 || firstSegmentId < 1 || baseLsn < 1) throw corruption(file, 24, 'manifest field out of range');
  const sealed: SealedSegment[] = [];
  let expectId = firstSegmentId;
  let expectLsn = baseLsn;
  for (let i = 0, pos = FIXED_BYTES; i < count; i++, pos += ENTRY_BYTES) {
    const entry: SealedSegment = {
      id: readU64(bytes, pos),
      firstLsn: readU64(bytes, pos + 8),
      lastLsn: readU64(bytes, pos + 16),
      endOffset: readU32(bytes, pos + 24),
      digest: readU32(bytes, pos + 28),
    };
    if (entry.id !== expectId || entry.firstLsn !== expectLsn || entry.lastLsn < entry.firstLsn) {
      throw corruption(file, pos, `manifest entry ${i} breaks the segment or LSN sequence`);
    }
    sealed.push(entry);
    expectId++;
    expectLsn = entry.lastLsn + 1;
  }
  return { generation, firstSegmentId, baseLsn, sealed };
}

/** Reads and decodes `<dir>/MANIFEST`; undefined when there is none. */
export async function readManifest(fs: FileSystem, dir: string): Promise<Manifest | undefined> {
  const file = join(dir, MANIFEST_NAME);
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw err;
  }
  return decodeManifest(bytes, file);
}

/**
 * Writes `manifest` atomically as `<dir>/MANIFEST`: temp file, fdatasync, rename, directory fsync.
 *
 * @throws the file system's errno error; the previous manifest is then still in place.
 */
export async function writeManifest(fs: FileSystem, dir: string, manifest: Manifest): Promise<void> {
  const file = join(dir, MANIFEST_NAME);
  const temp = `${file}.tmp`;
  const bytes = encodeManifest(manifest);
  const handle = await fs.open(temp, 'create');
  try {
    await handle.truncate(0);
    await handle.write([bytes], 0);
    await handle.datasync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
  await handle.close();
  await fs.rename(temp, file);
  await fs.syncDir(dir);
}
