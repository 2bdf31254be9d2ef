/**
 * The MANIFEST: which segments the log has, and for each sealed segment where it ends, its LSN
 * range and the digest of its record headers, so that open can check sealed segments without
 * re-checksumming every payload (docs/format.md, "MANIFEST"). Encoded, decoded and written
 * atomically here.
 *
 * This file must never write the manifest in place: every version goes to `MANIFEST.tmp`, is
 * fdatasync'ed, renamed over `MANIFEST` and the directory fsync'ed, so that a crash leaves the
 * old or the new manifest, whole. Its checksum catches any other damage.
 *
 * Layout (little-endian):
 *   0  "CSMANIFS"            8 bytes
 *   8  u32 version           1; 2 when repairs are pending (the trailer below); 3 when the
 *                            log's clean end is recorded (the section below)
 *  12  u32 masked CRC32C     of [0,12) ++ [16,end)
 *  16  u32 total bytes       48 + 32 * sealed count (+ the trailer's length in version 2)
 *  20  u32 sealed count
 *  24  u64 generation        +1 on every write
 *  32  u64 first segment id  the oldest segment of the log
 *  40  u64 base LSN          LSN of the first record of that segment
 *  48  sealed segments, 32 bytes each, ids consecutive from the first segment id:
 *        u64 id, u64 first LSN, u64 last LSN, u32 end offset, u32 header digest
 *  version 3 only, after the sealed segments: the clean end, 32 bytes
 *        u64 segment id, u64 last LSN (0: the log was empty), u32 end offset,
 *        u32 header digest (of the segment's records up to the end offset), u32 flags
 *        (bit 0: repairs pending follow), u32 reserved (0)
 *  version 2, and version 3 with flag bit 0: the repairs not yet acknowledged by the stores
 *        u32 count, then each: u64 id (the manifest generation that recorded it),
 *        u64 first lost LSN (0: none), u64 offset, u64 bytes dropped, u32 segments dropped,
 *        u16 file name length, u16 copy name length, the two names (UTF-8, inside wal/)
 *  version 4 (written only when a pending repair carries the fields below): after the sealed
 *        segments u32 flags (bit 0: a clean end follows), u32 reserved (0); the clean end as in
 *        version 3 (its flag bit 0 set), if any; then the repairs as in version 2 with two more
 *        u64 after the segments-dropped and name-length fields: last lost LSN (0: unknown or
 *        none) and gap end (0: the repair cut; else the end of the range it rewrote as filler,
 *        docs/format.md "Filler"), then the two names
 *
 * Pending repairs live here, not only in the open's report, because the repair's manifest
 * write is its commit point: a crash after it and before the stores have recorded the loss
 * (the sign guard's barrier, the audit event) must not forget that records were dropped.
 *
 * The clean end is written by a clean close, after every batch is durable: where the log
 * ended then (like Kafka's clean-shutdown marker). Everything up to it was acknowledged, so an
 * open treats any damage before it as CORRUPTION, never as a torn tail (docs/durability.md,
 * D5). It stays a true lower bound after later appends, so it is kept until the next clean
 * close replaces it, a seal covers its segment, or a repair cuts the log.
 */
import { join } from 'node:path';
import { crc32cUpdate, maskCrc } from '../codec/crc32c.ts';
import { equalBytes, readU32, readU64, writeU32, writeU64 } from '../codec/bytes.ts';
import { ConsensusStoreError, corruption } from '../errors.ts';
import { errnoOf, type FileSystem } from '../io/types.ts';

/** The manifest's file name inside the data directory. */
export const MANIFEST_NAME = 'MANIFEST';
const MAGIC = new TextEncoder().encode('CSMANIFS');
const VERSION = 1;
const VERSION_WITH_REPAIRS = 2;
const VERSION_WITH_CLEAN_END = 3;
const VERSION_WIDE_REPAIRS = 4;
const WIDE_FLAGS_BYTES = 8;
const WIDE_REPAIR_FIXED_BYTES = 56;
const CLEAN_END_BYTES = 32;
const FLAG_REPAIRS = 1;
/** Bound on pending repairs a manifest holds (each open repairs at most once). */
const MAX_PENDING_REPAIRS = 64;
const MAX_NAME_BYTES = 1024;
const REPAIR_FIXED_BYTES = 40;
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

