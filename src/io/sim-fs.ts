/**
 * The `FileSystem` and `FileHandle` views of a simulated disk: argument checks, POSIX error
 * codes and handle lifecycle, on top of the volume. Every call goes through the disk's gate
 * first (dead-view check, call counting, armed power cut, injected faults).
 *
 * This file must never change state before the gate has let a call through, never decide
 * anything at random, and never import `node:fs`.
 */
import { ConsensusStoreError } from '../errors.ts';
import { syncFile, type FileInode } from './sim-inode.ts';
import { normalizePath, type SimVolume } from './sim-volume.ts';
import { ErrnoError, fileModeOf, type FileHandle, type FileLock, type FileStat, type FileSystem, type OpenMode, type OpenOptions } from './types.ts';

/** The calls a view or handle makes; the unit of `injectFault`. */
export type SimOp =
  | 'open'
  | 'read'
  | 'write'
  | 'datasync'
  | 'writeAndSync'
  | 'truncate'
  | 'size'
  | 'close'
  | 'readFile'
  | 'rename'
  | 'unlink'
  | 'mkdir'
  | 'readdir'
  | 'rmdir'
  | 'stat'
  | 'syncDir'
  | 'lock';

/** Every SimOp, for enumeration and argument checks. */
export const SIM_OPS: readonly SimOp[] = [
  'open', 'read', 'write', 'datasync', 'writeAndSync', 'truncate', 'size', 'close',
  'readFile', 'rename', 'unlink', 'mkdir', 'readdir', 'rmdir', 'stat', 'syncDir', 'lock',
];

/** What a view needs from its disk. Internal to `src/io/sim-*`. */
export interface SimGate {
  readonly volume: SimVolume;
  /** The in-memory lock table; cleared by a crash. */
  readonly locks: Map<string, object>;
  /**
   * Admits one call from a view of generation `epoch`: rejects EIO if the view is dead, counts
   * the call, and, if the armed power cut falls on it, runs `interrupted` (what of the call may
   * reach the disk as it dies), crashes and rejects EIO.
   */
  enter(op: SimOp, syscall: string, path: string, epoch: number, interrupted?: () => void): void;
  /** The injected fault for this call of `op`, consumed, if any. */
  takeFault(op: SimOp): 'EIO' | 'ENOSPC' | undefined;
}

const OPEN_MODES: readonly OpenMode[] = ['read', 'readwrite', 'create', 'create-exclusive'];

/** A FileSystem on a simulated disk, valid until the disk's next crash. */
export class SimFileSystem implements FileSystem {
  readonly #gate: SimGate;
  readonly #epoch: number;

  /** Made by `SimulatedDisk.fs()`. */
  constructor(gate: SimGate, epoch: number) {
    this.#gate = gate;
    this.#epoch = epoch;
  }

