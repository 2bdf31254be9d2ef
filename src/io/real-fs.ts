/**
 * The real FileSystem (D9, docs/durability.md): node:fs behind the small interface in `types.ts`.
 *
 * Positional reads and writes on numeric fds (callback fs, one threadpool trip each), fdatasync,
 * directory fsync, and the commit-path `writeAndSync`, which goes through the dedicated I/O
 * worker of `sync-worker.ts` when it is enabled (the default) and falls back to the plain async
 * path otherwise.
 *
 * A worker that cannot start (see `sync-worker.ts`: whatever the embedding process's flags, it
 * should) fails the writable `open` that started it with WORKER_FAILED, before any byte is
 * written: not an EIO at the first commit, which would read as a failed disk and poison the
 * log, and not a silent fall-back, which would hide a broken set-up behind a slower commit path.
 * The next writable open, once none is left, tries a new worker. Only a worker that served and
 * then died leaves later handles on the plain path (its requests in flight fail with EIO).
 *
 * Must never: make a synchronous fs call on the commit path (`write`, `datasync`,
 * `writeAndSync`), report success for a failed write or sync, retry an fsync, or swallow an
 * errno (errors keep node's `code`). No module outside `src/io/` may import `node:fs`.
 */
import * as fs from 'node:fs';
import type { FileHandle, FileLock, FileStat, FileSystem, OpenMode, OpenOptions } from './types.ts';
import { ErrnoError, fileModeOf } from './types.ts';
import { acquireLock } from './lock.ts';
import { SyncWorker, type SyncWorkerOptions } from './sync-worker.ts';

/** Options of `createRealFileSystem`. */
export interface RealFileSystemOptions {
  /**
   * Route `writeAndSync` and `datasync` through a dedicated I/O worker thread (one round trip,
   * lower tail latency). Default true. With false every call uses node's threadpool.
   */
  readonly syncWorker?: boolean;
  /** Tuning of the worker (region size, spin, poll, busy-wait gate); defaults suit most hosts. */
  readonly syncWorkerOptions?: SyncWorkerOptions;
}

const OPEN_FLAGS: Readonly<Record<OpenMode, number>> = {
  read: fs.constants.O_RDONLY,
  readwrite: fs.constants.O_RDWR,
  create: fs.constants.O_RDWR | fs.constants.O_CREAT,
  'create-exclusive': fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL,
};

/** Mode bits of created files and directories (before umask), unless `open` is given a `fileMode`. */
const FILE_MODE = 0o644;

function fsRead(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buffer, offset, length, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead)));
  });
}

function fsWritev(fd: number, buffers: readonly Uint8Array[], position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.writev(fd, buffers as Uint8Array[], position, (err, written) => (err ? reject(err) : resolve(written)));
  });
}

function fsCall(run: (cb: (err: NodeJS.ErrnoException | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    run((err) => (err ? reject(err) : resolve()));
  });
}

/** The buffers left to write after `done` bytes of `buffers` were written. */
function remainingBuffers(buffers: readonly Uint8Array[], done: number): Uint8Array[] {
  const rest: Uint8Array[] = [];
  let skip = done;
  for (const buf of buffers) {
    if (skip >= buf.byteLength) {
      skip -= buf.byteLength;
      continue;
    }
    rest.push(skip === 0 ? buf : buf.subarray(skip));
    skip = 0;
  }
  return rest;
}

function totalLength(buffers: readonly Uint8Array[]): number {
  let total = 0;
  for (const buf of buffers) total += buf.byteLength;
  return total;
}

/** Writes all of `buffers` at `position` with positional writev, looping over short writes. */
async function writeFully(fd: number, buffers: readonly Uint8Array[], position: number): Promise<void> {
  let pending = buffers.filter((b) => b.byteLength > 0);
  let at = position;
  while (pending.length > 0) {
    const written = await fsWritev(fd, pending, at);
    if (written <= 0) throw new ErrnoError('EIO', 'writev');
    at += written;
    pending = remainingBuffers(pending, written);
  }
}

