/**
 * The file-system interface (D9, docs/durability.md). Everything the engine writes or reads goes through a
 * `FileSystem`, so that the simulated disk can cut power at any byte, tear writes, drop unsynced
 * data, flip bits and fail calls. No module outside `src/io/` may import `node:fs`.
 *
 * Errors: implementations reject with an error whose `code` property is the POSIX name
 * (`ENOENT`, `EEXIST`, `EIO`, `ENOSPC`, ...), as node:fs does, except `lock`, which rejects
 * with a ConsensusStoreError `LOCKED`. Callers map errno codes with `errnoOf`.
 */

/** How to open a file. */
export type OpenMode =
  /** Read only; the file must exist. */
  | 'read'
  /** Read and write; the file must exist. */
  | 'readwrite'
  /** Read and write; create the file if it does not exist. */
  | 'create'
  /** Read and write; fail with EEXIST if the file exists. */
  | 'create-exclusive';

/** Options of `FileSystem.open`. */
export interface OpenOptions {
  /**
   * Permission bits (0..0o777) of a file this call creates, before the process umask; ignored
   * when the file exists. Default 0o644. The node key file is created with 0o600.
   */
  readonly fileMode?: number;
}

/** An open file. Positions and lengths are byte counts below 2^53. */
export interface FileHandle {
  /** The path the file was opened with. */
  readonly path: string;
  /**
   * Reads up to `length` bytes (default: the rest of `buffer`) at `position` into `buffer`
   * from `offset` (default 0); resolves with the number of bytes read (short only at end of file).
   */
  read(buffer: Uint8Array, position: number, offset?: number, length?: number): Promise<number>;
  /** Writes every byte of `buffers`, in order, starting at `position`. Never a short write. */
  write(buffers: readonly Uint8Array[], position: number): Promise<void>;
  /** fdatasync: the file's data written so far is on stable storage when this resolves. */
  datasync(): Promise<void>;
  /**
   * `write` then `datasync`, in one round trip where the implementation can (the commit path).
   * If the write fails the sync is not attempted; either failure rejects.
   */
  writeAndSync(buffers: readonly Uint8Array[], position: number): Promise<void>;
  /** Sets the file's length (cuts or zero-extends). Not durable until `datasync`. */
  truncate(length: number): Promise<void>;
  /** Current length of the file in bytes. */
  size(): Promise<number>;
  /** Closes the handle; idempotent. */
  close(): Promise<void>;
}

/** What `stat` reports. */
export interface FileStat {
  readonly size: number;
  readonly isFile: boolean;
  readonly isDirectory: boolean;
  /** Permission bits (0..0o777), where the file system keeps them (not the simulated disk). */
  readonly mode?: number;
}

/** An exclusive, advisory lock on a data directory (D7, docs/durability.md). */
export interface FileLock {
  /** How the lock is held: `flock` (fs-ext), `pidfile` (lock file with stale-owner detection), `memory` (simulated disk). */
  readonly kind: 'flock' | 'pidfile' | 'memory';
  /** Releases the lock; idempotent. */
  release(): Promise<void>;
}

/** The file-system operations the engine needs, and nothing more. */
export interface FileSystem {
  /** Opens a file; `options.fileMode` applies only when the call creates it. */
  open(path: string, mode: OpenMode, options?: OpenOptions): Promise<FileHandle>;
  /** Reads a whole (small) file. Rejects ENOENT when absent. */
  readFile(path: string): Promise<Uint8Array>;
  /** Atomically renames `from` to `to`, replacing `to`. Durable only after `syncDir` of both parents. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file. Durable only after `syncDir` of its parent. */
  unlink(path: string): Promise<void>;
  /** Creates a directory and its parents; succeeds if it exists. */
  mkdir(path: string): Promise<void>;
  /** Names of the entries of a directory (not sorted). */
  readdir(path: string): Promise<string[]>;
  /** Removes an empty directory (ENOTEMPTY otherwise). Durable only after `syncDir` of its parent. */
  rmdir(path: string): Promise<void>;
  /** Stat of a path, or `undefined` when it does not exist. */
  stat(path: string): Promise<FileStat | undefined>;
  /** fsync of a directory: its entries (creates, renames, unlinks) are durable when this resolves. */
  syncDir(path: string): Promise<void>;
  /**
   * Takes the exclusive lock `path` (a file, created if absent). Rejects with
   * ConsensusStoreError `LOCKED` when another holder, in this process or another, has it.
   */
  lock(path: string): Promise<FileLock>;
}

/**
 * The `fileMode` of `options` checked (an integer 0..0o777), or undefined when not given.
 * @throws TypeError on anything else (a programmer mistake).
 */
export function fileModeOf(options: OpenOptions | undefined): number | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw new TypeError('open options must be an object');
  const mode = options.fileMode;
  if (mode === undefined) return undefined;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) throw new TypeError(`fileMode must be an integer 0..0o777, got ${String(mode)}`);
  return mode;
}

/** The errno name (`EIO`, `ENOSPC`, `ENOENT`, ...) of an error from a FileSystem, if any. */
export function errnoOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** An error shaped like node:fs's, for implementations that are not node:fs. */
export class ErrnoError extends Error {
  readonly code: string;
  readonly syscall: string;
  readonly path: string | undefined;
  constructor(code: string, syscall: string, path?: string) {
    super(`${code}: ${syscall}${path === undefined ? '' : ` '${path}'`}`);
    this.name = 'ErrnoError';
    this.code = code;
    this.syscall = syscall;
    this.path = path;
  }
}
