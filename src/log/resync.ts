/**
 * Resynchronization after damage (D5, explicit repair): where, after the first damaged batch of
 * a segment, the next intact batch begins. Scans 8-byte-aligned offsets for a record header
 * whose fields and CRC check and whose LSN is above the last good one, and accepts it only when
 * its whole batch checks: every record's CRC, consecutive LSNs, and a commit marker that matches
 * the batch (count, bytes, last LSN), as the walk requires (segment-walk.ts).
 *
 * This file must never write, and never accept a batch the walk would refuse.
 */
import {
  COMMIT_KIND,
  HeaderStatus,
  RECORD_HEADER_BYTES,
  checkRecordHeader,
  commitBatchBytes,
  commitCount,
  recordCrcMatches,
  recordKind,
  recordLength,
  recordLsn,
  recordSpan,
} from '../codec/framing.ts';
import type { FileHandle } from '../io/types.ts';
import { ChunkReader, DEFAULT_CHUNK_BYTES } from './chunk-reader.ts';

/** An intact batch found after damage. */
export interface IntactBatch {
  /** Offset of its first record. */
  readonly offset: number;
  /** LSN of its first record. */
  readonly firstLsn: number;
}

/**
 * The first intact batch in `[from, limit)` of a segment whose records have LSNs above
 * `afterLsn` (see the file comment), or undefined.
 *
 * @param from - an 8-aligned offset (the start of the first damaged batch).
 * @throws the file system's errno error.
 */
export async function findIntactBatch(handle: FileHandle, capacity: number, from: number, limit: number, afterLsn: number): Promise<IntactBatch | undefined> {
  const scan = new ChunkReader(handle, capacity, DEFAULT_CHUNK_BYTES);
  const batch = new ChunkReader(handle, capacity, DEFAULT_CHUNK_BYTES);
  for (let q = from; q + RECORD_HEADER_BYTES <= limit; q += 8) {
    if (!scan.has(q, RECORD_HEADER_BYTES)) await scan.ensure(q, RECORD_HEADER_BYTES);
    const i = q - scan.start;
    const kind = scan.bytes[i + 8]!;
    if (kind === 0 || kind === COMMIT_KIND) continue;
    if (checkRecordHeader(scan.bytes, i, limit - q) !== HeaderStatus.Ok) continue;
    const lsn = recordLsn(scan.bytes, i);
    if (lsn <= afterLsn) continue;
    if (await batchIntact(batch, q, limit, lsn)) return { offset: q, firstLsn: lsn };
  }
  return undefined;
}

/** Whether a whole, matching batch starts at `start` with LSN `firstLsn` and ends before `limit`. */
async function batchIntact(reader: ChunkReader, start: number, limit: number, firstLsn: number): Promise<boolean> {
  let pos = start;
  let lsn = firstLsn;
  for (;;) {
    if (pos + RECORD_HEADER_BYTES > limit || !(await reader.ensure(pos, RECORD_HEADER_BYTES))) return false;
    let i = pos - reader.start;
    if (checkRecordHeader(reader.bytes, i, limit - pos) !== HeaderStatus.Ok) return false;
    const span = recordSpan(recordLength(reader.bytes, i));
    if (!(await reader.ensure(pos, span))) return false;
    i = pos - reader.start;
    const bytes = reader.bytes;
    if (!recordCrcMatches(bytes, i)) return false;
    if (recordKind(bytes, i) === COMMIT_KIND) {
      const count = lsn - firstLsn;
      return count >= 1 && commitCount(bytes, i) === count && commitBatchBytes(bytes, i) === pos - start && recordLsn(bytes, i) === lsn - 1;
    }
    if (recordLsn(bytes, i) !== lsn) return false;
    lsn++;
    pos += span;
  }
}