function checkPosition(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative safe integer, got ${String(value)}`);
  }
}

/** A FileHandle over a numeric fd. Close waits for the handle's own calls in flight. */
class RealFileHandle implements FileHandle {
  readonly path: string;
  readonly #fd: number;
  readonly #worker: SyncWorker | undefined;
  readonly #onClose: () => void;
  readonly #inFlight = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  constructor(path: string, fd: number, worker: SyncWorker | undefined, onClose: () => void) {
    this.path = path;
    this.#fd = fd;
    this.#worker = worker;
    this.#onClose = onClose;
  }

  /** Runs `op` on the open fd, tracked so that `close` waits for it. */
  #track<T>(syscall: string, op: (fd: number) => Promise<T>): Promise<T> {
    if (this.#closing !== undefined) return Promise.reject(new ErrnoError('EBADF', syscall, this.path));
    const p = op(this.#fd);
    this.#inFlight.add(p);
    const forget = (): void => {
      this.#inFlight.delete(p);
    };
    p.then(forget, forget);
    return p;
  }

  read(buffer: Uint8Array, position: number, offset = 0, length?: number): Promise<number> {
    checkPosition('position', position);
    checkPosition('offset', offset);
    const want = length ?? buffer.byteLength - offset;
    checkPosition('length', want);
    if (offset + want > buffer.byteLength) throw new RangeError('offset + length exceeds the buffer');
    return this.#track('read', async (fd) => {
      let done = 0;
      while (done < want) {
        const n = await fsRead(fd, buffer, offset + done, want - done, position + done);
        if (n === 0) break;
        done += n;
      }
      return done;
    });
  }

  write(buffers: readonly Uint8Array[], position: number): Promise<void> {
    checkPosition('position', position);
    return this.#track('write', (fd) => writeFully(fd, buffers, position));
  }

  datasync(): Promise<void> {
    const worker = this.#worker;
    if (worker?.usable() === true) return this.#track('fdatasync', (fd) => worker.datasync(fd, this.path));
    return this.#track('fdatasync', (fd) => fsCall((cb) => fs.fdatasync(fd, cb)));
  }

  writeAndSync(buffers: readonly Uint8Array[], position: number): Promise<void> {
    checkPosition('position', position);
    const worker = this.#worker;
    if (worker?.usable() === true && totalLength(buffers) <= worker.maxRequestBytes) {
      return this.#track('write', (fd) => worker.writeAndSync(fd, buffers, position, this.path));
    }
    return this.#track('write', async (fd) => {
      await writeFully(fd, buffers, position);
      await fsCall((cb) => fs.fdatasync(fd, cb));
    });
  }

  truncate(length: number): Promise<void> {
    checkPosition('length', length);
    return this.#track('ftruncate', (fd) => fsCall((cb) => fs.ftruncate(fd, length, cb)));
  }

  size(): Promise<number> {
    return this.#track(
      'fstat',
      (fd) =>
        new Promise<number>((resolve, reject) => {
          fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st.size)));
        }),
    );
  }

  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closing = (async () => {
        await Promise.allSettled([...this.#inFlight]);
        try {
          await fsCall((cb) => fs.close(this.#fd, cb));
        } finally {
          this.#onClose();
        }
      })();
    }
    return this.#closing;
  }
}

/** A FileSystem over node:fs. */
class RealFileSystem implements FileSystem {
  readonly #useWorker: boolean;
  readonly #workerOptions: SyncWorkerOptions;
  #worker: SyncWorker | undefined;
  /** Writable handles open: the worker lives while this is above zero. */
  #writableOpen = 0;

  constructor(useWorker: boolean, workerOptions: SyncWorkerOptions) {
    this.#useWorker = useWorker;
    this.#workerOptions = workerOptions;
  }

  /**
   * Starts (or reuses) the worker for a new writable handle; undefined when it is disabled or
   * died after serving. Throws the worker's WORKER_FAILED start error (detached again) when it
   * could not start.
   */
  async #attachWorker(): Promise<SyncWorker | undefined> {
    if (!this.#useWorker) return undefined;
    this.#worker ??= new SyncWorker(this.#workerOptions);
    const worker = this.#worker;
    this.#writableOpen += 1;
    await worker.ready();
    const startError = worker.startError();
    if (startError !== undefined) {
      this.#detachWorker();
      throw startError;
    }
    return worker.usable() ? worker : undefined;
  }

  #detachWorker(): void {
    this.#writableOpen -= 1;
    if (this.#writableOpen === 0 && this.#worker !== undefined) {
      const worker = this.#worker;
      this.#worker = undefined;
      void worker.shutdown();
    }
  }

  async open(path: string, mode: OpenMode, options?: OpenOptions): Promise<FileHandle> {
    const flags = OPEN_FLAGS[mode];
    const fileMode = fileModeOf(options) ?? FILE_MODE;
    const fd = await new Promise<number>((resolve, reject) => {
      fs.open(path, flags, fileMode, (err, fd) => (err ? reject(err) : resolve(fd)));
    });
    if (mode === 'read' || !this.#useWorker) return new RealFileHandle(path, fd, undefined, () => undefined);
    let worker: SyncWorker | undefined;
    try {
      worker = await this.#attachWorker();
    } catch (err) {
      // Nothing was written through it; the fd is closed again and the start error surfaces.
      await fsCall((cb) => fs.close(fd, cb)).catch(() => undefined);
      throw err;
    }
    return new RealFileHandle(path, fd, worker, () => this.#detachWorker());
  }

  async readFile(path: string): Promise<Uint8Array> {
    return await fs.promises.readFile(path);
  }

  async rename(from: string, to: string): Promise<void> {
    await fs.promises.rename(from, to);
  }

  async unlink(path: string): Promise<void> {
    await fs.promises.unlink(path);
  }

  async mkdir(path: string): Promise<void> {
    await fs.promises.mkdir(path, { recursive: true, mode: 0o755 });
  }

  async readdir(path: string): Promise<string[]> {
    return await fs.promises.readdir(path);
  }

  async rmdir(path: string): Promise<void> {
    await fs.promises.rmdir(path);
  }

  async stat(path: string): Promise<FileStat | undefined> {
    try {
      const st = await fs.promises.stat(path);
      return { size: st.size, isFile: st.isFile(), isDirectory: st.isDirectory(), mode: st.mode & 0o777 };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async syncDir(path: string): Promise<void> {
    const fd = await new Promise<number>((resolve, reject) => {
      fs.open(path, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY, (err, fd) => (err ? reject(err) : resolve(fd)));
    });
    try {
      await fsCall((cb) => fs.fsync(fd, cb));
    } finally {
      await fsCall((cb) => fs.close(fd, cb));
    }
  }

  lock(path: string): Promise<FileLock> {
    return acquireLock(path);
  }
}

/**
 * Creates a FileSystem over node:fs. `options.syncWorker` (default true) routes the commit
 * path through a dedicated I/O worker thread, started when the first writable file is opened
 * and stopped when the last one is closed; an idle worker never keeps the process alive.
 * Throws RangeError on out-of-range `syncWorkerOptions` (at the first writable open); a
 * writable open rejects with ConsensusStoreError WORKER_FAILED when the worker cannot start.
 */
export function createRealFileSystem(options: RealFileSystemOptions = {}): FileSystem {
  return new RealFileSystem(options.syncWorker ?? true, options.syncWorkerOptions ?? {});
}

let shared: FileSystem | undefined;

/** The process-wide shared real FileSystem (with the sync worker), created on first use. */
export function defaultFileSystem(): FileSystem {
  shared ??= createRealFileSystem();
  return shared;
}