  /**
   * See FileSystem.open. The simulated disk keeps no permission bits: `options.fileMode` is
   * checked (as the real file system does) and otherwise ignored.
   */
  async open(path: string, mode: OpenMode, options?: OpenOptions): Promise<FileHandle> {
    normalizePath(path);
    if (!OPEN_MODES.includes(mode)) throw new TypeError(`unknown open mode ${String(mode)}`);
    fileModeOf(options);
    this.#enter('open', 'open', path);
    this.#fault('open', 'open', path);
    const volume = this.#gate.volume;
    const { dir, name } = volume.parentOf(path, 'open');
    const id = dir.current.get(name);
    let inode = id === undefined ? undefined : volume.inodes.get(id);
    if (inode?.kind === 'dir') throw new ErrnoError('EISDIR', 'open', path);
    if (inode !== undefined && mode === 'create-exclusive') throw new ErrnoError('EEXIST', 'open', path);
    if (inode === undefined) {
      if (mode === 'read' || mode === 'readwrite') throw new ErrnoError('ENOENT', 'open', path);
      inode = volume.createFile(dir, name);
    }
    inode.openHandles++;
    return new SimFileHandle(this.#gate, this.#epoch, inode, path, mode !== 'read');
  }

  /** See FileSystem.readFile. */
  async readFile(path: string): Promise<Uint8Array> {
    normalizePath(path);
    this.#enter('readFile', 'open', path);
    this.#fault('readFile', 'read', path);
    const inode = this.#gate.volume.lookup(path);
    if (inode === undefined) throw new ErrnoError('ENOENT', 'open', path);
    if (inode.kind === 'dir') throw new ErrnoError('EISDIR', 'read', path);
    return inode.current.snapshot();
  }

  /** See FileSystem.rename. */
  async rename(from: string, to: string): Promise<void> {
    normalizePath(from);
    normalizePath(to);
    this.#enter('rename', 'rename', from);
    this.#fault('rename', 'rename', from);
    this.#gate.volume.rename(from, to);
  }

  /** See FileSystem.unlink. */
  async unlink(path: string): Promise<void> {
    normalizePath(path);
    this.#enter('unlink', 'unlink', path);
    this.#fault('unlink', 'unlink', path);
    this.#gate.volume.unlink(path);
  }

  /** See FileSystem.mkdir. */
  async mkdir(path: string): Promise<void> {
    normalizePath(path);
    this.#enter('mkdir', 'mkdir', path);
    this.#fault('mkdir', 'mkdir', path);
    this.#gate.volume.mkdirp(path);
  }

  /** See FileSystem.readdir. */
  async readdir(path: string): Promise<string[]> {
    normalizePath(path);
    this.#enter('readdir', 'scandir', path);
    this.#fault('readdir', 'scandir', path);
    return [...this.#gate.volume.dirAt(path, 'scandir').current.keys()];
  }

  /** See FileSystem.rmdir. */
  async rmdir(path: string): Promise<void> {
    normalizePath(path);
    this.#enter('rmdir', 'rmdir', path);
    this.#fault('rmdir', 'rmdir', path);
    this.#gate.volume.rmdir(path);
  }

  /** See FileSystem.stat. */
  async stat(path: string): Promise<FileStat | undefined> {
    normalizePath(path);
    this.#enter('stat', 'stat', path);
    this.#fault('stat', 'stat', path);
    const inode = this.#gate.volume.lookup(path);
    if (inode === undefined) return undefined;
    const size = inode.kind === 'file' ? inode.current.length : 4096;
    return { size, isFile: inode.kind === 'file', isDirectory: inode.kind === 'dir' };
  }

  /** See FileSystem.syncDir. */
  async syncDir(path: string): Promise<void> {
    normalizePath(path);
    this.#enter('syncDir', 'fsync', path);
    this.#fault('syncDir', 'fsync', path);
    const volume = this.#gate.volume;
    volume.syncDir(volume.dirAt(path, 'fsync'));
  }

  /**
   * See FileSystem.lock. The lock is in memory (kind `memory`): no lock file is created, but the
   * parent directory must exist (ENOENT otherwise), as for a real lock file. A crash releases it.
   */
  async lock(path: string): Promise<FileLock> {
    const key = normalizePath(path);
    this.#enter('lock', 'flock', path);
    this.#fault('lock', 'flock', path);
    const { dir, name } = this.#gate.volume.parentOf(path, 'flock');
    const existing = dir.current.get(name);
    if (existing !== undefined && this.#gate.volume.inodes.get(existing)?.kind === 'dir') {
      throw new ErrnoError('EISDIR', 'flock', path);
    }
    const locks = this.#gate.locks;
    if (locks.has(key)) throw new ConsensusStoreError('LOCKED', `${path} is locked by another holder`, { details: { path } });
    const token = {};
    locks.set(key, token);
    return {
      kind: 'memory',
      release: async (): Promise<void> => {
        if (locks.get(key) === token) locks.delete(key);
      },
    };
  }

  #enter(op: SimOp, syscall: string, path: string): void {
    this.#gate.enter(op, syscall, path, this.#epoch);
  }

  #fault(op: SimOp, syscall: string, path: string): void {
    const code = this.#gate.takeFault(op);
    if (code !== undefined) throw new ErrnoError(code, syscall, path);
  }
}

/** An open file on a simulated disk. Keeps working after its file is unlinked (POSIX). */
class SimFileHandle implements FileHandle {
  readonly path: string;
  readonly #gate: SimGate;
  readonly #epoch: number;
  readonly #inode: FileInode;
  readonly #writable: boolean;
  #closed = false;

  constructor(gate: SimGate, epoch: number, inode: FileInode, path: string, writable: boolean) {
    this.#gate = gate;
    this.#epoch = epoch;
    this.#inode = inode;
    this.path = path;
    this.#writable = writable;
  }

