/**
 * Releasing old segments (docs/durability.md, "Releasing segments"): once what the records
 * below some LSN held lives elsewhere (a local image, cold files), the sealed segments all of
 * whose records lie below it leave the log, so that the hot log stops growing.
 *
 * The order is the crash argument:
 * 1. The manifest is rewritten with `firstSegmentId` and `baseLsn` advanced and the released
 *    segments gone from `sealed` (temp, fdatasync, rename, directory fsync): the commit point.
 *    It goes through the writer's manifest chain, in turn with seals and acknowledgements.
 * 2. The segments leave the LSN index; reads that started before are waited for.
 * 3. Each released file is unlinked, oldest first, and the directory fsync'ed after each, so
 *    that what a crash leaves below `firstSegmentId` is always a run of consecutive ids ending
 *    right below it (a manifest rebuilt from the segments then still finds one log).
 * A crash before 1 leaves the old manifest and every file; after it, files below
 * `firstSegmentId` are leftovers, which the next open removes (release-plan.ts).
 *
 * This file must never unlink a file the manifest in force still names, never release the
 * segment being written (nor the newest sealed one while that segment holds no record: a
 * manifest rebuilt from the segments needs a segment header to know the LSNs), and never run
 * two releases at once.
 */
import { ConsensusStoreError, fromFsError } from '../errors.ts';
import type { FileSystem } from '../io/types.ts';
import type { LsnIndex } from './lsn-index.ts';
import type { SealedSegment } from './manifest.ts';
import type { SegmentReader } from './reader.ts';
import { ReleaseGate } from './release-gate.ts';
import { removeSegmentFiles } from './release-plan.ts';
import type { SegmentWriter } from './segment-writer.ts';
import type { Lsn, ReleaseReport } from './types.ts';

/** What the releaser shares with the rest of the log. */
export interface ReleaseDeps {
  readonly fs: FileSystem;
  readonly walDir: string;
  readonly writer: SegmentWriter;
  readonly index: LsnIndex;
  readonly reader: SegmentReader;
}

/** Releases segments of one open log (see the file comment). */
export class SegmentReleaser {
  readonly #deps: ReleaseDeps;
  readonly #gate = new ReleaseGate();
  /** Every segment file with an id below this one is gone (or left for the next open). */
  #removedBelow: number;

  /** @param firstSegmentId - the manifest's first segment at open (the open removed every file below it). */
  constructor(deps: ReleaseDeps, firstSegmentId: number) {
    this.#deps = deps;
    this.#removedBelow = firstSegmentId;
  }

  /**
   * Releases the sealed segments all of whose records lie below `beforeLsn` (checked by the
   * caller), after any release before it and once no hold is kept.
   *
   * @throws ConsensusStoreError DISK_FULL or IO_FAILED when the manifest write fails (nothing
   *   released); IO_FAILED when an unlink fails after the commit point (the segments are
   *   released; the next release or open removes the files); CLOSED when the log closed first.
   */
  release(beforeLsn: number): Promise<ReleaseReport> {
    return this.#gate.run(() => this.#release(beforeLsn));
  }

  /** See `Log.holdSegments`. */
  hold(): Promise<() => void> {
    return this.#gate.hold();
  }

  /** No release starts from now on; resolves once the running one ended. */
  close(): Promise<void> {
    return this.#gate.close();
  }

  async #release(beforeLsn: number): Promise<ReleaseReport> {
    const { fs, walDir, writer, index, reader } = this.#deps;
    let firstSegmentId: number;
    let released: readonly SealedSegment[];
    try {
      ({ firstSegmentId, released } = await writer.release(beforeLsn));
    } catch (err) {
      throw fromFsError(err, 'releasing segments: the manifest write failed, nothing was released');
    }
    const dropped = index.dropBefore(firstSegmentId);
    const ids = dropped.map((e) => e.id);
    await reader.retire(ids);
    const gone: number[] = [];
    for (let id = this.#removedBelow; id < firstSegmentId; id++) gone.push(id);
    try {
      await removeSegmentFiles(fs, walDir, gone);
    } catch (err) {
      const cause = fromFsError(err, 'releasing segments');
      throw new ConsensusStoreError('IO_FAILED', `segments below ${firstSegmentId} are released but their files could not all be removed; the next release or open removes them (${String(cause)})`, { cause });
    }
    this.#removedBelow = firstSegmentId;
    return {
      segmentsReleased: released.length,
      recordsReleased: released.reduce((n, s) => n + (s.lastLsn - s.firstLsn + 1), 0),
      bytesFreed: dropped.reduce((n, e) => n + e.capacity, 0),
      firstLsn: index.firstLsn as Lsn,
    };
  }
}
