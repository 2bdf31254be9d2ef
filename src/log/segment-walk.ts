/**
 * The decoder of one segment at open: walks its header, records and commit markers, checks
 * each record's fields, LSN sequence and (when asked) checksum, checks every commit marker
 * against the batch it closes, fills the segment's index entry with the offsets of committed
 * records, and reports where the committed data ends and, if the walk stopped early, why.
 *
 * This file must never decide what a stop means (torn tail or corruption: `open.ts` and
 * `tail-repair.ts` decide), never write, and never index a record whose batch did not commit.
 *
 * The header digest: a CRC32C over every record header (commit markers included) of the
 * committed batches, in order. The manifest stores it for sealed segments, so that open can
 * check a sealed segment's headers (which hold every payload's CRC) without checksumming the
 * payloads; reads check payload CRCs anyway (D4).
 */
import { crc32cUpdate } from '../codec/crc32c.ts';
import {
  COMMIT_KIND,
  HeaderStatus,
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  checkRecordHeader,
  commitBatchBytes,
  commitCount,
  decodeSegmentHeader,
  recordCrcMatches,
  recordKind,
  recordLength,
  recordLsn,
  recordSpan,
  type SegmentHeader,
} from '../codec/framing.ts';
import { ConsensusStoreError } from '../errors.ts';
import type { FileHandle } from '../io/types.ts';
import { ChunkReader } from './chunk-reader.ts';
import type { SegmentEntry } from './lsn-index.ts';

/** What to walk. */
export interface WalkInput {
  readonly handle: FileHandle;
  /** The segment's index entry (id, path, capacity, expected first LSN); filled with committed offsets. */
  readonly entry: SegmentEntry;
  /** Walk no further than this offset (the capacity for the tail; the sealed end for a sealed segment). */
  readonly limit: number;
  /** Check every record's CRC (tail, repair) or only the structure (sealed segments). */
  readonly verifyCrc: boolean;
  readonly chunkBytes: number;
  /** An offset where a batch is known to end (the clean end): the walk reports the state there. */
  readonly mark?: number | undefined;
}

/** The walk's state where a batch ended exactly at `WalkInput.mark`. */
export interface WalkMark {
  readonly nextLsn: number;
  readonly digest: number;
}

/** Why a walk stopped before a clean end. */
export interface WalkDamage {
  /** Offset of the first bad byte range (a record or header). */
  readonly offset: number;
  readonly problem: string;
  /**
   * False when the damage cannot be a torn write: a sound segment header with the wrong id or
   * first LSN. Such a segment is never cut as a torn tail.
   */
  readonly tearable: boolean;
}

/** What a walk found. */
export interface WalkResult {
  /** The segment header, when it is sound. */
  readonly header: SegmentHeader | undefined;
  /** Offset just past the last committed batch; 0 when no batch committed (the header belongs to the first batch). */
  readonly endOffset: number;
  /** LSN after the last committed record. */
  readonly nextLsn: number;
  readonly records: number;
  readonly batches: number;
  /** Header digest of the committed batches. */
  readonly digest: number;
  /** Present when the walk stopped on something other than unwritten space or the limit. */
  readonly damage: WalkDamage | undefined;
  /** The state at `WalkInput.mark`, when a committed batch ended exactly there (or the mark is 0). */
  readonly atMark: WalkMark | undefined;
}

/**
 * Walks one segment (see the file comment).
 *
 * @throws ConsensusStoreError UNSUPPORTED_FORMAT for a sound header of another format version;
 *   the file system's errno errors.
 */
