/**
 * Explicit repair (D5, `repair: true`): what an open decides and does once it has found damage,
 * and the segments after the newest one. Cuts a damaged log back to its last good batch (a
 * `.broken` copy of the damaged segment first, then the manifest that carries the report as
 * pending, then the wipe and the removals), says what was lost, and keeps the pending repairs in
 * the manifest so that a repair cut short by a crash is finished, not reported twice. The walk
 * and the decision that a stop is a torn tail, not damage, are in open.ts.
 *
 * This file must never cut or remove anything without the caller's explicit `repair: true`,
 * never remove anything before the `.broken` copy is durable and the manifest that records the
 * repair is written, and never touch data before the cut.
 */
import { basename, dirname, join } from 'node:path';
import { RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES } from '../codec/framing.ts';
import { errnoOf, type FileHandle, type FileSystem } from '../io/types.ts';
import { ChunkReader } from './chunk-reader.ts';
import type { SegmentEntry } from './lsn-index.ts';
import { nextLsnAfterSealed, writeManifest, type Manifest, type PendingRepair } from './manifest.ts';
import { BROKEN_SUFFIX, parseSegmentFileName, removeIfPresent, segmentPath } from './segment-file.ts';
import type { WalkResult } from './segment-walk.ts';
import { lostRange, surveyData } from './loss-survey.ts';
import { repairableCorruption } from './repair-hint.ts';
import { zeroRange } from './tail-repair.ts';
import type { Lsn, PendingRepairReport, RepairReport } from './types.ts';

/** What the repair steps use of an open in progress: its file system, its directories, and the segment handles it holds by id. */
export interface OpenFiles {
  readonly fs: FileSystem;
  /** The data directory (the manifest's). */
  readonly dir: string;
  readonly walDir: string;
  /** Open segment handles by id; a segment removed here is closed and leaves the map. */
  readonly handles: Map<number, FileHandle>;
}

/** The walk of a segment: its index entry, what the walk found, and its open handle. */
export interface SegmentWalk {
  readonly entry: SegmentEntry;
  readonly result: WalkResult;
  readonly handle: FileHandle;
}

/** A place where the log stops being good, and what the walk there found. */
export interface Damage {
  readonly segmentId: number;
  readonly offset: number;
  readonly problem: string;
  /** The walk of the damaged segment (undefined when the file is missing). */
  readonly walk: SegmentWalk | undefined;
}

/** What a repair left: the manifest it wrote, its report, and the damaged segment cut at its last good batch (undefined when the file was missing). */
export interface RepairOutcome {
  readonly manifest: Manifest;
  readonly report: RepairReport;
  readonly cut: SegmentWalk | undefined;
}

/**
 * Repair mode: cut the log at the last good batch before `damage`, keep a `.broken` copy,
 * remove every later segment (of `ids`), rewrite the manifest, and report the loss.
 *
 * Order matters for a crash in the middle: the `.broken` copy is made durable first, then the
 * manifest that drops the damaged segment and every later one from the sealed list and carries
 * the report as pending (the commit point), and only then are bytes zeroed and files removed.
 * A crash before the manifest write leaves the damage as it was (the next repair finds it
 * again); a crash after it leaves the report in the manifest, and the next open in repair mode
 * finishes the cut without reporting the same damage twice.
 */
