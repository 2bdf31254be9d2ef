/**
 * Segment files on disk: their names, listing them, and creating one crash-safely (D1):
 * zeros written to a temp file, fdatasync, rename into place, fsync of the directory.
 *
 * This file must never write a segment's content after creation (the writer does that), and
 * never leave a half-created segment under a final name: a crash during creation leaves at most
 * a `.tmp` file, which the next open removes.
 */
import { join } from 'node:path';
import { errnoOf, type FileHandle, type FileSystem } from '../io/types.ts';

/** Extension of a segment file. */
export const SEGMENT_SUFFIX = '.wal';
/** Extension of a segment being created. */
export const TEMP_SUFFIX = '.tmp';
/** Extension of the copy repair keeps of a damaged segment. */
export const BROKEN_SUFFIX = '.broken';
/** Digits of a segment's zero-padded sequence number. */
const ID_DIGITS = 16;
const SEGMENT_NAME = /^(\d{16})\.wal$/;

/** Zeros shared by every preallocation and every tail wipe (never written to). */
export const ZERO_CHUNK = new Uint8Array(1024 * 1024);

/** File name of segment `id` (`0000000000000001.wal`). */
export function segmentFileName(id: number): string {
  return `${String(id).padStart(ID_DIGITS, '0')}${SEGMENT_SUFFIX}`;
}

/** Path of segment `id` in `walDir`. */
export function segmentPath(walDir: string, id: number): string {
  return join(walDir, segmentFileName(id));
}

/** The segment id a file name stands for, or undefined when it is not a segment name. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = SEGMENT_NAME.exec(name);
  if (match === null) return undefined;
  const id = Number(match[1]);
  return Number.isSafeInteger(id) ? id : undefined;
}

/** What `listSegmentDir` found. */
export interface SegmentListing {
  /** Segment ids, ascending. */
  readonly ids: number[];
  /** Leftover temp files of interrupted creations (names, not paths). */
  readonly temps: string[];
}

/** Lists the segment files and leftover temp files of `walDir`. */
export async function listSegmentDir(fs: FileSystem, walDir: string): Promise<SegmentListing> {
  const names = await fs.readdir(walDir);
  const ids: number[] = [];
  const temps: string[] = [];
  for (const name of names) {
    const id = parseSegmentFileName(name);
    if (id !== undefined) ids.push(id);
    else if (name.endsWith(TEMP_SUFFIX)) temps.push(name);
  }
  ids.sort((a, b) => a - b);
  return { ids, temps };
}

/** Buffers that together are `length` zero bytes (one writev of a shared zero chunk). */
export function zeroBuffers(length: number): Uint8Array[] {
  const buffers: Uint8Array[] = [];
  let left = length;
  while (left > 0) {
    const n = Math.min(left, ZERO_CHUNK.length);
    buffers.push(n === ZERO_CHUNK.length ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, n));
    left -= n;
  }
  return buffers;
}

/**
 * Creates segment `id` of `size` zero bytes: temp file, zeros, fdatasync, rename, directory
 * fsync. Resolves with the new segment open for reading and writing.
 *
 * @throws the file system's errno error (ENOSPC when the disk is full; the temp file is
 *   removed, best effort).
 */
export async function createSegmentFile(fs: FileSystem, walDir: string, id: number, size: number): Promise<FileHandle> {
  const finalPath = segmentPath(walDir, id);
  const tempPath = finalPath + TEMP_SUFFIX;
  await removeIfPresent(fs, tempPath);
  const temp = await fs.open(tempPath, 'create-exclusive');
  try {
    await temp.write(zeroBuffers(size), 0);
    await temp.datasync();
  } catch (err) {
    await temp.close().catch(() => undefined);
    await removeIfPresent(fs, tempPath).catch(() => undefined);
    throw err;
  }
  await temp.close();
  await fs.rename(tempPath, finalPath);
  await fs.syncDir(walDir);
  return fs.open(finalPath, 'readwrite');
}

/** Unlinks `path`; a missing file is fine. */
export async function removeIfPresent(fs: FileSystem, path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
}
