/**
 * Explicit repair that keeps what follows the damage (D5, `repair: true`): drops only the damaged
 * batches of a segment and keeps every intact batch after them, recording the gap. The damaged
 * range runs from the start of the first damaged batch to the start of the next intact batch
 * (resync.ts), or, in a sealed segment with no intact batch after the damage, to the segment's
 * end (the next segment goes on); it is rewritten in place as filler batches carrying the lost
 * LSNs (filler.ts), so LSNs stay contiguous, the index, the readers and every later batch and
 * segment stay as they are, and the manifest keeps the segment with its new header digest.
 *
 * Order, for a crash in the middle (as for a cut, repair.ts): the filled segment is built and
 * walked in memory first (it must walk clean to its recorded end, or past the filler in the
 * newest segment, reaching the clean end if there is one); then the `.broken` copy is made
 * durable; then the manifest that records the pending repair with its range, and the segment's
 * new digest (and clean end), is written: the commit point; then the filler is written and
 * fdatasync'ed. Every open first finishes the fill of every pending repair that has one
 * (`finishPendingFills`: the same bytes, written only where they differ), so a crash after the
 * commit point leaves a log that opens, with or without repair mode.
 *
 * Where no intact batch follows in the newest segment, where the segment header itself is
 * damaged, where the filler would not fit, or where the filled segment would not walk clean,
 * this file declines and the caller cuts (repair.ts).
 *
 * This file must never write before the manifest that records the repair, never write outside
 * the damaged range, and never run without `repair: true` except to finish a recorded fill.
 */
import { SEGMENT_HEADER_BYTES } from '../codec/framing.ts';
import type { FileHandle } from '../io/types.ts';
import { DEFAULT_CHUNK_BYTES } from './chunk-reader.ts';
import { encodeFiller } from './filler.ts';
import { SegmentEntry } from './lsn-index.ts';
import { writeManifest, type CleanEnd, type Manifest, type PendingRepair, type SealedSegment } from './manifest.ts';
import { keepBrokenCopy, pendingOf, type Damage, type OpenFiles } from './repair.ts';
import { findIntactBatch } from './resync.ts';
import { parseSegmentFileName, segmentPath } from './segment-file.ts';
import { walkSegment } from './segment-walk.ts';
import type { Lsn, RepairReport } from './types.ts';

/** A gap repair done: the manifest now in force and the report. */
export interface GapRepair {
  readonly manifest: Manifest;
  readonly report: RepairReport;
}

/**
 * Repairs `damage` by a gap (see the file comment), or resolves undefined (nothing written) when
 * it cannot: the caller then cuts.
 *
 * @throws the file system's errno error (after the commit point, the next open finishes the fill).
 */
export async function repairGap(files: OpenFiles, damage: Damage, manifest: Manifest): Promise<GapRepair | undefined> {
  const walk = damage.walk;
  if (walk === undefined || walk.result.header === undefined) return undefined;
  const { entry, result, handle } = walk;
  const id = damage.segmentId;
  const sealed = manifest.sealed[id - manifest.firstSegmentId];
  const start = Math.max(result.endOffset, SEGMENT_HEADER_BYTES);
  const capacity = await handle.size();
  const limit = sealed === undefined ? capacity : Math.min(sealed.endOffset, capacity);
  const intact = await findIntactBatch(handle, capacity, start, limit, result.nextLsn - 1);
  let end: number;
  let count: number;
  if (intact !== undefined) {
    end = intact.offset;
    count = intact.firstLsn - result.nextLsn;
  } else if (sealed !== undefined) {
    end = sealed.endOffset;
    count = sealed.lastLsn - result.nextLsn + 1;
  } else {
    return undefined;
  }
  const filler = encodeFiller(start, end, result.nextLsn, count);
  if (filler === undefined) return undefined;
  const path = segmentPath(files.walDir, id);
  const checked = await checkFilled(files, path, entry, filler, start, end, sealed, manifest.cleanEnd?.segmentId === id ? manifest.cleanEnd : undefined);
  if (checked === undefined) return undefined;
  const brokenCopy = await keepBrokenCopy(files.fs, path);
  const report: RepairReport = {
    file: path,
    offset: start,
    brokenCopy,
    firstLostLsn: result.nextLsn as Lsn,
    lastLostLsn: (result.nextLsn + count - 1) as Lsn,
    recordsDropped: count,
    segmentsDropped: 0,
    bytesDropped: end - start,
    gapEnd: end,
  };
  const generation = manifest.generation + 1;
  const repaired: Manifest = {
    ...manifest,
    generation,
    sealed: sealed === undefined ? manifest.sealed : manifest.sealed.map((s) => (s.id === id ? checked.sealed! : s)),
    cleanEnd: checked.cleanEnd,
    pendingRepairs: [...manifest.pendingRepairs, pendingOf(report, generation)],
  };
  await writeManifest(files.fs, files.dir, repaired);
  await handle.write([filler], start);
  await handle.datasync();
  return { manifest: repaired, report };
}