/** A repair the stores have not acknowledged yet (see `Log.acknowledgeRepairs`). */
export interface PendingRepair {
  /** The generation of the manifest that recorded the repair: unique, increasing. */
  readonly id: number;
  /** The damaged segment's file name inside wal/. */
  readonly file: string;
  readonly offset: number;
  /** The `.broken` copy's file name inside wal/, or '' when none was made. */
  readonly brokenCopy: string;
  /** First LSN lost (every record from it on may be gone), or undefined when none was. */
  readonly firstLostLsn: number | undefined;
  readonly segmentsDropped: number;
  readonly bytesDropped: number;
  /** Last LSN lost, when known (version 4). */
  readonly lastLostLsn?: number | undefined;
  /** End of the range rewritten as filler when the repair kept the batches after it (version 4). */
  readonly gapEnd?: number | undefined;
}

/**
 * Where the log ended at its last clean close: every record up to it was acknowledged. The
 * segment is the newest one (unsealed) when it is recorded.
 */
export interface CleanEnd {
  readonly segmentId: number;
  /** LSN of the last record (0 when the log held none). */
  readonly lastLsn: number;
  /** Offset just past the segment's last batch (0: nothing written in it). */
  readonly endOffset: number;
  /** Header digest of the segment's records up to `endOffset` (see `segment-walk.ts`). */
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
  /** Repairs not yet acknowledged, oldest first. */
  readonly pendingRepairs: readonly PendingRepair[];
  /** Where the log ended at its last clean close, while that segment is unsealed. */
  readonly cleanEnd?: CleanEnd | undefined;
}

