/**
 * Opening a log (D5): read the manifest, make every segment and directory durable before
 * trusting them, check the sealed segments (structure and header digest; full checksums in
 * repair mode), walk the newest segment fully, cut a torn tail and wipe after it, and fail with
 * CORRUPTION naming file and offset on damage anywhere else (or, with `repair: true`, cut at the
 * last good batch and report the loss). Builds the LSN index the reader and writer share.
 *
 * This file must never cut acknowledged data without `repair: true`, never trust a byte before
 * fsyncing the file it is in, and never leave a handle open when it fails.
 */
import { basename, join } from 'node:path';
import { RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES } from '../codec/framing.ts';
import { corruption } from '../errors.ts';
import type { FileHandle, FileSystem } from '../io/types.ts';
import { DEFAULT_CHUNK_BYTES, ChunkReader } from './chunk-reader.ts';
import { LsnIndex, SegmentEntry } from './lsn-index.ts';
import {
  MANIFEST_NAME,
  emptyManifest,
  firstUnsealedId,
  nextLsnAfterSealed,
  readManifest,
  writeManifest,
  type CleanEnd,
  type Manifest,
  type PendingRepair,
  type SealedSegment,
} from './manifest.ts';
import type { ResolvedLogOptions } from './options.ts';
import { keepBrokenCopy, removeSegments } from './repair.ts';
import { createSegmentFile, listSegmentDir, removeIfPresent, segmentPath } from './segment-file.ts';
import { walkSegment, type WalkResult } from './segment-walk.ts';
import { inspectTail, wholeBatchDamaged, zeroRange } from './tail-repair.ts';
import type { Lsn, OpenReport, PendingRepairReport, RepairReport } from './types.ts';

/** Name of the segment directory inside the data directory. */
export const WAL_DIR_NAME = 'wal';

/** The segment the writer continues in. */
export interface ActiveSegment {
  readonly entry: SegmentEntry;
  readonly handle: FileHandle;
  /** Header digest of its committed batches. */
  readonly digest: number;
}

/** Everything open found, handed to the log. */
export interface RecoveredLog {
  readonly walDir: string;
  readonly manifest: Manifest;
  readonly index: LsnIndex;
  /** The newest segment (created empty when there was none). */
  readonly active: ActiveSegment;
  /** An empty, durable segment right after `active`, ready for rotation. */
  readonly spare: { readonly id: number; readonly handle: FileHandle } | undefined;
  /** LSN the next record gets. */
  readonly nextLsn: number;
  readonly report: Omit<OpenReport, 'durationMs'>;
}

/** A place where the log stops being good, and what the walk there found. */
interface Damage {
  readonly segmentId: number;
  readonly offset: number;
  readonly problem: string;
  /** The walk of the damaged segment (undefined when the file is missing). */
  readonly walk: { readonly entry: SegmentEntry; readonly result: WalkResult; readonly handle: FileHandle } | undefined;
}

/**
 * Opens the log in `options.dir` (the lock is already held).
 *
 * @throws ConsensusStoreError CORRUPTION (file and offset), UNSUPPORTED_FORMAT; errno errors.
 */
export async function recoverLog(fs: FileSystem, options: ResolvedLogOptions): Promise<RecoveredLog> {
  const recovery = new Recovery(fs, options);
  try {
    return await recovery.run();
  } catch (err) {
    await recovery.closeAll();
    throw err;
  }
}

class Recovery {
  readonly #fs: FileSystem;
  readonly #options: ResolvedLogOptions;
  readonly #dir: string;
  readonly #walDir: string;
  readonly #handles = new Map<number, FileHandle>();
  #segmentsScanned = 0;
  #recordsScanned = 0;
  #batchesScanned = 0;
  #tornBytesCut = 0;
  #repair: RepairReport | undefined;

  constructor(fs: FileSystem, options: ResolvedLogOptions) {
    this.#fs = fs;
    this.#options = options;
    this.#dir = options.dir;
    this.#walDir = join(options.dir, WAL_DIR_NAME);
  }

