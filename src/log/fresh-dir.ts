/**
 * A clean failed open (docs/durability.md, "A clean open"): what a data directory looked like
 * before an open touched it, and, when that open fails, the removal of everything it created in
 * a directory that was absent or empty, so that a failed first open leaves nothing behind
 * (no LOCK, MANIFEST, preallocated segments or key file that the next attempt would trip on).
 *
 * This file must never remove anything from a directory that held an entry before the open,
 * and never remove anything while another opener holds the directory's lock.
 */
import { dirname, join } from 'node:path';
import { fromFsError, invalidArgument, isStoreError } from '../errors.ts';
import { errnoOf, type FileSystem } from '../io/types.ts';

/** What an open found at the data directory's path before it created anything. */
export type DataDirState = 'absent' | 'empty' | 'existing';

/**
 * Looks at `dir` without changing anything.
 * @throws ConsensusStoreError INVALID_ARGUMENT (`dir` names a file, or a parent of it does),
 *   IO_FAILED (the look itself failed: EACCES on a parent, EIO).
 */
export async function probeDataDir(fs: FileSystem, dir: string, argument = 'options.dir'): Promise<DataDirState> {
  try {
    const stat = await fs.stat(dir);
    if (stat === undefined) return 'absent';
    if (!stat.isDirectory) throw invalidArgument(argument, `names a file, not a directory: ${dir}`);
    return (await fs.readdir(dir)).length === 0 ? 'empty' : 'existing';
  } catch (err) {
    if (errnoOf(err) === 'ENOTDIR') throw invalidArgument(argument, `has a parent that is a file, not a directory: ${dir}`);
    throw fromFsError(err, `looking at the data directory ${dir}`);
  }
}

/**
 * Creates `dir` and any missing parents, durably: every directory that gained an entry (the
 * nearest existing ancestor, and each created one down to `dir`'s parent) is fsynced, so that
 * a power cut cannot take a new data directory away with a parent it was created in.
 * @throws the file system's errno errors.
 */
export async function mkdirDurable(fs: FileSystem, dir: string): Promise<void> {
  const chain: string[] = [];
  let at = dir;
  for (;;) {
    const up = dirname(at);
    chain.push(up);
    if (up === at || (await fs.stat(up)) !== undefined) break;
    at = up;
  }
  await fs.mkdir(dir);
  // From the nearest existing ancestor down: each gained one entry.
  for (let i = chain.length - 1; i >= 0; i--) await fs.syncDir(chain[i] as string);
}

/**
 * After a failed open of a directory that was `state` before it: removes everything in it (and
 * the directory itself when it was absent), unless another opener has taken its lock
 * meanwhile. Best effort: a failure here is swallowed (the open's own error is the one to
 * report; a later open copes with a half-made directory as with a crash during creation).
 * @param lockName - the lock file's name inside `dir`.
 */
export async function removeFreshDir(fs: FileSystem, dir: string, state: DataDirState, lockName: string): Promise<void> {
  if (state === 'existing') return;
  try {
    let lock;
    try {
      lock = await fs.lock(join(dir, lockName));
    } catch (err) {
      // Another opener holds it (it will fill the directory itself), or the directory is gone.
      if (isStoreError(err, 'LOCKED') || errnoOf(err) === 'ENOENT') return;
      throw err;
    }
    try {
      for (const name of await fs.readdir(dir)) {
        if (name !== lockName) await removeTree(fs, join(dir, name));
      }
    } finally {
      await lock.release();
    }
    await removeIfThere(fs, join(dir, lockName));
    if (state === 'absent') await fs.rmdir(dir);
    await fs.syncDir(state === 'absent' ? join(dir, '..') : dir);
  } catch {
    // Best effort (see above).
  }
}

async function removeTree(fs: FileSystem, path: string): Promise<void> {
  const stat = await fs.stat(path);
  if (stat === undefined) return;
  if (!stat.isDirectory) return removeIfThere(fs, path);
  for (const name of await fs.readdir(path)) await removeTree(fs, join(path, name));
  await fs.rmdir(path);
}

async function removeIfThere(fs: FileSystem, path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
}
