/**
 * Where the last committed batch of a segment file's bytes lies (walking record headers from
 * the segment header to the first unwritten one), for tests that damage exactly that batch.
 * Test support only: it trusts the bytes it is given.
 */
import { COMMIT_KIND, RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES, readU32, recordSpan } from '../../src/codec/framing.ts';

/** The byte range of the segment's last batch, or undefined when it holds none. */
export function lastBatchRange(bytes: Uint8Array): { start: number; end: number } | undefined {
  let pos = SEGMENT_HEADER_BYTES;
  let batchStart = 0;
  let range: { start: number; end: number } | undefined;
  while (pos + RECORD_HEADER_BYTES <= bytes.length && bytes[pos + 8] !== 0) {
    const end = pos + recordSpan(readU32(bytes, pos));
    if (bytes[pos + 8] === COMMIT_KIND) {
      range = { start: batchStart, end };
      batchStart = end;
    }
    pos = end;
  }
  return range;
}
