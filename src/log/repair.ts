/**
 * Explicit repair (D5, `repair: true`): the steps that cut a damaged log back to its last good
 * batch. Keeps a `.broken` copy of the damaged segment, wipes the damaged segment from the cut
 * on, removes every later segment, and says what was lost.
 *
 * This file must never run without the caller's explicit `repair: true`, never remove anything
 * before the `.broken` copy is durable, and never touch data before the cut.
 */
import { BROKEN_SUFFIX, removeIfPresent } from './segment-file.ts';
import { errnoOf, type FileHandle, type FileSystem } from '../io/types.ts';
import { dirname } from 'node:path';

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