export async function walkSegment(input: WalkInput): Promise<WalkResult> {
  const { entry, limit, verifyCrc } = input;
  const reader = new ChunkReader(input.handle, entry.capacity, input.chunkBytes);
  const firstLsn = entry.firstLsn;
  const empty = (damage: WalkDamage | undefined, header?: SegmentHeader): WalkResult => ({
    header,
    endOffset: 0,
    nextLsn: firstLsn,
    records: 0,
    batches: 0,
    digest: 0,
    damage,
    atMark: input.mark === 0 ? { nextLsn: firstLsn, digest: 0 } : undefined,
  });
  if (!(await reader.ensure(0, SEGMENT_HEADER_BYTES))) {
    return empty({ offset: 0, problem: 'segment shorter than its header', tearable: false });
  }
  const decoded = decodeSegmentHeader(reader.bytes, 0);
  if (decoded.status === 'unwritten') return empty(undefined);
  if (decoded.status === 'unsupported') {
    throw new ConsensusStoreError('UNSUPPORTED_FORMAT', `${entry.path}: segment format version ${decoded.version}`);
  }
  if (decoded.status === 'bad') return empty({ offset: 0, problem: decoded.problem, tearable: true });
  const header = decoded.header;
  if (header.id !== entry.id) {
    return empty({ offset: 16, problem: `segment header names segment ${header.id}`, tearable: false }, header);
  }
  if (header.firstLsn !== firstLsn) {
    return empty(
      { offset: 24, problem: `segment starts at LSN ${header.firstLsn}, expected ${firstLsn}`, tearable: false },
      header,
    );
  }

  let pos = SEGMENT_HEADER_BYTES;
  let lsn = firstLsn;
  let batchStart = pos;
  let batchCount = 0;
  let runningDigest = 0;
  let committed = { endOffset: 0, nextLsn: firstLsn, records: 0, batches: 0, digest: 0 };
  let damage: WalkDamage | undefined;
  let atMark: WalkMark | undefined = input.mark === 0 ? { nextLsn: firstLsn, digest: 0 } : undefined;
  const stop = (problem: string): void => {
    damage = { offset: pos, problem, tearable: true };
  };

  for (;;) {
    if (limit - pos < RECORD_HEADER_BYTES) {
      if (batchCount > 0) stop('batch without commit marker at the end of the segment');
      break;
    }
    if (!reader.has(pos, RECORD_HEADER_BYTES)) await reader.ensure(pos, RECORD_HEADER_BYTES);
    let i = pos - reader.start;
    const status = checkRecordHeader(reader.bytes, i, limit - pos);
    if (status === HeaderStatus.Unwritten) {
      if (batchCount > 0) stop('batch without commit marker');
      break;
    }
    if (status !== HeaderStatus.Ok) {
      stop(status === HeaderStatus.BadLength ? 'record length out of bounds' : 'record header fields invalid');
      break;
    }
    const span = recordSpan(recordLength(reader.bytes, i));
    if (!reader.has(pos, span)) {
      await reader.ensure(pos, span);
      i = pos - reader.start;
    }
    const bytes = reader.bytes;
    if (verifyCrc && !recordCrcMatches(bytes, i)) {
      stop('record checksum mismatch');
      break;
    }
    const recLsn = recordLsn(bytes, i);
    runningDigest = crc32cUpdate(runningDigest, bytes, i, i + RECORD_HEADER_BYTES);
    if (recordKind(bytes, i) === COMMIT_KIND) {
      if (batchCount === 0 || commitCount(bytes, i) !== batchCount || commitBatchBytes(bytes, i) !== pos - batchStart || recLsn !== lsn - 1) {
        stop('commit marker does not match its batch');
        break;
      }
      pos += span;
      committed = {
        endOffset: pos,
        nextLsn: lsn,
        records: committed.records + batchCount,
        batches: committed.batches + 1,
        digest: runningDigest,
      };
      if (pos === input.mark) atMark = { nextLsn: lsn, digest: runningDigest };
      batchStart = pos;
      batchCount = 0;
      continue;
    }
    if (recLsn !== lsn) {
      stop(`record has LSN ${recLsn}, expected ${lsn}`);
      break;
    }
    entry.push(pos);
    lsn++;
    batchCount++;
    pos += span;
  }
  entry.truncate(committed.records);
  entry.endOffset = committed.endOffset;
  return { header, ...committed, damage, atMark };
}
