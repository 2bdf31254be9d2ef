/**
 * The simulated disk's namespace and space accounting: path lookup, create, mkdir, rename,
 * unlink, syncDir, and the recording of file writes as pending ops. Every change lands in the
 * current state at once and is recorded as pending until a sync makes it durable.
 *
 * This file must never make random choices, count calls or inject faults (the disk does that),
 * and must never import `node:fs`. Errors are ErrnoError with POSIX codes, like node:fs.
 */
import { posix } from 'node:path';
import { ErrnoError } from './types.ts';
import {
  applyDirOp,
  newDirInode,
  newFileInode,
  type DirInode,
  type DirOpGroup,
  type EntryChange,
  type FileInode,
  type Inode,
  type PendingDirOp,
} from './sim-inode.ts';

/** Inodes freed by unlink or close before a garbage sweep of the inode table runs. */
const SWEEP_AFTER_ORPHANS = 32;

/** Normalizes a POSIX path (absolute, or relative to `/`) to an absolute path without `.`/`..`. */
export function normalizePath(path: string): string {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`path must be a non-empty string, got ${String(path)}`);
  return posix.resolve('/', path);
}

/** The inode table and directory tree of one simulated disk. */
export class SimVolume {
  /** Every inode that may still matter: reachable now, after a crash, or through an open handle. */
  readonly inodes = new Map<number, Inode>();
  /** The root directory; always exists and is always durable. */
  readonly root: DirInode;
  /** Total bytes of file content allowed, or undefined for unlimited. */
  capacity: number | undefined;
  /** Calls rejected ENOSPC by `checkSpace`. */
  capacityRejections = 0;
  #nextId = 2;
  #nextSeq = 1;
  #orphans = 0;

  constructor(capacity: number | undefined) {
    this.root = newDirInode(1);
    this.inodes.set(1, this.root);
    this.capacity = capacity;
  }

  /** The inode at `path` in the current tree, or undefined when absent (or under a non-directory). */
  lookup(path: string): Inode | undefined {
    let node: Inode = this.root;
    for (const name of components(normalizePath(path))) {
      if (node.kind !== 'dir') return undefined;
      const id = node.current.get(name);
      if (id === undefined) return undefined;
      node = this.#get(id);
    }
    return node;
  }

  /**
   * The directory that holds `path` and the entry name inside it.
   * @throws ErrnoError ENOENT when a parent is missing, ENOTDIR when one is a file, EBUSY for `/`.
   */
  parentOf(path: string, syscall: string): { dir: DirInode; name: string } {
    const full = normalizePath(path);
    if (full === '/') throw new ErrnoError('EBUSY', syscall, path);
    const parent = this.lookup(posix.dirname(full));
    if (parent === undefined) throw new ErrnoError('ENOENT', syscall, path);
    if (parent.kind !== 'dir') throw new ErrnoError('ENOTDIR', syscall, path);
    return { dir: parent, name: posix.basename(full) };
  }

  /** The directory at `path`. @throws ErrnoError ENOENT when absent, ENOTDIR when a file. */
  dirAt(path: string, syscall: string): DirInode {
    const node = this.lookup(path);
    if (node === undefined) throw new ErrnoError('ENOENT', syscall, path);
    if (node.kind !== 'dir') throw new ErrnoError('ENOTDIR', syscall, path);
    return node;
  }

