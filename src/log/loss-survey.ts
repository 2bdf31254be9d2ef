/**
 * What a repair is about to lose, measured on the bytes themselves (D5): from an offset to the
 * end of a segment's data, how many bytes the log held there and the highest LSN a sound commit
 * marker there names. A repair reports these, so the report says what was really lost, not the
 * distance to the next marker.
 *
 * This file must never write, and never stop at the first marker it finds: the loss is
 * everything up to the last non-zero word of the segment.
 */
import { recordLsn } from '../codec/framing.ts';
import type { FileHandle } from '../io/types.ts';
import { DEFAULT_CHUNK_BYTES } from './chunk-reader.ts';
import { scanData } from './tail-repair.ts';

/** What lies in `[from, capacity)` of a segment. */
export interface DataSurvey {
  /** Offset just past the last non-zero 8-byte word at or after `from` (`from` if none). */
  readonly dataEnd: number;
  /** The highest LSN a sound commit marker in the range names (0 when there is none). */
  readonly lastMarkerLsn: number;
}

/**
 * Surveys `[from, capacity)` of a segment (see the file comment).
 *
 * @param from - an 8-aligned offset.
 * @throws the file system's errno error.
 */
export async function surveyData(handle: FileHandle, capacity: number, from: number): Promise<DataSurvey> {
  let lastMarkerLsn = 0;
  const dataEnd = await scanData(handle, capacity, from, DEFAULT_CHUNK_BYTES, (bytes, i) => {
    lastMarkerLsn = Math.max(lastMarkerLsn, recordLsn(bytes, i));
    return false;
  });
  return { dataEnd, lastMarkerLsn };
}

/** The loss of one repair, in LSNs. */
export interface LostRange {
  readonly lastLostLsn: number | undefined;
  readonly recordsDropped: number | undefined;
}

/**
 * The lost LSN range from `firstLostLsn` given the highest LSN any evidence names (`lastKnown`,
 * 0 when none) and whether any bytes were dropped: no record lost when nothing was dropped and
 * nothing names an LSN at or past `firstLostLsn`; an unknown count when bytes were dropped but
 * nothing names how far the LSNs went.
 */
export function lostRange(firstLostLsn: number, lastKnown: number, bytesDropped: number): LostRange {
  if (lastKnown >= firstLostLsn) return { lastLostLsn: lastKnown, recordsDropped: lastKnown - firstLostLsn + 1 };
  if (bytesDropped === 0) return { lastLostLsn: undefined, recordsDropped: 0 };
  return { lastLostLsn: undefined, recordsDropped: undefined };
}
