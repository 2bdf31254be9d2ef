/**
 * The simulated disk's inodes: file contents (durable and current, with the pending writes and
 * truncates between them) and directories (durable and current entries, with the pending entry
 * changes between them). Plain data plus the few operations that keep each inode consistent.
 *
 * This file must never decide anything at random or know about crashes: `sim-crash.ts` does
 * that. It must never import `node:fs`.
 */

/** A growable byte array; bytes past `length` in the backing buffer are always zero. */
export class ByteStore {
  #buf: Uint8Array;
  #length: number;

  /** A store holding a copy of `initial` (default empty). */
  constructor(initial?: Uint8Array) {
    this.#buf = new Uint8Array(Math.max(64, initial?.length ?? 0));
    this.#length = initial?.length ?? 0;
    if (initial !== undefined) this.#buf.set(initial);
  }

  /** Number of bytes held. */
  get length(): number {
    return this.#length;
  }

  /** The content, as a view valid until the next mutation. */
  view(): Uint8Array {
    return this.#buf.subarray(0, this.#length);
  }

  /** A copy of the content. */
  snapshot(): Uint8Array {
    return this.#buf.slice(0, this.#length);
  }

  /** An independent store with the same content. */
  clone(): ByteStore {
    return new ByteStore(this.view());
  }

  /** Copies up to `length` bytes at `position` into `dst` at `dstOffset`; returns the count (short at the end). */
  read(position: number, dst: Uint8Array, dstOffset: number, length: number): number {
    const n = Math.max(0, Math.min(length, this.#length - position));
    if (n > 0) dst.set(this.#buf.subarray(position, position + n), dstOffset);
    return n;
  }

  /** Writes `src` at `position`, zero-filling any gap after the current end. */
  write(position: number, src: Uint8Array): void {
    const end = position + src.length;
    this.#reserve(end);
    this.#buf.set(src, position);
    if (end > this.#length) this.#length = end;
  }

  /** Cuts or zero-extends to `length`. */
  truncate(length: number): void {
    if (length < this.#length) {
      this.#buf.fill(0, length, this.#length);
    } else {
      this.#reserve(length);
    }
    this.#length = length;
  }

  /** XORs `mask` into the byte at `offset` (which must be below `length`). */
  xorByte(offset: number, mask: number): void {
    this.#buf[offset] = (this.#buf[offset] ?? 0) ^ mask;
  }

  #reserve(capacity: number): void {
    if (capacity <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(capacity, this.#buf.length * 2));
    next.set(this.#buf.subarray(0, this.#length));
    this.#buf = next;
  }
}

/** A write or truncate that reached a file's current content but not yet its durable content. */
export type PendingFileOp =
  | { readonly kind: 'write'; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly kind: 'truncate'; readonly length: number };

/** Applies one pending op to a store. */
export function applyFileOp(store: ByteStore, op: PendingFileOp): void {
  if (op.kind === 'write') store.write(op.offset, op.bytes);
  else store.truncate(op.length);
}

/** A regular file. */
export interface FileInode {
  readonly kind: 'file';
  readonly id: number;
  /** What survives a power cut for sure. */
  durable: ByteStore;
  /** What reads see. Equals `durable` with `pending` applied in order. */
  current: ByteStore;
  /** Ops since the last datasync, oldest first. */
  pending: PendingFileOp[];
  /** Entries naming this inode in the current directory tree. */
  links: number;
  /** Open handles on this inode (from live views). */
  openHandles: number;
}

/** One entry change: `name` now names inode `target`, or nothing when `target` is undefined. */
export interface EntryChange {
  readonly name: string;
  readonly target: number | undefined;
}

/**
 * A group of directory ops in different directories that must commit together (a rename
 * across directories: the unlink in one, the link in the other).
 */
export interface DirOpGroup {
  readonly members: Array<{ readonly dir: DirInode; readonly op: PendingDirOp }>;
}

/** A pending change of a directory's entries: applied all at once or not at all. */
export interface PendingDirOp {
  /** Global order of directory ops; members of a group share one. */
  readonly seq: number;
  readonly changes: readonly EntryChange[];
  readonly group: DirOpGroup | undefined;
}

/** A directory. */
export interface DirInode {
  readonly kind: 'dir';
  readonly id: number;
  /** Entries that survive a power cut for sure (if this directory itself survives). */
  durable: Map<string, number>;
  /** Entries that lookups see. Equals `durable` with `pending` applied in order. */
  current: Map<string, number>;
  /** Entry changes since the last syncDir, oldest first. */
  pending: PendingDirOp[];
}

/** Any inode. */
export type Inode = FileInode | DirInode;

/** A new, empty file inode (nothing durable yet but its emptiness). */
export function newFileInode(id: number): FileInode {
  return { kind: 'file', id, durable: new ByteStore(), current: new ByteStore(), pending: [], links: 0, openHandles: 0 };
}

/** A new, empty directory inode. */
export function newDirInode(id: number): DirInode {
  return { kind: 'dir', id, durable: new Map(), current: new Map(), pending: [] };
}

/** Applies a directory op's changes to an entry map. */
export function applyDirOp(entries: Map<string, number>, op: PendingDirOp): void {
  for (const change of op.changes) {
    if (change.target === undefined) entries.delete(change.name);
    else entries.set(change.name, change.target);
  }
}

/** Makes a file's current content durable (datasync): replays the pending ops on the durable copy. */
export function syncFile(inode: FileInode): void {
  for (const op of inode.pending) applyFileOp(inode.durable, op);
  inode.pending = [];
}
