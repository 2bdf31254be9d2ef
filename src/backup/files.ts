/**
 * The file work of a backup and its restore, through the file-system interface: copy a file (or
 * its first bytes) while hashing it, hash a file, list a directory tree. Files are read and
 * written in bounded chunks, each an await, so a backup never holds the event loop (the
 * node's commit path) for long.
 *
 * It must never overwrite a file (copies create exclusively), never read more than the length
 * asked, and never report a hash of bytes other than those written.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ConsensusStoreError } from '../errors.ts';
import type { FileSystem } from '../io/types.ts';

/** Bytes moved per read and write. */
const CHUNK_BYTES = 4 << 20;

/** A file's size and SHA-256. */
export interface Hashed {
  readonly size: number;
  readonly sha256: Uint8Array;
}

/**
 * Copies `from` (its first `length` bytes, or all of it) to `to`, which must not exist, and
 * fdatasyncs it. Durable only after `syncDir` of `to`'s directory.
 * @returns the size and SHA-256 of what was written.
 * @throws IO_FAILED when `from` holds fewer than `length` bytes; the file system's errno errors.
 */
export async function copyHashed(fs: FileSystem, from: string, to: string, options: { readonly length?: number; readonly fileMode?: number } = {}): Promise<Hashed> {
  const source = await fs.open(from, 'read');
  try {
    const total = options.length ?? (await source.size());
    const target = await fs.open(to, 'create-exclusive', options.fileMode === undefined ? undefined : { fileMode: options.fileMode });
    try {
      const hash = sha256.create();
      const buffer = new Uint8Array(Math.min(CHUNK_BYTES, Math.max(total, 1)));
      for (let pos = 0; pos < total; ) {
        const want = Math.min(buffer.length, total - pos);
        const got = await source.read(buffer, pos, 0, want);
        if (got <= 0) throw new ConsensusStoreError('IO_FAILED', `${from} ended at ${pos} bytes, ${total} were to be copied`);
        const piece = buffer.subarray(0, got);
        hash.update(piece);
        await target.write([piece], pos);
        pos += got;
      }
      await target.datasync();
      return { size: total, sha256: hash.digest() };
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/** Writes `bytes` as the new file `path` (mode `fileMode`, default 0o644) and fdatasyncs it. */
export async function writeNewFile(fs: FileSystem, path: string, bytes: Uint8Array, fileMode?: number): Promise<Hashed> {
  const handle = await fs.open(path, 'create-exclusive', fileMode === undefined ? undefined : { fileMode });
  try {
    await handle.writeAndSync([bytes], 0);
  } finally {
    await handle.close();
  }
  return { size: bytes.length, sha256: sha256(bytes) };
}

/** The size and SHA-256 of `path`, read in chunks. */
export async function hashFile(fs: FileSystem, path: string): Promise<Hashed> {
  const handle = await fs.open(path, 'read');
  try {
    const size = await handle.size();
    const hash = sha256.create();
    const buffer = new Uint8Array(Math.min(CHUNK_BYTES, Math.max(size, 1)));
    let pos = 0;
    for (;;) {
      const got = await handle.read(buffer, pos);
      if (got <= 0) break;
      hash.update(buffer.subarray(0, got));
      pos += got;
    }
    return { size: pos, sha256: hash.digest() };
  } finally {
    await handle.close();
  }
}

/** Every file under `root`, as '/'-separated paths relative to it, sorted; directories are walked, not listed. */
export async function listTree(fs: FileSystem, root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const names = await fs.readdir(rel === '' ? root : `${root}/${rel}`);
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const st = await fs.stat(`${root}/${path}`);
      if (st === undefined) continue;
      if (st.isDirectory) await walk(path);
      else out.push(path);
    }
  };
  await walk('');
  return out.sort();
}