  async run(): Promise<RecoveredLog> {
    const fs = this.#fs;
    await fs.mkdir(this.#walDir);
    let manifest = await readManifest(fs, this.#dir);
    const listing = await listSegmentDir(fs, this.#walDir);
    if (manifest === undefined) {
      if (listing.ids.length > 0) {
        throw corruption(join(this.#dir, MANIFEST_NAME), 0, 'manifest missing while wal/ holds segments');
      }
      manifest = { ...emptyManifest(), generation: 1 };
      await writeManifest(fs, this.#dir, manifest);
    }
    await removeIfPresent(fs, join(this.#dir, `${MANIFEST_NAME}.tmp`));
    for (const temp of listing.temps) await removeIfPresent(fs, join(this.#walDir, temp));
    await this.#syncAll(listing.ids);
    for (const id of listing.ids) {
      if (id < manifest.firstSegmentId) throw corruption(this.#path(id), 0, 'segment older than the log\'s first segment');
    }
    const index = new LsnIndex(manifest.baseLsn);
    const damage = await this.#checkSealed(manifest, index);
    if (damage !== undefined) return this.#repairAt(damage, manifest, index, listing.ids);
    return this.#openTail(manifest, index, listing.ids);
  }

  /** Closes every handle recovery opened (on failure). */
  async closeAll(): Promise<void> {
    for (const handle of this.#handles.values()) await handle.close().catch(() => undefined);
    this.#handles.clear();
  }

  #path(id: number): string {
    return segmentPath(this.#walDir, id);
  }

  /** fdatasync of every segment and fsync of both directories: what a crashed process left in the page cache becomes durable (or fails) before it is trusted. */
  async #syncAll(ids: readonly number[]): Promise<void> {
    for (const id of ids) {
      const handle = await this.#fs.open(this.#path(id), 'readwrite');
      this.#handles.set(id, handle);
      await handle.datasync();
    }
    await this.#fs.syncDir(this.#walDir);
    await this.#fs.syncDir(this.#dir);
  }
  /** Checks the sealed segments in order; returns the first damage (repair mode) or throws it. */
  async #checkSealed(manifest: Manifest, index: LsnIndex): Promise<Damage | undefined> {
    for (const sealed of manifest.sealed) {
      const handle = this.#handles.get(sealed.id);
      if (handle === undefined) {
        return this.#damage({ segmentId: sealed.id, offset: 0, problem: 'segment named by the manifest is missing', walk: undefined });
      }
      const capacity = await handle.size();
      const walk = await this.#walkSealed(handle, sealed, capacity, this.#options.repair);
      this.#segmentsScanned++;
      const problem = sealedProblem(walk.result, sealed);
      if (problem !== undefined) {
        // Locate the damage precisely: a full walk names the first bad record.
        const full = this.#options.repair ? walk : await this.#walkSealed(handle, sealed, capacity, true);
        const located = full.result.damage !== undefined ? full.result.damage : sealedProblem(full.result, sealed) ?? problem;
        return this.#damage({ segmentId: sealed.id, offset: located.offset, problem: located.problem, walk: { ...full, handle } });
      }
      this.#count(walk.result);
      index.add(walk.entry);
    }
    return undefined;
  }

  async #walkSealed(handle: FileHandle, sealed: SealedSegment, capacity: number, verifyCrc: boolean) {
    const entry = new SegmentEntry(sealed.id, this.#path(sealed.id), capacity, sealed.firstLsn);
    const limit = Math.min(sealed.endOffset, capacity);
    const result = await walkSegment({ handle, entry, limit, verifyCrc, chunkBytes: DEFAULT_CHUNK_BYTES });
    return { entry, result };
  }

  /** Throws the damage as CORRUPTION, or returns it in repair mode. */
  #damage(damage: Damage): Damage {
    if (!this.#options.repair) throw corruption(this.#path(damage.segmentId), damage.offset, damage.problem);
    return damage;
  }

  #count(result: WalkResult): void {
    this.#recordsScanned += result.records;
    this.#batchesScanned += result.batches;
  }

  /** Walks the newest segment, cuts its torn tail, and settles the empty segments after it. */
  async #openTail(manifest: Manifest, index: LsnIndex, ids: readonly number[]): Promise<RecoveredLog> {
    const tailId = firstUnsealedId(manifest);
    let active: ActiveSegment | undefined;
    const tailHandle = this.#handles.get(tailId);
    if (tailHandle === undefined) {
      this.#missingTail(manifest, tailId);
    } else {
      const capacity = await tailHandle.size();
      const entry = new SegmentEntry(tailId, this.#path(tailId), capacity, nextLsnAfterSealed(manifest));
      const clean = manifest.cleanEnd?.segmentId === tailId ? manifest.cleanEnd : undefined;
      const mark = clean?.endOffset;
      const result = await walkSegment({ handle: tailHandle, entry, limit: capacity, verifyCrc: true, chunkBytes: DEFAULT_CHUNK_BYTES, mark });
      this.#segmentsScanned++;
      const damage = this.#checkCleanEnd(clean, entry, result, tailHandle) ?? (await this.#cutTornTail(tailHandle, entry, result));
      if (damage !== undefined) return this.#repairAt(damage, manifest, index, ids);
      this.#count(result);
      active = { entry, handle: tailHandle, digest: result.digest };
    }
    const later = await this.#surveyLater(ids.filter((id) => id > tailId));
    const lostFrom = active === undefined ? nextLsnAfterSealed(manifest) : active.entry.nextLsn;
    // After a repair of the newest segment cut short past its commit point, the later segments
    // it was removing are part of that pending repair, not a new finding.
    await this.#noteLaterData(later, lostFrom, isPending(manifest, this.#path(tailId)));
    if (this.#repair !== undefined && !isPending(manifest, this.#repair.file, this.#repair.offset)) {
      // A missing newest segment, or data after it (repair mode): recorded as pending before
      // anything is created or removed, like any other repair.
      const generation = manifest.generation + 1;
      manifest = { ...manifest, generation, pendingRepairs: [...manifest.pendingRepairs, pendingOf(this.#repair, generation)], cleanEnd: undefined };
      await writeManifest(this.#fs, this.#dir, manifest);
    }
    const spare = await this.#settleLaterSegments(later, tailId, active !== undefined);
    if (active !== undefined && active.entry.endOffset === 0 && active.entry.capacity !== this.#options.segmentSize) {
      // An empty segment of another size (the option changed): replaced (atomically) below.
      await active.handle.close();
      this.#handles.delete(tailId);
      active = undefined;
    }
    active ??= await this.#createActive(manifest);
    index.add(active.entry);
    return this.#finish(manifest, index, active, spare);
  }

  /**
   * The first unsealed segment is created before anything can be sealed after it, and before an
   * open completes: its absence means a lost file, unless the manifest is the very first one
   * (a crash between writing it and creating segment 1).
   */
  #missingTail(manifest: Manifest, tailId: number): void {
    if (manifest.generation === 1 && manifest.sealed.length === 0) return;
    const path = this.#path(tailId);
    if (!this.#options.repair) throw corruption(path, 0, 'the newest segment is missing');
    // Whatever the lost file held is gone: from the LSN after the sealed segments on, if it held
    // anything at all. Reported as lost, so that the sign guard takes the cautious view.
    this.#repair = { file: path, offset: 0, brokenCopy: '', firstLostLsn: nextLsnAfterSealed(manifest) as Lsn, segmentsDropped: 0, bytesDropped: 0 };
  }

  /** Creates (or atomically replaces) the first unsealed segment, empty, as the active one. */
  async #createActive(manifest: Manifest): Promise<ActiveSegment> {
    const id = firstUnsealedId(manifest);
    const handle = await createSegmentFile(this.#fs, this.#walDir, id, this.#options.segmentSize);
    this.#handles.set(id, handle);
    const entry = new SegmentEntry(id, this.#path(id), this.#options.segmentSize, nextLsnAfterSealed(manifest));
    return { entry, handle, digest: 0 };
  }

  /**
   * After a clean close everything up to the recorded clean end was acknowledged: the walk must
   * reach it with the same records (LSN and header digest), or the damage is CORRUPTION (or, in
   * repair mode, a repair at the first bad byte), never a torn tail to cut.
   */
  #checkCleanEnd(clean: CleanEnd | undefined, entry: SegmentEntry, result: WalkResult, handle: FileHandle): Damage | undefined {
    if (clean === undefined) return undefined;
    const at = result.atMark;
    if (at !== undefined && at.nextLsn === clean.lastLsn + 1 && at.digest === clean.digest) return undefined;
    const offset = result.damage?.offset ?? Math.min(result.endOffset, clean.endOffset);
    const found = result.damage?.problem ?? (at === undefined ? `committed data ends at offset ${result.endOffset}` : 'record headers differ');
    const problem = `${found}, inside what the last clean close recorded as acknowledged (up to offset ${clean.endOffset}, LSN ${clean.lastLsn})`;
    return this.#damage({ segmentId: entry.id, offset, problem, walk: { entry, result, handle } });
  }

  /**
   * Decides what the stop of the newest segment's walk means: a torn tail (wiped and fsynced
   * here), or damage (returned; thrown unless repair mode) when a later batch follows it or the
   * batch at the cut was written whole (`wholeBatchDamaged`: rot, not a tear).
   */
  async #cutTornTail(handle: FileHandle, entry: SegmentEntry, result: WalkResult): Promise<Damage | undefined> {
    if (result.damage !== undefined && !result.damage.tearable) {
      return this.#damage({ segmentId: entry.id, offset: result.damage.offset, problem: result.damage.problem, walk: { entry, result, handle } });
    }
    const cut = result.endOffset;
    const inspection = await inspectTail(handle, entry.capacity, cut, result.nextLsn, TAIL_CHUNK_BYTES);
    if (inspection.laterMarkerAt !== undefined) {
      const offset = result.damage?.offset ?? cut;
      const problem = `${result.damage?.problem ?? 'unwritten gap'} before a committed batch at offset ${inspection.laterMarkerAt}`;
      return this.#damage({ segmentId: entry.id, offset, problem, walk: { entry, result, handle } });
    }
    const firstBad = result.damage?.offset ?? cut;
    if (inspection.nonZeroEnd > cut && (await wholeBatchDamaged(handle, entry.capacity, cut, result.nextLsn, firstBad, inspection.nonZeroEnd, this.#options.maxBatchBytes))) {
      const problem = `${result.damage?.problem ?? 'unwritten record header'} in a batch whose commit marker was written (damage, not a torn write)`;
      return this.#damage({ segmentId: entry.id, offset: firstBad, problem, walk: { entry, result, handle } });
    }
    if (inspection.nonZeroEnd > cut) {
      await zeroRange(handle, cut, inspection.nonZeroEnd);
      this.#tornBytesCut += inspection.nonZeroEnd - cut;
    }
    return undefined;
  }

  /**
   * Segments after the newest must be empty (pre-created, never written). Keeps the next one as
   * the spare when it has the configured size; removes the rest.
   */
  /** The segments after the newest one: their size, and whether they were never written (by their first header). */
  async #surveyLater(ids: readonly number[]): Promise<LaterSegment[]> {
    const survey: LaterSegment[] = [];
    for (const id of ids) {
      const handle = this.#handles.get(id)!;
      const capacity = await handle.size();
      survey.push({ id, handle, capacity, unwritten: await looksUnwritten(handle, capacity) });
    }
    return survey;
  }

  /**
   * Segments after the newest one that hold data: CORRUPTION, or in repair mode (where
   * `#settleLaterSegments` removes them) a repair report, unless this open already has one or a
   * pending repair covers them (`covered`). Their records, if any, came after `lostFrom`.
   */
  async #noteLaterData(later: readonly LaterSegment[], lostFrom: number, covered: boolean): Promise<void> {
    const withData = later.filter((s) => !s.unwritten);
    const first = withData[0];
    if (first === undefined) return;
    if (!this.#options.repair) throw corruption(this.#path(first.id), 0, 'segment after the newest one holds data');
    if (this.#repair !== undefined || covered) return;
    let bytesDropped = 0;
    for (const s of withData) bytesDropped += (await inspectTail(s.handle, s.capacity, 0, 0, DEFAULT_CHUNK_BYTES)).nonZeroEnd;
    this.#repair = {
      file: this.#path(first.id),
      offset: 0,
      brokenCopy: '',
      firstLostLsn: lostFrom as Lsn,
      segmentsDropped: withData.length,
      bytesDropped,
    };
  }

  /** Keeps the segment right after the newest one as the spare when it is unwritten and of the current size; removes the others. */
  async #settleLaterSegments(later: readonly LaterSegment[], tailId: number, haveTail: boolean) {
    let spare: { id: number; handle: FileHandle } | undefined;
    const remove: number[] = [];
    for (const { id, handle, capacity, unwritten } of later) {
      if (haveTail && unwritten && id === tailId + 1 && capacity === this.#options.segmentSize) {
        spare = { id, handle };
      } else {
        remove.push(id);
      }
    }
    await removeSegments(this.#fs, this.#walDir, remove.map((id) => this.#path(id)), remove.map((id) => this.#handles.get(id)!));
    for (const id of remove) this.#handles.delete(id);
    return spare;
  }

  /**
   * Repair mode: cut the log at the last good batch before `damage`, keep a `.broken` copy,
   * remove every later segment, rewrite the manifest, and report the loss.
   *
   * Order matters for a crash in the middle: the `.broken` copy is made durable first, then the
   * manifest that drops the damaged segment and every later one from the sealed list and carries
   * the report as pending (the commit point), and only then are bytes zeroed and files removed.
   * A crash before the manifest write leaves the damage as it was (the next repair finds it
   * again); a crash after it leaves the report in the manifest, and the next open in repair mode
   * finishes the cut without reporting the same damage twice.
   */
  async #repairAt(damage: Damage, manifest: Manifest, index: LsnIndex, ids: readonly number[]): Promise<RecoveredLog> {
    const fs = this.#fs;
    const path = this.#path(damage.segmentId);
    const sealedAt = damage.segmentId - manifest.firstSegmentId;
    const sealedEntry = manifest.sealed[sealedAt];
    let bytesDropped = 0;
    let brokenCopy = '';
    let firstLostLsn = sealedEntry?.firstLsn ?? nextLsnAfterSealed(manifest);
    // Whether records are known lost even where their bytes are already gone (an earlier,
    // interrupted repair zeroed or removed them): the manifest said they were there.
    let manifestSaysLost = damage.walk === undefined;
    let cut: { walk: NonNullable<Damage['walk']>; at: number } | undefined;
    if (damage.walk !== undefined) {
      const { entry, result, handle } = damage.walk;
      firstLostLsn = result.nextLsn;
      brokenCopy = await keepBrokenCopy(fs, path);
      const inspection = await inspectTail(handle, entry.capacity, result.endOffset, 0, DEFAULT_CHUNK_BYTES);
      bytesDropped += inspection.nonZeroEnd - result.endOffset;
      if (sealedEntry !== undefined && sealedEntry.lastLsn >= result.nextLsn) manifestSaysLost = true;
      cut = { walk: damage.walk, at: result.endOffset };
    }
    const later = ids.filter((id) => id > damage.segmentId);
    for (const id of later) {
      const sealed = manifest.sealed[id - manifest.firstSegmentId];
      if (sealed !== undefined) manifestSaysLost = true;
      const handle = this.#handles.get(id)!;
      bytesDropped += sealed !== undefined ? sealed.endOffset : (await inspectTail(handle, await handle.size(), 0, 0, DEFAULT_CHUNK_BYTES)).nonZeroEnd;
    }
    const report: RepairReport = {
      file: path,
      offset: damage.offset,
      brokenCopy,
      firstLostLsn: bytesDropped > 0 || manifestSaysLost ? (firstLostLsn as Lsn) : undefined,
      segmentsDropped: later.length,
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
      pendingRepairs: resumed ? manifest.pendingRepairs : [...manifest.pendingRepairs, pendingOf(report, generation)],
    };
    await writeManifest(fs, this.#dir, repaired);
    let active: ActiveSegment | undefined;
    if (cut !== undefined) {
      const { entry, result, handle } = cut.walk;
      await zeroRange(handle, cut.at, entry.capacity);
      this.#count(result);
      active = { entry, handle, digest: result.digest };
      index.add(entry);
    }
    await removeSegments(fs, this.#walDir, later.map((id) => this.#path(id)), later.map((id) => this.#handles.get(id)!));
    for (const id of later) this.#handles.delete(id);
    if (active === undefined) {
      active = await this.#createActive(repaired);
      index.add(active.entry);
    }
    this.#repair = report;
    return this.#finish(repaired, index, active, undefined);
  }

  #finish(
    manifest: Manifest,
    index: LsnIndex,
    active: ActiveSegment,
    spare: { id: number; handle: FileHandle } | undefined,
  ): RecoveredLog {
    for (const [id, handle] of this.#handles) {
      if (id !== active.entry.id && id !== spare?.id) void handle.close().catch(() => undefined);
    }
    this.#handles.clear();
    const nextLsn = active.entry.nextLsn;
    const report = {
      segmentsScanned: this.#segmentsScanned,
      recordsScanned: this.#recordsScanned,
      batchesScanned: this.#batchesScanned,
      tornBytesCut: this.#tornBytesCut,
      ...(this.#repair === undefined ? {} : { repair: this.#repair }),
      pendingRepairs: manifest.pendingRepairs.map((p) => reportOf(p, this.#walDir)),
    };
    return { walDir: this.#walDir, manifest, index, active, spare, nextLsn, report };
  }
}

/** A segment after the newest one, as open found it. */
interface LaterSegment {
  readonly id: number;
  readonly handle: FileHandle;
  readonly capacity: number;
  readonly unwritten: boolean;
}

/** Whether `manifest` holds a pending repair of the segment at `path` (at `offset`, when given). */
function isPending(manifest: Manifest, path: string, offset?: number): boolean {
  const file = basename(path);
  return manifest.pendingRepairs.some((p) => p.file === file && (offset === undefined || p.offset === offset));
}

/** Reads of the (mostly zero) space after the newest segment's last batch: few, large ones. */
const TAIL_CHUNK_BYTES = 8 * 1024 * 1024;

/** The manifest's form of a repair report (file names inside wal/). */
function pendingOf(report: RepairReport, id: number): PendingRepair {
  return {
    id,
    file: basename(report.file),
    offset: report.offset,
    brokenCopy: report.brokenCopy === '' ? '' : basename(report.brokenCopy),
    firstLostLsn: report.firstLostLsn,
    segmentsDropped: report.segmentsDropped,
    bytesDropped: report.bytesDropped,
  };
}

/** The report's form of a pending repair (full paths). */
function reportOf(pending: PendingRepair, walDir: string): PendingRepairReport {
  return {
    id: pending.id,
    file: join(walDir, pending.file),
    offset: pending.offset,
    brokenCopy: pending.brokenCopy === '' ? '' : join(walDir, pending.brokenCopy),
    firstLostLsn: pending.firstLostLsn as Lsn | undefined,
    segmentsDropped: pending.segmentsDropped,
    bytesDropped: pending.bytesDropped,
  };
}

/** Why a walk of a sealed segment disagrees with its manifest entry, if it does. */
function sealedProblem(result: WalkResult, sealed: SealedSegment): { offset: number; problem: string } | undefined {
  if (result.damage !== undefined) return result.damage;
  if (result.endOffset !== sealed.endOffset) {
    return { offset: result.endOffset, problem: `sealed segment ends at ${result.endOffset}, manifest says ${sealed.endOffset}` };
  }
  if (result.nextLsn - 1 !== sealed.lastLsn) {
    return { offset: result.endOffset, problem: `sealed segment ends at LSN ${result.nextLsn - 1}, manifest says ${sealed.lastLsn}` };
  }
  if (result.digest !== sealed.digest) return { offset: 0, problem: 'record headers do not match the manifest digest' };
  return undefined;
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
