/**
 * Torn-tail repair (D5): after the walk of the newest segment stopped, decide whether what
 * follows the last committed batch is a torn, unacknowledged tail (cut it) or damage with
 * acknowledged data after it (CORRUPTION), and wipe the cut region so that no garbage can
 * follow a zero header (etcd issue 6515).
 *
 * The rule. With durability `fsync` at most one batch is in flight, so only the last batch can
 * be torn. A batch that follows the damaged one therefore proves the damage is not a tear: the
 * inspection looks, at every 8-byte-aligned offset after the cut, for a sound commit marker
 * whose batch starts at an LSN above the cut's LSN. Leftovers of a batch rejected with
 * DISK_FULL (written, then overwritten by a shorter batch at the same place) cannot pass: their
 * first LSN is at most the cut's LSN, because the position and the LSNs do not advance on a
 * rejected batch.
 *
 * Torn or rotten. A torn write leaves whole sectors unwritten, and past the cut an unwritten
 * sector is zero (segments are created zero-filled, and every open wipes what follows its cut).
 * So the batch that starts at the cut was written whole when its own commit marker (intact, or
 * one bit away from the marker it must be) stands after it and no sector's share of the batch
 * at or after the first bad record is zero: its checksum failure is damage to written bytes
 * (rot), and the batch may have been acknowledged, so it is CORRUPTION, never a cut
 * (`wholeBatchDamaged`). The limits are in docs/durability.md (D5).
 *
 * This file must never cut anything before the cut offset it is given, and never report a
 * repair done before the zeros are fdatasync'ed.
 */
import {
  COMMIT_KIND,
  COMMIT_PAYLOAD_BYTES,
  COMMIT_RECORD_BYTES,
  HeaderStatus,
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  checkRecordHeader,
  commitCount,
  encodeCommitMarker,
  recordCrcMatches,
  recordLsn,
} from '../codec/framing.ts';
import { readU32, readU64 } from '../codec/bytes.ts';
import type { FileHandle } from '../io/types.ts';
import { ChunkReader } from './chunk-reader.ts';
import { zeroBuffers } from './segment-file.ts';

/** What lies after a cut. */
export interface TailInspection {
  /** Offset of a sound commit marker of a later batch, if any (the damage is not a tear). */
  readonly laterMarkerAt: number | undefined;
  /** Offset just past the last non-zero 8-byte word at or after the cut (the cut offset if none). */
  readonly nonZeroEnd: number;
}

/**
 * Reads `[cut, capacity)` of a segment (see the file comment).
 *
 * @param cut - 8-aligned offset where the committed data ends.
 * @param lsnAtCut - the LSN the first record at the cut would have.
 */
export async function inspectTail(
  handle: FileHandle,
  capacity: number,
  cut: number,
  lsnAtCut: number,
  chunkBytes: number,
): Promise<TailInspection> {
  let laterMarkerAt: number | undefined;
  const nonZeroEnd = await scanData(handle, capacity, cut, chunkBytes, (bytes, i, q) => {
    const count = commitCount(bytes, i);
    if (count < 1 || recordLsn(bytes, i) - count + 1 <= lsnAtCut) return false;
    laterMarkerAt = q;
    return true;
  });
  return { laterMarkerAt, nonZeroEnd };
}

/**
 * Scans `[from, capacity)` of a segment 8 bytes at a time: hands every sound commit marker
 * (header and CRC check) to `onMarker` (its bytes, its index in them, its offset) until that
 * returns true, and resolves with the offset just past the last non-zero word seen (`from` if
 * none). Runs of zeros are skipped in one native comparison per window (word by word, this
 * loop cost ~70 ms per 64 MiB segment at every open).
 * @throws the file system's errno error.
 */
export async function scanData(
  handle: FileHandle,
  capacity: number,
  from: number,
  chunkBytes: number,
  onMarker: (bytes: Uint8Array, i: number, offset: number) => boolean,
): Promise<number> {
  const reader = new ChunkReader(handle, capacity, chunkBytes);
  let nonZeroEnd = from;
  for (let q = from; q + 8 <= capacity; q += 8) {
    if (!reader.has(q, 8)) await reader.ensure(q, 8);
    const zeros = zeroWordsFrom(reader, q);
    if (zeros > 0) {
      q += zeros - 8;
      continue;
    }
    const w = (q - reader.start) >>> 2;
    if ((reader.words[w]! | reader.words[w + 1]!) === 0) continue;
    nonZeroEnd = q + 8;
    if (reader.words[w] !== COMMIT_PAYLOAD_BYTES || q + COMMIT_RECORD_BYTES > capacity) continue;
    if (!reader.has(q, COMMIT_RECORD_BYTES)) await reader.ensure(q, COMMIT_RECORD_BYTES);
    const i = q - reader.start;
    const bytes = reader.bytes;
    if (bytes[i + 8] !== COMMIT_KIND) continue;
    if (checkRecordHeader(bytes, i, capacity - q) !== HeaderStatus.Ok || !recordCrcMatches(bytes, i)) continue;
    if (onMarker(bytes, i, q)) break;
  }
  return nonZeroEnd;
}

/** The smallest unit a torn write leaves unwritten (a 512-byte sector; 4096-byte ones are 8 of them). */
export const SECTOR_BYTES = 512;