export async function repairAt(files: OpenFiles, damage: Damage, manifest: Manifest, ids: readonly number[]): Promise<RepairOutcome> {
  const { fs, walDir, handles } = files;
  const path = segmentPath(walDir, damage.segmentId);
  const sealedAt = damage.segmentId - manifest.firstSegmentId;
  const sealedEntry = manifest.sealed[sealedAt];
  let bytesDropped = 0;
  let brokenCopy = '';
  let firstLostLsn = sealedEntry?.firstLsn ?? nextLsnAfterSealed(manifest);
  // The highest LSN anything names: the manifest (sealed segments, the clean end) says what was
  // there even where an earlier, interrupted repair already zeroed or removed the bytes; sound
  // commit markers after the damage say it for the rest.
  let lastKnown = Math.max(manifest.cleanEnd?.lastLsn ?? 0, manifest.sealed[manifest.sealed.length - 1]?.lastLsn ?? 0);
  if (damage.walk !== undefined) {
    const { entry, result, handle } = damage.walk;
    firstLostLsn = result.nextLsn;
    brokenCopy = await keepBrokenCopy(fs, path);
    const survey = await surveyData(handle, entry.capacity, result.endOffset);
    bytesDropped += Math.max(survey.dataEnd, recordedEnd(manifest, damage.segmentId)) - result.endOffset;
    lastKnown = Math.max(lastKnown, survey.lastMarkerLsn);
  }
  const later = ids.filter((id) => id > damage.segmentId);
  // Segments removed that held data (a pre-created, never written spare loses nothing).
  let segmentsDropped = 0;
  for (const id of later) {
    const handle = handles.get(id)!;
    const survey = await surveyData(handle, await handle.size(), 0);
    const held = Math.max(recordedEnd(manifest, id), survey.dataEnd);
    bytesDropped += held;
    if (held > 0) segmentsDropped++;
    lastKnown = Math.max(lastKnown, survey.lastMarkerLsn);
  }
  const report: RepairReport = {
    file: path,
    offset: damage.offset,
    brokenCopy,
    ...lostReport(firstLostLsn, lastKnown, bytesDropped),
    segmentsDropped,
    bytesDropped,
  };
  const generation = manifest.generation + 1;
  // The same damage already pending: an earlier repair of it was cut short after its commit
  // point; this one finishes it.
  const resumed = isPending(manifest, path, damage.offset);
  const repaired: Manifest = {
    generation,
    firstSegmentId: manifest.firstSegmentId,
    baseLsn: manifest.baseLsn,
    sealed: manifest.sealed.slice(0, Math.max(0, sealedAt)),
    pendingRepairs: settleFills(resumed ? manifest.pendingRepairs : [...manifest.pendingRepairs, pendingOf(report, generation)], damage.segmentId, damage.walk?.result.endOffset ?? 0),
  };
  await writeManifest(fs, files.dir, repaired);
  if (damage.walk !== undefined) {
    const { entry, result, handle } = damage.walk;
    await zeroRange(handle, result.endOffset, entry.capacity);
  }
  await removeSegmentIds(files, later);
  return { manifest: repaired, report, cut: damage.walk };
}

/**
 * Records `report` (a missing newest segment, or data after it, in repair mode) as pending in a
 * new manifest generation, before anything is created or removed, like any other repair; unless
 * a pending repair already covers it.
 * @returns the manifest now in force.
 */
export async function recordPendingRepair(files: OpenFiles, manifest: Manifest, report: RepairReport): Promise<Manifest> {
  if (isPending(manifest, report.file, report.offset)) return manifest;
  const generation = manifest.generation + 1;
  const from = parseSegmentFileName(basename(report.file)) ?? 0;
  const recorded = { ...manifest, generation, pendingRepairs: settleFills([...manifest.pendingRepairs, pendingOf(report, generation)], from, 0), cleanEnd: undefined };
  await writeManifest(files.fs, files.dir, recorded);
  return recorded;
}

/** Whether `manifest` holds a pending repair of the segment at `path` (at `offset`, when given). */
export function isPending(manifest: Manifest, path: string, offset?: number): boolean {
  const file = basename(path);
  return manifest.pendingRepairs.some((p) => p.file === file && (offset === undefined || p.offset === offset));
}

/**
 * Where the manifest says segment `id`'s data ends (its sealed entry, or the clean end in it; 0
 * when it says nothing): bytes a truncation or an interrupted repair already took away still
 * count as lost.
 */
function recordedEnd(manifest: Manifest, id: number): number {
  const sealed = manifest.sealed[id - manifest.firstSegmentId];
  if (sealed !== undefined) return sealed.endOffset;
  return manifest.cleanEnd?.segmentId === id ? manifest.cleanEnd.endOffset : 0;
}

