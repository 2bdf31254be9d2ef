/**
 * The log's bytes: the segment header, the record header and the commit marker that ends each
 * batch (the layouts are written down, with the reasons, in docs/format.md).
 *
 * This file turns numbers into bytes and bytes back into numbers, and checks them. It must never
 * do I/O, never allocate on the per-record paths (the commit path encodes every record here and
 * the scanner decodes every record here), and never trust a length before checking it against
 * the format's bound and the bytes left in the segment.
 *
 * Record (8-byte aligned, little-endian):
 *   0  u32 length     payload bytes
 *   4  u32 crc        masked CRC32C of bytes [0,4) ++ [8, span): length, the fields after
 *                     the CRC, the payload and the padding
 *   8  u8  kind       1..255; 0 means unwritten space
 *   9  u8  flags      0 (reserved)
 *  10  u16 reserved   0
 *  12  u32 reserved   0
 *  16  u64 lsn
 *  24  payload, then zero padding to a multiple of 8
 */
import { readU32, readU64, writeU32, writeU64 } from './bytes.ts';
import { crc32cUpdate, maskCrc } from './crc32c.ts';

/** The little-endian field helpers live in bytes.ts; re-exported for the framing's readers. */
export { readU32, readU64, writeU32, writeU64 };

/** Bytes of a record header. */
export const RECORD_HEADER_BYTES = 24;
/** Bytes of the segment header at offset 0 of every segment that holds data. */
export const SEGMENT_HEADER_BYTES = 32;
/** The record kind of a commit marker (the log's own range, 200..255). */
export const COMMIT_KIND = 200;
/** Payload bytes of a commit marker: u32 record count, u32 batch bytes. */
export const COMMIT_PAYLOAD_BYTES = 8;
/** Bytes a commit marker occupies. */
export const COMMIT_RECORD_BYTES = RECORD_HEADER_BYTES + COMMIT_PAYLOAD_BYTES;
/** Format bound on a payload, whatever the options: a longer length field is damage. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;
/** Version of the segment and record layout. */
export const FORMAT_VERSION = 1;
/** "CSWALSEG": the first eight bytes of a segment that holds data. */
export const SEGMENT_MAGIC: Uint8Array = new TextEncoder().encode('CSWALSEG');

/** Bytes a record with a payload of `payloadLength` bytes occupies (header, payload, padding). */
export function recordSpan(payloadLength: number): number {
  return (RECORD_HEADER_BYTES + payloadLength + 7) & ~7;
}

/** The masked CRC a record at `pos` must carry: over its length field and everything after the CRC field, padding included. */
function recordCrc(bytes: Uint8Array, pos: number, payloadLength: number): number {
  const head = crc32cUpdate(0, bytes, pos, pos + 4);
  return maskCrc(crc32cUpdate(head, bytes, pos + 8, pos + recordSpan(payloadLength)));
}

/**
 * Encodes one record at `out[pos]`: header, payload, zero padding.
 *
 * @param kind - 1..255 (checked by the caller).
 * @param lsn - the record's LSN (a safe integer).
 * @returns the position after the record (`pos + recordSpan(payload.length)`).
 * The caller guarantees that `out` has room; nothing is checked here (hot path).
 */
export function encodeRecord(out: Uint8Array, pos: number, kind: number, lsn: number, payload: Uint8Array): number {
  const length = payload.length;
  writeU32(out, pos, length);
  out[pos + 8] = kind;
  out[pos + 9] = 0;
  out[pos + 10] = 0;
  out[pos + 11] = 0;
  writeU32(out, pos + 12, 0);
  writeU64(out, pos + 16, lsn);
  out.set(payload, pos + RECORD_HEADER_BYTES);
  const end = pos + recordSpan(length);
  for (let i = pos + RECORD_HEADER_BYTES + length; i < end; i++) out[i] = 0;
  writeU32(out, pos + 4, recordCrc(out, pos, length));
  return end;
}

/**
 * Encodes the commit marker that ends a batch.
 *
 * @param lastLsn - the LSN of the batch's last record (the marker's own LSN field).
 * @param count - records in the batch (at least 1).
 * @param batchBytes - bytes from the batch's first record to this marker.
 * @returns the position after the marker.
 */
export function encodeCommitMarker(
  out: Uint8Array,
  pos: number,
  lastLsn: number,
  count: number,
  batchBytes: number,
): number {
  writeU32(out, pos, COMMIT_PAYLOAD_BYTES);
  out[pos + 8] = COMMIT_KIND;
  out[pos + 9] = 0;
  out[pos + 10] = 0;
  out[pos + 11] = 0;
  writeU32(out, pos + 12, 0);
  writeU64(out, pos + 16, lastLsn);
  writeU32(out, pos + 24, count);
  writeU32(out, pos + 28, batchBytes);
  writeU32(out, pos + 4, recordCrc(out, pos, COMMIT_PAYLOAD_BYTES));
  return pos + COMMIT_RECORD_BYTES;
}

/** What `checkRecordHeader` found. */
export const HeaderStatus = {
  /** A plausible header: fields in range, length fits. The CRC is not checked yet. */
  Ok: 0,
  /** 24 zero bytes: unwritten (preallocated) space. */
  Unwritten: 1,
  /** The length exceeds the format bound or the bytes left in the segment. */
  BadLength: 2,
  /** Kind 0 with other bytes set, non-zero flags or reserved bytes, or an LSN above 2^53 - 1. */
  BadFields: 3,
} as const;
/** A value of `HeaderStatus`. */
export type HeaderStatus = (typeof HeaderStatus)[keyof typeof HeaderStatus];

