/**
 * Hard links for the backup (docs/operations.md, "Backup and restore"): a sealed segment or a
 * local image is immutable once written, so a backup on the same file system pins it with a
 * link instead of a copy. Only the real, process-wide file system (`defaultFileSystem`) links:
 * the `FileSystem` interface has no link, and a simulated disk (or any other implementation)
 * gets `false`, so the caller copies through the interface, where crashes can be simulated.
 *
 * It must never link across file systems or replace an existing file: EXDEV, EPERM, ENOTSUP,
 * EMLINK and the like answer `false` (copy instead); EEXIST and every other error is thrown.
 */
import { promises as nodeFs } from 'node:fs';
import { defaultFileSystem } from './real-fs.ts';
import { errnoOf, type FileSystem } from './types.ts';

/** Errors that mean "this file system cannot link here": the caller copies instead. */
const CANNOT_LINK: ReadonlySet<string> = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'ENOSYS']);

/**
 * Links `existing` as `newPath` (which must not exist) when `fs` is the real file system and
 * both lie on one file system. Durable only after `syncDir` of `newPath`'s directory.
 * @returns true when linked; false when the caller must copy (another file system, no link support).
 * @throws the errno error of anything else (ENOENT: `existing` is gone; EEXIST).
 */
export async function tryHardLink(fs: FileSystem, existing: string, newPath: string): Promise<boolean> {
  if (fs !== defaultFileSystem()) return false;
  try {
    await nodeFs.link(existing, newPath);
    return true;
  } catch (err) {
    const errno = errnoOf(err);
    if (errno !== undefined && CANNOT_LINK.has(errno)) return false;
    throw err;
  }
}