/** The report's LSN fields for a loss from `firstLostLsn` (see `lostRange`). */
export function lostReport(firstLostLsn: number, lastKnown: number, bytesDropped: number): Pick<RepairReport, 'firstLostLsn' | 'lastLostLsn' | 'recordsDropped'> {
  const range = lostRange(firstLostLsn, lastKnown, bytesDropped);
  return {
    firstLostLsn: range.recordsDropped === 0 ? undefined : (firstLostLsn as Lsn),
    lastLostLsn: range.lastLostLsn as Lsn | undefined,
    recordsDropped: range.recordsDropped,
  };
}

/** The manifest's form of a repair report (file names inside wal/). */
export function pendingOf(report: RepairReport, id: number): PendingRepair {
  return {
    id,
    file: basename(report.file),
    offset: report.offset,
    brokenCopy: report.brokenCopy === '' ? '' : basename(report.brokenCopy),
    firstLostLsn: report.firstLostLsn,
    segmentsDropped: report.segmentsDropped,
    bytesDropped: report.bytesDropped,
    lastLostLsn: report.lastLostLsn,
    gapEnd: report.gapEnd,
  };
}

/** Records lost by a pending repair, as far as it says. */
function recordsOf(pending: PendingRepair): number | undefined {
  if (pending.firstLostLsn === undefined) return pending.bytesDropped === 0 ? 0 : undefined;
  return pending.lastLostLsn === undefined ? undefined : pending.lastLostLsn - pending.firstLostLsn + 1;
}

/** The report's form of a pending repair (full paths). */
export function reportOf(pending: PendingRepair, walDir: string): PendingRepairReport {
  return {
    id: pending.id,
    file: join(walDir, pending.file),
    offset: pending.offset,
    brokenCopy: pending.brokenCopy === '' ? '' : join(walDir, pending.brokenCopy),
    firstLostLsn: pending.firstLostLsn as Lsn | undefined,
    segmentsDropped: pending.segmentsDropped,
    bytesDropped: pending.bytesDropped,
    lastLostLsn: pending.lastLostLsn as Lsn | undefined,
    recordsDropped: recordsOf(pending),
    ...(pending.gapEnd === undefined ? {} : { gapEnd: pending.gapEnd }),
  };
}

// ---------------------------------------------------------------------------------------------
// The segments after the newest one: pre-created and never written, or left by a repair

/** A segment after the newest one, as open found it. */
export interface LaterSegment {
  readonly id: number;
  readonly handle: FileHandle;
  readonly capacity: number;
  readonly unwritten: boolean;
}

/** The segments `ids` (after the newest one): their size, and whether they were never written (by their first header). */
export async function surveyLater(files: OpenFiles, ids: readonly number[]): Promise<LaterSegment[]> {
  const survey: LaterSegment[] = [];
  for (const id of ids) {
    const handle = files.handles.get(id)!;
    const capacity = await handle.size();
    survey.push({ id, handle, capacity, unwritten: await looksUnwritten(handle, capacity) });
  }
  return survey;
}

/**
 * Segments after the newest one that hold data: CORRUPTION, or in repair mode (where
 * `settleLaterSegments` removes them) a repair report, unless the open already has one or a
 * pending repair covers them (`reported`). Their records, if any, came after `lostFrom`.
 * @returns the new report, or undefined.
 */
export async function noteLaterData(
  files: OpenFiles,
  later: readonly LaterSegment[],
  lostFrom: number,
  repairMode: boolean,
  reported: boolean,
): Promise<RepairReport | undefined> {
  const withData = later.filter((s) => !s.unwritten);
  const first = withData[0];
  if (first === undefined) return undefined;
  if (!repairMode) throw repairableCorruption(segmentPath(files.walDir, first.id), 0, 'segment after the newest one holds data', files.dir);
  if (reported) return undefined;
  let bytesDropped = 0;
  let lastKnown = 0;
  for (const s of withData) {
    const survey = await surveyData(s.handle, s.capacity, 0);
    bytesDropped += survey.dataEnd;
    lastKnown = Math.max(lastKnown, survey.lastMarkerLsn);
  }
  return {
    file: segmentPath(files.walDir, first.id),
    offset: 0,
    brokenCopy: '',
    ...lostReport(lostFrom, lastKnown, bytesDropped),
    segmentsDropped: withData.length,
    bytesDropped,
  };
}