/**
 * Checks the 24 header bytes at `bytes[pos]` (the caller has them in memory).
 *
 * @param bytesLeft - bytes from this header to the end of the segment: the length must fit
 *   (checked before the payload is read or any buffer sized from it).
 */
export function checkRecordHeader(bytes: Uint8Array, pos: number, bytesLeft: number): HeaderStatus {
  const kind = bytes[pos + 8]!;
  if (kind === 0) {
    for (let i = pos; i < pos + RECORD_HEADER_BYTES; i++) if (bytes[i] !== 0) return HeaderStatus.BadFields;
    return HeaderStatus.Unwritten;
  }
  if (bytes[pos + 9] !== 0 || bytes[pos + 10] !== 0 || bytes[pos + 11] !== 0 || readU32(bytes, pos + 12) !== 0) {
    return HeaderStatus.BadFields;
  }
  if (readU64(bytes, pos + 16) < 0) return HeaderStatus.BadFields;
  const length = readU32(bytes, pos);
  if (length > MAX_PAYLOAD_BYTES || recordSpan(length) > bytesLeft) return HeaderStatus.BadLength;
  if (kind === COMMIT_KIND && length !== COMMIT_PAYLOAD_BYTES) return HeaderStatus.BadLength;
  return HeaderStatus.Ok;
}

/** True when the record at `pos` (header checked, all `recordSpan` bytes in memory) carries a matching CRC. */
export function recordCrcMatches(bytes: Uint8Array, pos: number): boolean {
  return readU32(bytes, pos + 4) === recordCrc(bytes, pos, readU32(bytes, pos));
}

/** Payload length of the record at `pos`. */
export function recordLength(bytes: Uint8Array, pos: number): number {
  return readU32(bytes, pos);
}

/** Kind of the record at `pos`. */
export function recordKind(bytes: Uint8Array, pos: number): number {
  return bytes[pos + 8]!;
}

/** LSN of the record at `pos` (the last LSN of the batch, for a commit marker). */
export function recordLsn(bytes: Uint8Array, pos: number): number {
  return readU64(bytes, pos + 16);
}

/** Record count of the commit marker at `pos`. */
export function commitCount(bytes: Uint8Array, pos: number): number {
  return readU32(bytes, pos + RECORD_HEADER_BYTES);
}

/** Batch bytes (first record to marker) of the commit marker at `pos`. */
export function commitBatchBytes(bytes: Uint8Array, pos: number): number {
  return readU32(bytes, pos + RECORD_HEADER_BYTES + 4);
}

/** Segment header fields. */
export interface SegmentHeader {
  /** The segment's sequence number (also its file name). */
  readonly id: number;
  /** LSN of the segment's first record. */
  readonly firstLsn: number;
}

/**
 * Encodes the segment header:
 *   0 "CSWALSEG", 8 u32 version, 12 u32 masked CRC32C of [0,12) ++ [16,32), 16 u64 id, 24 u64 first LSN.
 *
 * @returns the position after the header.
 */
export function encodeSegmentHeader(out: Uint8Array, pos: number, header: SegmentHeader): number {
  out.set(SEGMENT_MAGIC, pos);
  writeU32(out, pos + 8, FORMAT_VERSION);
  writeU64(out, pos + 16, header.id);
  writeU64(out, pos + 24, header.firstLsn);
  writeU32(out, pos + 12, segmentHeaderCrc(out, pos));
  return pos + SEGMENT_HEADER_BYTES;
}

function segmentHeaderCrc(bytes: Uint8Array, pos: number): number {
  return maskCrc(crc32cUpdate(crc32cUpdate(0, bytes, pos, pos + 12), bytes, pos + 16, pos + SEGMENT_HEADER_BYTES));
}

/** What `decodeSegmentHeader` found. */
export type SegmentHeaderResult =
  | { readonly status: 'ok'; readonly header: SegmentHeader }
  | { readonly status: 'unwritten' }
  | { readonly status: 'unsupported'; readonly version: number }
  | { readonly status: 'bad'; readonly problem: string };

/**
 * Decodes the 32 bytes at `bytes[pos]` as a segment header. All zero is `unwritten` (a
 * preallocated segment that never received a batch); a sound header of another format version
 * is `unsupported` (the caller reports UNSUPPORTED_FORMAT, not damage).
 */
export function decodeSegmentHeader(bytes: Uint8Array, pos: number): SegmentHeaderResult {
  let zero = true;
  for (let i = pos; i < pos + SEGMENT_HEADER_BYTES; i++) {
    if (bytes[i] !== 0) {
      zero = false;
      break;
    }
  }
  if (zero) return { status: 'unwritten' };
  if (readU32(bytes, pos + 12) !== segmentHeaderCrc(bytes, pos)) {
    return { status: 'bad', problem: 'segment header checksum mismatch' };
  }
  for (let i = 0; i < SEGMENT_MAGIC.length; i++) {
    if (bytes[pos + i] !== SEGMENT_MAGIC[i]) return { status: 'bad', problem: 'not a segment (bad magic)' };
  }
  const version = readU32(bytes, pos + 8);
  if (version !== FORMAT_VERSION) return { status: 'unsupported', version };
  const id = readU64(bytes, pos + 16);
  const firstLsn = readU64(bytes, pos + 24);
  if (id < 0 || firstLsn < 1) return { status: 'bad', problem: 'segment header field out of range' };
  return { status: 'ok', header: { id, firstLsn } };
}