  /** Creates an empty file named `name` in `dir` (the caller checked it is absent). */
  createFile(dir: DirInode, name: string): FileInode {
    const inode = newFileInode(this.#nextId++);
    this.inodes.set(inode.id, inode);
    this.#record(dir, [{ name, target: inode.id }]);
    inode.links = 1;
    return inode;
  }

  /** Creates `path` and its missing parents; succeeds if it is a directory already. */
  mkdirp(path: string): void {
    let node: DirInode = this.root;
    for (const name of components(normalizePath(path))) {
      const id = node.current.get(name);
      if (id === undefined) {
        const dir = newDirInode(this.#nextId++);
        this.inodes.set(dir.id, dir);
        this.#record(node, [{ name, target: dir.id }]);
        node = dir;
        continue;
      }
      const next = this.#get(id);
      if (next.kind !== 'dir') throw new ErrnoError(next === this.lookup(path) ? 'EEXIST' : 'ENOTDIR', 'mkdir', path);
      node = next;
    }
  }

  /** Renames `from` to `to`, replacing a file (or an empty directory, for a directory) at `to`. */
  rename(from: string, to: string): void {
    const src = this.parentOf(from, 'rename');
    const dst = this.parentOf(to, 'rename');
    const id = src.dir.current.get(src.name);
    if (id === undefined) throw new ErrnoError('ENOENT', 'rename', from);
    const moving = this.#get(id);
    const replacedId = dst.dir.current.get(dst.name);
    if (replacedId === id) return;
    const replaced = replacedId === undefined ? undefined : this.#get(replacedId);
    if (moving.kind === 'dir') {
      const fromFull = normalizePath(from);
      if (normalizePath(to).startsWith(`${fromFull}/`)) throw new ErrnoError('EINVAL', 'rename', to);
      if (replaced?.kind === 'file') throw new ErrnoError('ENOTDIR', 'rename', to);
      if (replaced?.kind === 'dir' && replaced.current.size > 0) throw new ErrnoError('ENOTEMPTY', 'rename', to);
    } else if (replaced?.kind === 'dir') {
      throw new ErrnoError('EISDIR', 'rename', to);
    }
    const unlinkSrc: EntryChange = { name: src.name, target: undefined };
    const linkDst: EntryChange = { name: dst.name, target: id };
    if (src.dir === dst.dir) {
      this.#record(src.dir, [unlinkSrc, linkDst]);
    } else {
      const group: DirOpGroup = { members: [] };
      const seq = this.#nextSeq++;
      this.#recordAt(src.dir, [unlinkSrc], seq, group);
      this.#recordAt(dst.dir, [linkDst], seq, group);
    }
    if (replaced?.kind === 'file') this.#unlinked(replaced);
  }

  /** Removes the file at `path`. @throws ErrnoError ENOENT when absent, EISDIR for a directory. */
  unlink(path: string): void {
    const { dir, name } = this.parentOf(path, 'unlink');
    const id = dir.current.get(name);
    if (id === undefined) throw new ErrnoError('ENOENT', 'unlink', path);
    const inode = this.#get(id);
    if (inode.kind === 'dir') throw new ErrnoError('EISDIR', 'unlink', path);
    this.#record(dir, [{ name, target: undefined }]);
    this.#unlinked(inode);
  }

  /** Removes the empty directory at `path`. @throws ErrnoError ENOENT, ENOTDIR for a file, ENOTEMPTY. */
  rmdir(path: string): void {
    const { dir, name } = this.parentOf(path, 'rmdir');
    const id = dir.current.get(name);
    if (id === undefined) throw new ErrnoError('ENOENT', 'rmdir', path);
    const inode = this.#get(id);
    if (inode.kind !== 'dir') throw new ErrnoError('ENOTDIR', 'rmdir', path);
    if (inode.current.size > 0) throw new ErrnoError('ENOTEMPTY', 'rmdir', path);
    this.#record(dir, [{ name, target: undefined }]);
  }

  /**
   * Makes every pending entry change of `dir` durable. A change grouped with changes in other
   * directories (a cross-directory rename) commits them too, with everything pending before
   * them there: a journaled file system commits a rename as one transaction, in order.
   */
  syncDir(dir: DirInode): void {
    const last = dir.pending.at(-1);
    if (last !== undefined) commitDir(dir, last.seq);
  }

  /** Bytes of file content in use: every file that is linked or open. */
  usedBytes(): number {
    let used = 0;
    for (const inode of this.inodes.values()) {
      if (inode.kind === 'file' && (inode.links > 0 || inode.openHandles > 0)) used += inode.current.length;
    }
    return used;
  }

  /** @throws ErrnoError ENOSPC when growing some file by `growth` bytes would pass the capacity. */
  checkSpace(growth: number, syscall: string, path: string): void {
    if (growth > 0 && this.capacity !== undefined && this.usedBytes() + growth > this.capacity) {
      this.capacityRejections++;
      throw new ErrnoError('ENOSPC', syscall, path);
    }
  }

  /** Writes `bytes` (owned by the volume from now on) at `offset`: current content and a pending op. */
  writeFile(inode: FileInode, offset: number, bytes: Uint8Array): void {
    inode.current.write(offset, bytes);
    inode.pending.push({ kind: 'write', offset, bytes });
  }

  /** Sets a file's length: current content and a pending op. */
  truncateFile(inode: FileInode, length: number): void {
    inode.current.truncate(length);
    inode.pending.push({ kind: 'truncate', length });
  }

  /** Notes that a handle on `inode` closed; frees unreachable inodes now and then. */
  closed(inode: FileInode): void {
    inode.openHandles--;
    if (inode.openHandles === 0 && inode.links === 0) this.#orphaned();
  }

  /** Paths of every regular file in the current tree, sorted. */
  listFiles(): string[] {
    const out: string[] = [];
    const walk = (dir: DirInode, prefix: string): void => {
      for (const [name, id] of dir.current) {
        const node = this.#get(id);
        const path = `${prefix}/${name}`;
        if (node.kind === 'file') out.push(path);
        else walk(node, path);
      }
    };
    walk(this.root, '');
    return out.sort();
  }

  /** Drops from the table every inode that nothing names (now, durably, or pending) and no handle holds. */
  sweep(): void {
    const keep = new Set<number>([this.root.id]);
    for (const inode of this.inodes.values()) {
      if (inode.kind === 'file') {
        if (inode.openHandles > 0) keep.add(inode.id);
        continue;
      }
      for (const id of inode.current.values()) keep.add(id);
      for (const id of inode.durable.values()) keep.add(id);
      for (const op of inode.pending) for (const c of op.changes) if (c.target !== undefined) keep.add(c.target);
    }
    for (const id of [...this.inodes.keys()]) if (!keep.has(id)) this.inodes.delete(id);
    this.#orphans = 0;
  }

  #unlinked(inode: FileInode): void {
    inode.links--;
    if (inode.links === 0 && inode.openHandles === 0) this.#orphaned();
  }

  #orphaned(): void {
    if (++this.#orphans >= SWEEP_AFTER_ORPHANS) this.sweep();
  }

  #record(dir: DirInode, changes: EntryChange[]): void {
    this.#recordAt(dir, changes, this.#nextSeq++, undefined);
  }

  #recordAt(dir: DirInode, changes: EntryChange[], seq: number, group: DirOpGroup | undefined): void {
    const op: PendingDirOp = { seq, changes, group };
    group?.members.push({ dir, op });
    dir.pending.push(op);
    applyDirOp(dir.current, op);
  }

  #get(id: number): Inode {
    const inode = this.inodes.get(id);
    if (inode === undefined) throw new Error(`simulated disk invariant broken: inode ${id} is named but missing`);
    return inode;
  }
}

/** Commits `dir`'s pending ops with seq <= maxSeq, and their group partners in other directories. */
function commitDir(dir: DirInode, maxSeq: number): void {
  for (let op = dir.pending[0]; op !== undefined && op.seq <= maxSeq; op = dir.pending[0]) {
    dir.pending.shift();
    applyDirOp(dir.durable, op);
    for (const member of op.group?.members ?? []) if (member.dir !== dir) commitDir(member.dir, op.seq);
  }
}

/** The names along an absolute normalized path (`/a/b` gives `a`, `b`). */
function components(full: string): string[] {
  return full === '/' ? [] : full.slice(1).split('/');
}
