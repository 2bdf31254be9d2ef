/**
 * Opening a log (D5): read the manifest, make every segment and directory durable before
 * trusting them, check the sealed segments (structure and header digest; full checksums in
 * repair mode), remove what a release cut short left below the first segment, walk the newest
 * segment fully, cut a torn tail and wipe after it, and fail with CORRUPTION naming file and
 * offset on damage anywhere else (or, with `repair: true`, hand the damage to repair.ts, which
 * cuts at the last good batch and reports the loss). Builds the LSN index the reader and writer
 * share.
 *
 * This file must never cut acknowledged data without `repair: true`, never trust a byte before
 * fsyncing the file it is in, and never leave a handle open when it fails.
 */
import { join } from 'node:path';
import type { FileHandle, FileSystem } from '../io/types.ts';
import { DEFAULT_CHUNK_BYTES } from './chunk-reader.ts';
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
  type SealedSegment,
} from './manifest.ts';
import type { ResolvedLogOptions } from './options.ts';
import {
  isPending,
  noteLaterData,
  recordPendingRepair,
  repairAt,
  reportOf,
  settleLaterSegments,
  surveyLater,
  type Damage,
  type OpenFiles,
} from './repair.ts';
import { finishPendingFills, repairGap } from './gap-repair.ts';
import { rebuildManifest } from './manifest-rebuild.ts';
import { removeSegmentFiles } from './release-plan.ts';
import { repairableCorruption } from './repair-hint.ts';
import { createSegmentFile, listSegmentDir, removeIfPresent, segmentPath } from './segment-file.ts';
import { walkSegment, type WalkResult } from './segment-walk.ts';
import { inspectTail, wholeBatchDamaged, zeroRange } from './tail-repair.ts';
import type { Lsn, OpenReport, RepairReport } from './types.ts';

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
  /** The files and handles, as the repair steps (repair.ts) see them. */
  readonly #files: OpenFiles;
  #segmentsScanned = 0;
  #recordsScanned = 0;
  #batchesScanned = 0;
  #tornBytesCut = 0;
  #repair: RepairReport | undefined;
  #manifestRebuilt = false;
  #gapRepairs = 0;
  #leftoversRemoved = 0;

  constructor(fs: FileSystem, options: ResolvedLogOptions) {
    this.#fs = fs;
    this.#options = options;
    this.#dir = options.dir;
    this.#walDir = join(options.dir, WAL_DIR_NAME);
    this.#files = { fs, dir: this.#dir, walDir: this.#walDir, handles: this.#handles };
  }

  async run(): Promise<RecoveredLog> {
    const fs = this.#fs;
    await fs.mkdir(this.#walDir);
    let manifest = await readManifest(fs, this.#dir);
    const listing = await listSegmentDir(fs, this.#walDir);
    const manifestPath = join(this.#dir, MANIFEST_NAME);
    if (manifest === undefined && listing.ids.length > 0 && !this.#options.repair) {
      throw repairableCorruption(manifestPath, 0, 'manifest missing while wal/ holds segments (repair rebuilds it from the segments)', this.#dir);
    }
    await removeIfPresent(fs, join(this.#dir, `${MANIFEST_NAME}.tmp`));
    for (const temp of listing.temps) await removeIfPresent(fs, join(this.#walDir, temp));
    // Files below the manifest's first segment are what a release cut short left after its
    // commit point (docs/durability.md, "Releasing segments"): never opened, removed below once
    // the manifest that released them is durable.
    const first = manifest?.firstSegmentId ?? 0;
    const leftovers = listing.ids.filter((id) => id < first);
    const ids = listing.ids.filter((id) => id >= first);
    await this.#syncAll(ids);
    if (manifest === undefined) {
      // Repair mode, or no segment at all: the segments describe themselves (manifest-rebuild.ts).
      manifest = ids.length > 0 ? await rebuildManifest(this.#walDir, ids, this.#handles) : { ...emptyManifest(), generation: 1 };
      this.#manifestRebuilt = ids.length > 0;
      await writeManifest(fs, this.#dir, manifest);
    }
    // #syncAll fsync'ed both directories: the manifest's rename is durable before a file goes.
    await removeSegmentFiles(fs, this.#walDir, leftovers);
    this.#leftoversRemoved = leftovers.length;
    for (const id of ids) {
      if (id < manifest.firstSegmentId) throw this.#corruption(this.#path(id), 0, 'segment older than the log\'s first segment');
    }
    // A repair that keeps the batches after its damage may have been cut short after its commit
    // point: its fill is finished before anything is walked (gap-repair.ts).
    await finishPendingFills(this.#files, manifest);
    return this.#check(manifest, ids);
  }

  /** Checks the sealed segments, then opens the newest one (from scratch again after a gap repair). */
  async #check(manifest: Manifest, ids: readonly number[]): Promise<RecoveredLog> {
    this.#segmentsScanned = 0;
    this.#recordsScanned = 0;
    this.#batchesScanned = 0;
    const index = new LsnIndex(manifest.baseLsn);
    const damage = await this.#checkSealed(manifest, index);
    if (damage !== undefined) return this.#repairAt(damage, manifest, index, ids);
    return this.#openTail(manifest, index, ids);
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
    if (!this.#options.repair) throw this.#corruption(this.#path(damage.segmentId), damage.offset, damage.problem);
    return damage;
  }

  /** A CORRUPTION that names the repair (repair-hint.ts). */
  #corruption(file: string, offset: number, problem: string): Error {
    return repairableCorruption(file, offset, problem, this.#dir);
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
    const later = await surveyLater(this.#files, ids.filter((id) => id > tailId));
    const lostFrom = active === undefined ? nextLsnAfterSealed(manifest) : active.entry.nextLsn;
    // After a repair of the newest segment cut short past its commit point, the later segments
    // it was removing are part of that pending repair, not a new finding.
    const reported = this.#repair !== undefined || isPending(manifest, this.#path(tailId));
    const laterData = await noteLaterData(this.#files, later, lostFrom, this.#options.repair, reported);
    this.#repair ??= laterData;
    if (this.#repair !== undefined) manifest = await recordPendingRepair(this.#files, manifest, this.#repair);
    const spare = await settleLaterSegments(this.#files, later, tailId, active !== undefined, this.#options.segmentSize);
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
    if (!this.#options.repair) throw this.#corruption(path, 0, 'the newest segment is missing');
    // Whatever the lost file held is gone: from the LSN after the sealed segments on, if it held
    // anything at all. Reported as lost, so that the sign guard takes the cautious view.
    const from = nextLsnAfterSealed(manifest);
    const clean = manifest.cleanEnd?.segmentId === tailId ? manifest.cleanEnd : undefined;
    const known = clean !== undefined && clean.lastLsn >= from ? { lastLostLsn: clean.lastLsn as Lsn, recordsDropped: clean.lastLsn - from + 1 } : { lastLostLsn: undefined, recordsDropped: undefined };
    this.#repair = { file: path, offset: 0, brokenCopy: '', firstLostLsn: from as Lsn, ...known, segmentsDropped: 0, bytesDropped: clean?.endOffset ?? 0 };
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
   * Repair mode: gap-repair.ts drops only the damaged batches when intact ones follow (then the
   * log is checked again from the start: further damage is repaired in turn); otherwise repair.ts
   * cuts the log at `damage`, and the damaged segment, cut, becomes the active one (or a new one does).
   */
  async #repairAt(damage: Damage, manifest: Manifest, index: LsnIndex, ids: readonly number[]): Promise<RecoveredLog> {
    if (this.#gapRepairs < MAX_GAP_REPAIRS) {
      const gap = await repairGap(this.#files, damage, manifest);
      if (gap !== undefined) {
        this.#gapRepairs++;
        this.#repair = gap.report;
        return this.#check(gap.manifest, ids);
      }
    }
    const outcome = await repairAt(this.#files, damage, manifest, ids);
    let active: ActiveSegment;
    if (outcome.cut !== undefined && outcome.cut.result.endOffset === 0 && outcome.cut.entry.capacity !== this.#options.segmentSize) {
      // Cut to nothing, and of another size (a truncated file): replaced by a new one, atomically.
      await outcome.cut.handle.close();
      this.#handles.delete(outcome.cut.entry.id);
      active = await this.#createActive(outcome.manifest);
    } else if (outcome.cut !== undefined) {
      const { entry, result, handle } = outcome.cut;
      this.#count(result);
      active = { entry, handle, digest: result.digest };
    } else {
      active = await this.#createActive(outcome.manifest);
    }
    index.add(active.entry);
    this.#repair = outcome.report;
    return this.#finish(outcome.manifest, index, active, undefined);
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
      ...(this.#manifestRebuilt ? { manifestRebuilt: true } : {}),
      ...(this.#leftoversRemoved > 0 ? { leftoverSegmentsRemoved: this.#leftoversRemoved } : {}),
      ...(this.#repair === undefined ? {} : { repair: this.#repair }),
      pendingRepairs: manifest.pendingRepairs.map((p) => reportOf(p, this.#walDir)),
    };
    return { walDir: this.#walDir, manifest, index, active, spare, nextLsn, report };
  }
}

/** Most gap repairs one open makes (each is one pending repair in the manifest); further damage is cut. */
const MAX_GAP_REPAIRS = 16;

/** Reads of the (mostly zero) space after the newest segment's last batch: few, large ones. */
const TAIL_CHUNK_BYTES = 8 * 1024 * 1024;

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