/**
 * Walks the segment at `path` with `filler` over `[start, end)`, in memory: a sealed segment
 * must walk clean to its recorded end and last LSN (its new digest is returned); the newest
 * must walk past the filler and, when the last clean close recorded an end in it, reach it
 * (the clean end with its new digest is returned). Undefined when the filled segment fails.
 */
async function checkFilled(
  files: OpenFiles,
  path: string,
  entry: SegmentEntry,
  filler: Uint8Array,
  start: number,
  end: number,
  sealed: SealedSegment | undefined,
  clean: CleanEnd | undefined,
): Promise<{ sealed: SealedSegment | undefined; cleanEnd: CleanEnd | undefined } | undefined> {
  const current = await files.fs.readFile(path);
  const image = new Uint8Array(Math.max(current.length, end));
  image.set(current);
  image.set(filler, start);
  const memEntry = new SegmentEntry(entry.id, path, image.length, entry.firstLsn);
  const limit = sealed === undefined ? image.length : sealed.endOffset;
  const walk = await walkSegment({ handle: memoryHandle(path, image), entry: memEntry, limit, verifyCrc: true, chunkBytes: DEFAULT_CHUNK_BYTES, mark: clean?.endOffset });
  if (sealed !== undefined) {
    if (walk.damage !== undefined || walk.endOffset !== sealed.endOffset || walk.nextLsn - 1 !== sealed.lastLsn) return undefined;
    return { sealed: { ...sealed, digest: walk.digest }, cleanEnd: clean };
  }
  if (walk.endOffset <= end) return undefined;
  if (clean === undefined) return { sealed: undefined, cleanEnd: undefined };
  if (walk.atMark === undefined || walk.atMark.nextLsn !== clean.lastLsn + 1) return undefined;
  return { sealed: undefined, cleanEnd: { ...clean, digest: walk.atMark.digest } };
}

/** A read-only FileHandle over bytes in memory (the in-memory walk of a filled segment). */
function memoryHandle(path: string, bytes: Uint8Array): FileHandle {
  const refuse = (): Promise<never> => Promise.reject(new Error('memory handle is read-only'));
  return {
    path,
    read: async (buffer, position, offset = 0, length = buffer.length - offset) => {
      const n = Math.max(0, Math.min(length, bytes.length - position));
      buffer.set(bytes.subarray(position, position + n), offset);
      return n;
    },
    write: refuse,
    datasync: refuse,
    writeAndSync: refuse,
    truncate: refuse,
    size: async () => bytes.length,
    close: async () => undefined,
  };
}

/**
 * Finishes the fill of every pending repair of `manifest` that has one, in the segments open in
 * `files`: the filler bytes (the same as the repair computed them) are written and fdatasync'ed
 * where the range differs from them. Called by every open before the segments are walked.
 *
 * @throws the file system's errno error.
 */
export async function finishPendingFills(files: OpenFiles, manifest: Manifest): Promise<void> {
  for (const pending of manifest.pendingRepairs) {
    const fill = fillOf(pending);
    if (fill === undefined) continue;
    const handle = files.handles.get(fill.segmentId);
    if (handle === undefined) continue;
    const current = new Uint8Array(fill.bytes.length);
    let got = 0;
    while (got < current.length) {
      const n = await handle.read(current, pending.offset + got, got, current.length - got);
      if (n === 0) break;
      got += n;
    }
    if (got === current.length && current.every((b, i) => b === fill.bytes[i])) continue;
    await handle.write([fill.bytes], pending.offset);
    await handle.datasync();
  }
}

/** The segment and bytes a pending repair fills, or undefined for a cut. */
function fillOf(pending: PendingRepair): { segmentId: number; bytes: Uint8Array } | undefined {
  const { gapEnd, firstLostLsn, lastLostLsn } = pending;
  if (gapEnd === undefined || firstLostLsn === undefined || lastLostLsn === undefined) return undefined;
  const segmentId = parseSegmentFileName(pending.file);
  const bytes = encodeFiller(pending.offset, gapEnd, firstLostLsn, lastLostLsn - firstLostLsn + 1);
  return segmentId === undefined || bytes === undefined ? undefined : { segmentId, bytes };
}