  async read(buffer: Uint8Array, position: number, offset = 0, length = buffer.length - offset): Promise<number> {
    if (!(buffer instanceof Uint8Array)) throw new TypeError('read buffer must be a Uint8Array');
    checkPosition('position', position);
    checkPosition('offset', offset);
    checkPosition('length', length);
    if (offset + length > buffer.length) throw new RangeError(`read offset ${offset} + length ${length} passes the buffer (${buffer.length})`);
    this.#enter('read', 'read');
    this.#fault('read', 'read');
    return this.#inode.current.read(position, buffer, offset, length);
  }

  async write(buffers: readonly Uint8Array[], position: number): Promise<void> {
    const bytes = concat(buffers);
    checkPosition('position', position);
    this.#enter('write', 'write', () => this.#interruptedWrite(bytes, position));
    this.#checkWritable('write');
    this.#fault('write', 'write');
    this.#write(bytes, position, 'write');
  }

  async datasync(): Promise<void> {
    this.#enter('datasync', 'fdatasync');
    this.#fault('datasync', 'fdatasync');
    syncFile(this.#inode);
  }

  async writeAndSync(buffers: readonly Uint8Array[], position: number): Promise<void> {
    const bytes = concat(buffers);
    checkPosition('position', position);
    this.#enter('writeAndSync', 'write', () => this.#interruptedWrite(bytes, position));
    this.#checkWritable('write');
    const code = this.#gate.takeFault('writeAndSync');
    if (code === 'ENOSPC') throw new ErrnoError('ENOSPC', 'write', this.path);
    this.#write(bytes, position, 'write');
    if (code === 'EIO') throw new ErrnoError('EIO', 'fdatasync', this.path);
    syncFile(this.#inode);
  }

  async truncate(length: number): Promise<void> {
    checkPosition('length', length);
    this.#enter('truncate', 'ftruncate');
    this.#checkWritable('ftruncate');
    this.#fault('truncate', 'ftruncate');
    const volume = this.#gate.volume;
    volume.checkSpace(length - this.#inode.current.length, 'ftruncate', this.path);
    volume.truncateFile(this.#inode, length);
  }

  async size(): Promise<number> {
    this.#enter('size', 'fstat');
    this.#fault('size', 'fstat');
    return this.#inode.current.length;
  }

  /** Closes the handle; idempotent. An injected fault rejects but the handle is closed anyway (as Linux close does). */
  async close(): Promise<void> {
    this.#gate.enter('close', 'close', this.path, this.#epoch);
    if (this.#closed) return;
    this.#closed = true;
    this.#gate.volume.closed(this.#inode);
    this.#fault('close', 'close');
  }

  #enter(op: SimOp, syscall: string, interrupted?: () => void): void {
    this.#gate.enter(op, syscall, this.path, this.#epoch, interrupted);
    if (this.#closed) throw new ErrnoError('EBADF', syscall, this.path);
  }

  #fault(op: SimOp, syscall: string): void {
    const code = this.#gate.takeFault(op);
    if (code !== undefined) throw new ErrnoError(code, syscall, this.path);
  }

  #checkWritable(syscall: string): void {
    if (!this.#writable) throw new ErrnoError('EBADF', syscall, this.path);
  }

  #write(bytes: Uint8Array, position: number, syscall: string): void {
    const volume = this.#gate.volume;
    volume.checkSpace(position + bytes.length - this.#inode.current.length, syscall, this.path);
    volume.writeFile(this.#inode, position, bytes);
  }

  /** At a power cut during this write: the data may have reached the page cache (pending), space permitting. */
  #interruptedWrite(bytes: Uint8Array, position: number): void {
    if (this.#closed || !this.#writable) return;
    try {
      this.#write(bytes, position, 'write');
    } catch {
      // No space: nothing of the write reached the disk.
    }
  }
}

function checkPosition(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative safe integer, got ${value}`);
}

function concat(buffers: readonly Uint8Array[]): Uint8Array {
  if (!Array.isArray(buffers)) throw new TypeError('buffers must be an array of Uint8Array');
  let total = 0;
  for (const b of buffers) {
    if (!(b instanceof Uint8Array)) throw new TypeError('buffers must be an array of Uint8Array');
    total += b.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const b of buffers) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}