/**
 * Whether the batch that starts at `cut` was written whole and has since been damaged (see the
 * file comment): its own commit marker (intact or one bit off) stands after it, whatever follows
 * (the torn remains of a later batch may), and no sector's share of the batch, from the sector
 * holding `firstBad` to the end of the marker, is all zero.
 *
 * @param cut - 8-aligned offset where the committed data ends (0: the segment's first batch,
 *   whose records start after the segment header).
 * @param lsnAtCut - the LSN of the batch's first record.
 * @param firstBad - offset of the first record (or header) the walk could not accept.
 * @param nonZeroEnd - offset just past the last non-zero 8-byte word after the cut.
 * @param maxBatchBytes - the largest batch the log writes (bounds the search for the marker).
 */
export async function wholeBatchDamaged(
  handle: FileHandle,
  capacity: number,
  cut: number,
  lsnAtCut: number,
  firstBad: number,
  nonZeroEnd: number,
  maxBatchBytes: number,
): Promise<boolean> {
  const recordsStart = cut === 0 ? SEGMENT_HEADER_BYTES : cut;
  const searchEnd = Math.min(nonZeroEnd, recordsStart + maxBatchBytes);
  if (searchEnd - recordsStart < RECORD_HEADER_BYTES + COMMIT_RECORD_BYTES) return false;
  const reader = new ChunkReader(handle, capacity, Math.max(searchEnd - cut, 8));
  if (!(await reader.ensure(cut, searchEnd - cut))) return false;
  const bytes = reader.bytes;
  const at = (offset: number): number => offset - reader.start;
  for (let m = recordsStart + RECORD_HEADER_BYTES; m + COMMIT_RECORD_BYTES <= searchEnd; m += 8) {
    const slot = bytes.subarray(at(m), at(m + COMMIT_RECORD_BYTES));
    if (!looksLikeMarker(slot) || !isOwnMarker(slot, m - recordsStart, lsnAtCut)) continue;
    const end = m + COMMIT_RECORD_BYTES;
    // A sector the write never reached would be zero; only sectors from the one holding the
    // first bad record on can explain that record's failure.
    for (let s = Math.floor(firstBad / SECTOR_BYTES) * SECTOR_BYTES; s < end; s += SECTOR_BYTES) {
      if (isZero(bytes, at(Math.max(s, cut)), at(Math.min(s + SECTOR_BYTES, end)))) return false;
    }
    return true;
  }
  return false;
}

/** The fixed bytes of a commit marker's header (length 8, kind 200, zero flags and reserved), within one bit. */
function looksLikeMarker(slot: Uint8Array): boolean {
  let bits = popcount((slot[0]! ^ COMMIT_PAYLOAD_BYTES) & 0xff) + popcount(slot[8]! ^ COMMIT_KIND);
  for (const i of [1, 2, 3, 9, 10, 11, 12, 13, 14, 15]) bits += popcount(slot[i]!);
  return bits <= 1;
}

/**
 * Whether `slot` (32 bytes) is the commit marker of a batch of `batchBytes` bytes starting at
 * LSN `firstLsn`, intact or with one flipped bit. The record count is taken from the slot's
 * count field, or from its LSN field (one of them survives a single flip).
 */
function isOwnMarker(slot: Uint8Array, batchBytes: number, firstLsn: number): boolean {
  const maxCount = Math.floor(batchBytes / RECORD_HEADER_BYTES);
  const fromLsn = readU64(slot, 16) - firstLsn + 1;
  const expected = new Uint8Array(COMMIT_RECORD_BYTES);
  for (const count of new Set([readU32(slot, 24), fromLsn])) {
    if (!Number.isSafeInteger(count) || count < 1 || count > maxCount) continue;
    encodeCommitMarker(expected, 0, firstLsn + count - 1, count, batchBytes);
    if (bitsApart(slot, expected) <= 1) return true;
  }
  return false;
}

function bitsApart(a: Uint8Array, b: Uint8Array): number {
  let bits = 0;
  for (let i = 0; i < a.length; i++) bits += popcount((a[i]! ^ b[i]!) & 0xff);
  return bits;
}

function popcount(byte: number): number {
  let bits = 0;
  for (let x = byte; x !== 0; x >>>= 1) bits += x & 1;
  return bits;
}

function isZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}

const ZERO_BLOCK = new Uint8Array(64 * 1024);

/**
 * How many bytes from `q` (8-aligned, inside the window) are zero, counted in whole 8-byte
 * words up to the window's end: 0 when the word at `q` is not zero.
 */
function zeroWordsFrom(reader: ChunkReader, q: number): number {
  const bytes = reader.bytes;
  let i = q - reader.start;
  const end = reader.end - reader.start - ((reader.end - q) & 7);
  const from = i;
  while (i < end) {
    const n = Math.min(ZERO_BLOCK.length, end - i);
    if (Buffer.compare(ZERO_BLOCK.subarray(0, n), bytes.subarray(i, i + n)) === 0) {
      i += n;
      continue;
    }
    // Some byte of this block is not zero: find its word.
    while (i < end && (reader.words[i >>> 2]! | reader.words[(i >>> 2) + 1]!) === 0) i += 8;
    break;
  }
  return i - from;
}

/**
 * Writes zeros over `[from, to)` and fdatasyncs, so that the cut survives a crash.
 *
 * @throws the file system's errno error.
 */
export async function zeroRange(handle: FileHandle, from: number, to: number): Promise<void> {
  if (to <= from) return;
  await handle.write(zeroBuffers(to - from), from);
  await handle.datasync();
}