/**
 * Keeps the segment right after the newest one (`tailId`) as the spare when the newest one is
 * there (`haveTail`) and it is unwritten and of `segmentSize`; removes the others.
 */
export async function settleLaterSegments(
  files: OpenFiles,
  later: readonly LaterSegment[],
  tailId: number,
  haveTail: boolean,
  segmentSize: number,
): Promise<{ id: number; handle: FileHandle } | undefined> {
  let spare: { id: number; handle: FileHandle } | undefined;
  const remove: number[] = [];
  for (const { id, handle, capacity, unwritten } of later) {
    if (haveTail && unwritten && id === tailId + 1 && capacity === segmentSize) {
      spare = { id, handle };
    } else {
      remove.push(id);
    }
  }
  await removeSegmentIds(files, remove);
  return spare;
}

/** True when a segment's header and first record slot are zero (never written). */
async function looksUnwritten(handle: FileHandle, capacity: number): Promise<boolean> {
  const probe = SEGMENT_HEADER_BYTES + RECORD_HEADER_BYTES;
  if (capacity < probe) return capacity === 0;
  const reader = new ChunkReader(handle, capacity, probe);
  await reader.ensure(0, probe);
  for (let i = 0; i < probe; i++) if (reader.bytes[i] !== 0) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// File steps

/** Removes the segments `ids` held open in `files` (see `removeSegments`), and forgets their handles. */
async function removeSegmentIds(files: OpenFiles, ids: readonly number[]): Promise<void> {
  await removeSegments(files.fs, files.walDir, ids.map((id) => segmentPath(files.walDir, id)), ids.map((id) => files.handles.get(id)!));
  for (const id of ids) files.handles.delete(id);
}

/**
 * Copies the damaged file to `<path>.broken` (or `<path>.broken.<n>` when earlier copies
 * exist), durably (fdatasync, directory fsync).
 *
 * @returns the copy's path.
 * @throws the file system's errno error.
 */
export async function keepBrokenCopy(fs: FileSystem, path: string): Promise<string> {
  const bytes = await fs.readFile(path);
  for (let n = 0; ; n++) {
    const copy = n === 0 ? `${path}${BROKEN_SUFFIX}` : `${path}${BROKEN_SUFFIX}.${n}`;
    let handle: FileHandle;
    try {
      handle = await fs.open(copy, 'create-exclusive');
    } catch (err) {
      if (errnoOf(err) === 'EEXIST') continue;
      throw err;
    }
    try {
      await handle.write([bytes], 0);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await fs.syncDir(dirname(path));
    return copy;
  }
}

/**
 * Removes the segment files at `paths` (closing their handles first) and fsyncs their directory.
 *
 * @throws the file system's errno error.
 */
export async function removeSegments(
  fs: FileSystem,
  walDir: string,
  paths: readonly string[],
  handles: readonly FileHandle[],
): Promise<void> {
  for (const handle of handles) await handle.close();
  for (const path of paths) await removeIfPresent(fs, path);
  if (paths.length > 0) await fs.syncDir(walDir);
}

/**
 * `pending` with the fill of every repair in segment `fromSegment` at or after `fromOffset`, or in
 * any later segment, settled (its gap end dropped): a cut or removal there is about to make those
 * bytes free for new data, which a later open must never overwrite with filler.
 */
export function settleFills(pending: readonly PendingRepair[], fromSegment: number, fromOffset: number): PendingRepair[] {
  return pending.map((p) => {
    if (p.gapEnd === undefined) return p;
    const id = parseSegmentFileName(p.file);
    if (id === undefined || id < fromSegment || (id === fromSegment && p.gapEnd <= fromOffset)) return p;
    return { ...p, gapEnd: undefined };
  });
}
