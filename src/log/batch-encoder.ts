/**
 * The encoder: turns one write batch (the records of several `append` calls) into the single
 * buffer that one `writeAndSync` puts on disk: the segment header when the batch is the
 * segment's first, the records with consecutive LSNs, and the commit marker that makes the
 * batch count. Also advances the segment's header digest over the headers it wrote.
 *
 * This file must never do I/O, never allocate per record (one growable buffer is reused; the
 * caller does not touch the previous batch's bytes once the next batch is encoded, as only one
 * batch is in flight), and never encode a batch that does not fit its limits (checked earlier).
 */
import { crc32cUpdate } from '../codec/crc32c.ts';
import {
  COMMIT_RECORD_BYTES,
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  encodeCommitMarker,
  encodeRecord,
  encodeSegmentHeader,
  type SegmentHeader,
} from '../codec/framing.ts';
import type { RecordInput } from './types.ts';

/** One `append` call waiting to be written. */
export interface PendingAppend {
  readonly records: readonly RecordInput[];
  /** Bytes the records occupy on disk (headers and padding, no marker). */
  readonly bytes: number;
  readonly resolve: (lsns: number[]) => void;
  readonly reject: (err: unknown) => void;
}

/** An encoded batch, valid until the next `encode`. */
export interface EncodedBatch {
  /** The bytes to write at the batch's position. */
  readonly bytes: Uint8Array;
  /** Offset of each record inside `bytes`, first `records` entries. */
  readonly recordStarts: Uint32Array;
  readonly records: number;
  /** The segment's header digest after this batch. */
  readonly digest: number;
}

/** Encodes batches into a reused buffer. */
export class BatchEncoder {
  #buffer = new Uint8Array(64 * 1024);
  #starts: Uint32Array;

  /** @param maxBatchRecords - most records in one batch. */
  constructor(maxBatchRecords: number) {
    this.#starts = new Uint32Array(maxBatchRecords);
  }

  /**
   * Encodes `calls` (in order) as one batch.
   *
   * @param firstLsn - the LSN of the batch's first record.
   * @param recordBytes - sum of the calls' `bytes`.
   * @param segmentHeader - present when the batch is the first of its segment.
   * @param digest - the segment's header digest before this batch.
   */
  encode(
    calls: readonly PendingAppend[],
    firstLsn: number,
    recordBytes: number,
    segmentHeader: SegmentHeader | undefined,
    digest: number,
  ): EncodedBatch {
    const headerBytes = segmentHeader === undefined ? 0 : SEGMENT_HEADER_BYTES;
    const total = headerBytes + recordBytes + COMMIT_RECORD_BYTES;
    if (this.#buffer.length < total) {
      let size = this.#buffer.length;
      while (size < total) size *= 2;
      this.#buffer = new Uint8Array(size);
    }
    const out = this.#buffer;
    const starts = this.#starts;
    let pos = segmentHeader === undefined ? 0 : encodeSegmentHeader(out, 0, segmentHeader);
    let lsn = firstLsn;
    let n = 0;
    let d = digest;
    for (const call of calls) {
      for (const record of call.records) {
        starts[n++] = pos;
        const next = encodeRecord(out, pos, record.kind, lsn++, record.payload);
        d = crc32cUpdate(d, out, pos, pos + RECORD_HEADER_BYTES);
        pos = next;
      }
    }
    const markerAt = pos;
    pos = encodeCommitMarker(out, pos, lsn - 1, n, markerAt - headerBytes);
    d = crc32cUpdate(d, out, markerAt, markerAt + RECORD_HEADER_BYTES);
    return { bytes: out.subarray(0, pos), recordStarts: starts, records: n, digest: d };
  }
}