/** The manifest of a new, empty log. */
export function emptyManifest(): Manifest {
  return { generation: 0, firstSegmentId: 1, baseLsn: 1, sealed: [], pendingRepairs: [] };
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
  const wide = manifest.pendingRepairs.some((r) => r.lastLostLsn !== undefined || r.gapEnd !== undefined);
  const trailer = manifest.pendingRepairs.length === 0 ? undefined : encodePendingRepairs(manifest.pendingRepairs, wide);
  const clean = manifest.cleanEnd;
  const cleanBytes = clean === undefined ? 0 : CLEAN_END_BYTES;
  const flagBytes = wide ? WIDE_FLAGS_BYTES : 0;
  const total = FIXED_BYTES + ENTRY_BYTES * manifest.sealed.length + flagBytes + cleanBytes + (trailer?.length ?? 0);
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  const version = wide ? VERSION_WIDE_REPAIRS : clean !== undefined ? VERSION_WITH_CLEAN_END : trailer === undefined ? VERSION : VERSION_WITH_REPAIRS;
  writeU32(out, 8, version);
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
  if (wide) {
    writeU32(out, pos, clean === undefined ? 0 : 1);
    writeU32(out, pos + 4, 0);
    pos += WIDE_FLAGS_BYTES;
  }
  if (clean !== undefined) {
    writeU64(out, pos, clean.segmentId);
    writeU64(out, pos + 8, clean.lastLsn);
    writeU32(out, pos + 16, clean.endOffset);
    writeU32(out, pos + 20, clean.digest);
    writeU32(out, pos + 24, trailer === undefined ? 0 : FLAG_REPAIRS);
    pos += CLEAN_END_BYTES;
  }
  if (trailer !== undefined) out.set(trailer, pos);
  writeU32(out, 12, manifestCrc(out));
  return out;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

function encodePendingRepairs(repairs: readonly PendingRepair[], wide: boolean): Uint8Array {
  if (repairs.length > MAX_PENDING_REPAIRS) throw new RangeError(`more than ${MAX_PENDING_REPAIRS} pending repairs`);
  const names = repairs.map((r) => [utf8.encode(r.file), utf8.encode(r.brokenCopy)] as const);
  const fixed = wide ? WIDE_REPAIR_FIXED_BYTES : REPAIR_FIXED_BYTES;
  let size = 4;
  for (const [file, copy] of names) {
    if (file.length > MAX_NAME_BYTES || copy.length > MAX_NAME_BYTES) throw new RangeError('repair file name too long');
    size += fixed + file.length + copy.length;
  }
  const out = new Uint8Array(size);
  writeU32(out, 0, repairs.length);
  let pos = 4;
  repairs.forEach((r, i) => {
    const [file, copy] = names[i] as readonly [Uint8Array, Uint8Array];
    writeU64(out, pos, r.id);
    writeU64(out, pos + 8, r.firstLostLsn ?? 0);
    writeU64(out, pos + 16, r.offset);
    writeU64(out, pos + 24, r.bytesDropped);
    writeU32(out, pos + 32, r.segmentsDropped);
    out[pos + 36] = file.length & 0xff;
    out[pos + 37] = file.length >>> 8;
    out[pos + 38] = copy.length & 0xff;
    out[pos + 39] = copy.length >>> 8;
    if (wide) {
      writeU64(out, pos + 40, r.lastLostLsn ?? 0);
      writeU64(out, pos + 48, r.gapEnd ?? 0);
    }
    out.set(file, pos + fixed);
    out.set(copy, pos + fixed + file.length);
    pos += fixed + file.length + copy.length;
  });
  return out;
}

/** Decodes the version-2 trailer at `start`; CORRUPTION when it does not fill the rest exactly. */
function decodePendingRepairs(bytes: Uint8Array, start: number, file: string, generation: number, wide: boolean): PendingRepair[] {
  const fixed = wide ? WIDE_REPAIR_FIXED_BYTES : REPAIR_FIXED_BYTES;
  const fail = (at: number, why: string): never => {
    throw corruption(file, at, `manifest pending repairs: ${why}`);
  };
  if (start + 4 > bytes.length) fail(start, 'missing count');
  const count = readU32(bytes, start);
  if (count < 1 || count > MAX_PENDING_REPAIRS) fail(start, `count ${count} out of range`);
  const out: PendingRepair[] = [];
  let pos = start + 4;
  let lastId = 0;
  for (let i = 0; i < count; i++) {
    if (pos + fixed > bytes.length) fail(pos, `entry ${i} truncated`);
    const fileLen = (bytes[pos + 36] as number) | ((bytes[pos + 37] as number) << 8);
    const copyLen = (bytes[pos + 38] as number) | ((bytes[pos + 39] as number) << 8);
    const end = pos + fixed + fileLen + copyLen;
    if (fileLen === 0 || fileLen > MAX_NAME_BYTES || copyLen > MAX_NAME_BYTES || end > bytes.length) fail(pos, `entry ${i} names out of range`);
    const id = readU64(bytes, pos);
    if (id <= lastId || id > generation) fail(pos, `entry ${i} id ${id} out of order`);
    lastId = id;
    const lost = readU64(bytes, pos + 8);
    const offset = readU64(bytes, pos + 16);
    const bytesDropped = readU64(bytes, pos + 24);
    if (lost < 0 || offset < 0 || bytesDropped < 0) fail(pos + 8, `entry ${i} field exceeds 2^53-1`);
    const lastLost = wide ? readU64(bytes, pos + 40) : 0;
    const gapEnd = wide ? readU64(bytes, pos + 48) : 0;
    if (lastLost < 0 || gapEnd < 0) fail(pos + 40, `entry ${i} field exceeds 2^53-1`);
    if (lastLost !== 0 && lastLost < lost) fail(pos + 40, `entry ${i} last lost LSN before its first`);
    if (gapEnd !== 0 && gapEnd <= offset) fail(pos + 48, `entry ${i} gap ends before it starts`);
    let names: [string, string] = ['', ''];
    try {
      names = [
        utf8Strict.decode(bytes.subarray(pos + fixed, pos + fixed + fileLen)),
        utf8Strict.decode(bytes.subarray(pos + fixed + fileLen, end)),
      ];
    } catch {
      fail(pos + fixed, `entry ${i} names are not UTF-8`);
    }
    out.push({
      id,
      firstLostLsn: lost === 0 ? undefined : lost,
      offset,
      bytesDropped,
      segmentsDropped: readU32(bytes, pos + 32),
      file: names[0],
      brokenCopy: names[1],
      ...(wide ? { lastLostLsn: lastLost === 0 ? undefined : lastLost, gapEnd: gapEnd === 0 ? undefined : gapEnd } : {}),
    });
    pos = end;
  }
  if (pos !== bytes.length) fail(pos, 'trailing bytes');
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
  if (!equalBytes(bytes.subarray(0, MAGIC.length), MAGIC)) throw corruption(file, 0, 'not a manifest (bad magic)');
  const total = readU32(bytes, 16);
  if (total !== bytes.length) throw corruption(file, 16, `manifest length ${total} but file has ${bytes.length} bytes`);
  if (readU32(bytes, 12) !== manifestCrc(bytes)) throw corruption(file, 12, 'manifest checksum mismatch');
  const version = readU32(bytes, 8);
  if (version !== VERSION && version !== VERSION_WITH_REPAIRS && version !== VERSION_WITH_CLEAN_END && version !== VERSION_WIDE_REPAIRS) {
    throw new ConsensusStoreError('UNSUPPORTED_FORMAT', `manifest version ${version} (this build reads ${VERSION} to ${VERSION_WIDE_REPAIRS})`);
  }
  const count = readU32(bytes, 20);
  const sealedEnd = FIXED_BYTES + count * ENTRY_BYTES;
  const minTotal = version === VERSION_WITH_CLEAN_END ? sealedEnd + CLEAN_END_BYTES : version === VERSION_WIDE_REPAIRS ? sealedEnd + WIDE_FLAGS_BYTES : sealedEnd;
  if (count > MAX_SEALED || (version === VERSION ? sealedEnd !== total : version === VERSION_WITH_REPAIRS ? sealedEnd >= total : minTotal > total)) {
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
  if (version === VERSION_WIDE_REPAIRS) return decodeWideTail(bytes, sealedEnd, file, { generation, firstSegmentId, baseLsn, sealed });
  if (version === VERSION_WITH_CLEAN_END) {
    const { cleanEnd, repairsFollow } = decodeCleanEnd(bytes, sealedEnd, file, firstSegmentId + count, sealed[count - 1]?.lastLsn ?? baseLsn - 1);
    const trailerAt = sealedEnd + CLEAN_END_BYTES;
    if (!repairsFollow && trailerAt !== total) throw corruption(file, trailerAt, 'manifest trailing bytes after the clean end');
    const pendingRepairs = repairsFollow ? decodePendingRepairs(bytes, trailerAt, file, generation, false) : [];
    return { generation, firstSegmentId, baseLsn, sealed, pendingRepairs, cleanEnd };
  }
  const pendingRepairs = version === VERSION ? [] : decodePendingRepairs(bytes, sealedEnd, file, generation, false);
  return { generation, firstSegmentId, baseLsn, sealed, pendingRepairs };
}

/** Decodes what follows the sealed segments in version 4: flags, the clean end if flagged, the wide repairs. */
function decodeWideTail(bytes: Uint8Array, at: number, file: string, head: Omit<Manifest, 'pendingRepairs'>): Manifest {
  const flags = readU32(bytes, at);
  if ((flags & ~1) !== 0 || readU32(bytes, at + 4) !== 0) throw corruption(file, at, 'manifest flags invalid');
  let trailerAt = at + WIDE_FLAGS_BYTES;
  let cleanEnd: CleanEnd | undefined;
  if ((flags & 1) !== 0) {
    const count = head.sealed.length;
    const decoded = decodeCleanEnd(bytes, trailerAt, file, head.firstSegmentId + count, head.sealed[count - 1]?.lastLsn ?? head.baseLsn - 1);
    if (!decoded.repairsFollow) throw corruption(file, trailerAt + 24, 'manifest clean end flags invalid');
    cleanEnd = decoded.cleanEnd;
    trailerAt += CLEAN_END_BYTES;
  }
  const pendingRepairs = decodePendingRepairs(bytes, trailerAt, file, head.generation, true);
  return { ...head, pendingRepairs, ...(cleanEnd === undefined ? {} : { cleanEnd }) };
}

/**
 * Decodes the clean-end section at `at`: it must name the first unsealed segment and an LSN
 * at or after the last sealed one.
 */
function decodeCleanEnd(
  bytes: Uint8Array,
  at: number,
  file: string,
  unsealedId: number,
  lastSealedLsn: number,
): { cleanEnd: CleanEnd; repairsFollow: boolean } {
  const segmentId = readU64(bytes, at);
  const lastLsn = readU64(bytes, at + 8);
  const endOffset = readU32(bytes, at + 16);
  const digest = readU32(bytes, at + 20);
  const flags = readU32(bytes, at + 24);
  if (segmentId !== unsealedId) throw corruption(file, at, `manifest clean end names segment ${segmentId}, expected ${unsealedId}`);
  if (lastLsn < lastSealedLsn || (endOffset === 0) !== (lastLsn === lastSealedLsn)) {
    throw corruption(file, at + 8, 'manifest clean end does not continue the sealed segments');
  }
  if ((flags & ~FLAG_REPAIRS) !== 0 || readU32(bytes, at + 28) !== 0) throw corruption(file, at + 24, 'manifest clean end flags invalid');
  return { cleanEnd: { segmentId, lastLsn, endOffset, digest }, repairsFollow: (flags & FLAG_REPAIRS) !== 0 };
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
