/**
 * What a release changes (docs/durability.md, "Releasing segments"): the manifest without its
 * oldest sealed segments, and the unlinking of segment files that left the log, oldest first
 * with a directory fsync after each, so that what a crash leaves below the manifest's first
 * segment is always a run of consecutive ids ending right below it (a manifest rebuilt from the
 * segments, manifest-rebuild.ts, then still finds one log). Used by a release (release.ts) and
 * by the open that removes what a release cut short left (open.ts).
 *
 * This file must never plan the release of a segment at or after `keepFrom`, nor of one holding
 * a record at or after `beforeLsn`.
 */
import type { FileSystem } from '../io/types.ts';
import type { Manifest, SealedSegment } from './manifest.ts';
import { removeIfPresent, segmentPath } from './segment-file.ts';

/** What a release changes in the manifest. */
export interface ReleasePlan {
  /** The manifest with the released segments gone (generation + 1). */
  readonly manifest: Manifest;
  /** The sealed segments released, oldest first. */
  readonly released: readonly SealedSegment[];
}

/**
 * The manifest without its oldest sealed segments whose last LSN is below `beforeLsn` and whose
 * id is below `keepFrom`; undefined when none goes.
 */
export function planRelease(manifest: Manifest, beforeLsn: number, keepFrom: number): ReleasePlan | undefined {
  let n = 0;
  while (n < manifest.sealed.length && manifest.sealed[n]!.lastLsn < beforeLsn && manifest.sealed[n]!.id < keepFrom) n++;
  if (n === 0) return undefined;
  const last = manifest.sealed[n - 1]!;
  return {
    manifest: {
      ...manifest,
      generation: manifest.generation + 1,
      firstSegmentId: last.id + 1,
      baseLsn: last.lastLsn + 1,
      sealed: manifest.sealed.slice(n),
    },
    released: manifest.sealed.slice(0, n),
  };
}

/**
 * Unlinks the segment files `ids` of `walDir`, in ascending order, fsyncing the directory after
 * each (see the file comment); a missing file is fine.
 *
 * @throws the file system's errno error.
 */
export async function removeSegmentFiles(fs: FileSystem, walDir: string, ids: readonly number[]): Promise<void> {
  for (const id of [...ids].sort((a, b) => a - b)) {
    await removeIfPresent(fs, segmentPath(walDir, id));
    await fs.syncDir(walDir);
  }
}
