/**
 * Filler records (docs/format.md, "Filler"): what an explicit repair writes over the damaged
 * batches it drops when intact batches follow them, so that the segment stays a valid run of
 * committed batches with contiguous LSNs (the LSN index, the readers, the manifest's header
 * digest and every later batch stay as they are). One filler record per lost LSN, empty but for
 * the last of each batch, whose zero payload takes the slack, so that the filler fills the
 * damaged range exactly; each batch ends with an ordinary commit marker. Readers never hand a
 * filler record to a store: its LSN reads as absent (a gap).
 *
 * Space. Every lost record had at least its 24-byte header and every lost batch its 32-byte
 * marker, so a range that held n records in b batches holds at least 24n + 32b bytes, and the
 * filler needs 24n + 32k with k batches: it fits whenever k <= b. The layout depends only on the
 * range and the LSNs (fixed batch bounds below, whatever the log's options), so a repair cut
 * short by a crash rewrites exactly the same bytes.
 *
 * This file must never do I/O and never produce bytes that do not fill the range exactly.
 */
import { COMMIT_RECORD_BYTES, RECORD_HEADER_BYTES, encodeCommitMarker, encodeRecord } from '../codec/framing.ts';

/** The record kind of a filler record (the log's own range, 200..255; the commit marker is 200). */
export const FILLER_KIND = 201;
/** Most records in one filler batch (the default `maxBatchRecords`). */
export const FILLER_BATCH_RECORDS = 4096;
/** Most bytes of one filler batch, its marker included (the default `maxBatchBytes`). */
export const FILLER_BATCH_BYTES = 4 * 1024 * 1024;

const EMPTY = new Uint8Array(0);

/**
 * The filler for `[start, end)` carrying LSNs `firstLsn .. firstLsn + count - 1` (see the file
 * comment), or undefined when they do not fit (or `count` is below 1, or the range is not
 * 8-aligned): the caller then cuts instead.
 */
export function encodeFiller(start: number, end: number, firstLsn: number, count: number): Uint8Array | undefined {
  const bytes = end - start;
  if (!Number.isSafeInteger(count) || count < 1 || start % 8 !== 0 || end % 8 !== 0 || bytes <= 0) return undefined;
  const batches = Math.max(Math.ceil(count / FILLER_BATCH_RECORDS), Math.ceil(bytes / FILLER_BATCH_BYTES));
  if (batches > count) return undefined;
  const records = Array.from({ length: batches }, (_, i) => Math.floor(count / batches) + (i < count % batches ? 1 : 0));
  const base = records.map((r) => r * RECORD_HEADER_BYTES + COMMIT_RECORD_BYTES);
  let slack = bytes - base.reduce((a, b) => a + b, 0);
  if (slack < 0) return undefined;
  const extra = base.map((b) => {
    const add = Math.min(slack, FILLER_BATCH_BYTES - b);
    slack -= add;
    return add;
  });
  if (slack !== 0) return undefined;
  const out = new Uint8Array(bytes);
  let pos = 0;
  let lsn = firstLsn;
  records.forEach((r, b) => {
    const batchStart = pos;
    for (let i = 0; i < r; i++) {
      const padded = i === r - 1 ? new Uint8Array(extra[b]!) : EMPTY;
      pos = encodeRecord(out, pos, FILLER_KIND, lsn++, padded);
    }
    pos = encodeCommitMarker(out, pos, lsn - 1, r, pos - batchStart);
  });
  return pos === bytes ? out : undefined;
}
