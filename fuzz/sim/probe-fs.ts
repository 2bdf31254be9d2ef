/**
 * A FileSystem wrapper over the simulated disk that names the call a power cut falls on, so
 * that the summary can say which crash points were explored (a commit write, a segment
 * creation or rename during rotation, a manifest rewrite, a repair step, ...).
 *
 * It must never change what a call does: it only looks at the operation and path first.
 */
import type { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { FileHandle, FileSystem } from '../../src/io/types.ts';

/** Names the calls of one disk; arm a crash through it to learn the kind of the cut call. */
export class CrashProbe {
  readonly #disk: SimulatedDisk;
  #target: number | undefined;
  /** What the store was doing (`run`, `open`, `repair`): prefixed to the kind. */
  phase = 'run';
  /** The kind of the call the armed cut fell on, once it fell. */
  hitKind: string | undefined;

  constructor(disk: SimulatedDisk) {
    this.#disk = disk;
  }

  /** Arms a power cut at the n-th call from now (as `SimulatedDisk.crashAtCall`). */
  arm(n: number): void {
    this.#target = this.#disk.callCount + n;
    this.hitKind = undefined;
    this.#disk.crashAtCall(n);
  }

  /** Disarms any armed cut (after an explicit crash, or when the armed call never came). */
  disarm(): void {
    this.#target = undefined;
    this.#disk.crashAtCall(2 ** 50);
  }

  /** A FileSystem on the disk's current state that reports the crash call. */
  fs(): FileSystem {
    return wrapFs(this.#disk.fs(), (op, path) => this.#note(op, path));
  }

  #note(op: string, path: string): void {
    if (this.#target !== undefined && this.#disk.callCount + 1 === this.#target) {
      this.hitKind = `${this.phase}:${classify(op, path)}`;
      this.#target = undefined;
    }
  }
}

/** The kind of a call, from its operation and path. */
export function classify(op: string, path: string): string {
  // The cold tier (docs/format.md, "Cold files"): its manifest switch is a compaction's commit point.
  if (path.includes('/cold/') || path.endsWith('/cold')) {
    if (op === 'rename') return path.includes('MANIFEST') ? 'cold-manifest-rename' : 'cold-file-rename';
    return path.includes('/cold/MANIFEST') ? `cold-manifest-${op}` : path.endsWith('/cold') ? `cold-dir-${op}` : `cold-file-${op}`;
  }
  if (path.includes('/images/')) return `image-${op}`;
  if (path.includes('/snapshots/')) return `snapshot-${op}`;
  if (path.includes('/restore/')) return `restore-chunk-${op}`;
  if (path.includes('/RESTORING')) return `restore-marker-${op}`;
  if (path.includes('node.key')) return `node-key-${op}`;
  if (op === 'rename') {
    if (path.includes('MANIFEST')) return 'manifest-rename';
    return path.includes('.wal.tmp>') ? 'segment-rename' : 'rename';
  }
  if (path.endsWith('MANIFEST.tmp') || path.endsWith('/MANIFEST')) return `manifest-${op}`;
  if (path.includes('.broken')) return `repair-copy-${op}`;
  if (path.endsWith('.tmp')) return op === 'rename' ? 'segment-rename' : `segment-create-${op}`;
  if (path.endsWith('.wal')) {
    // A compaction's release (the log's manifest first, then the segments).
    if (op === 'unlink') return 'segment-release-unlink';
    if (op === 'writeAndSync' || op === 'write') return 'commit-write';
    if (op === 'datasync') return 'commit-sync';
    return `segment-${op}`;
  }
  if (op === 'syncDir') return 'dir-fsync';
  return op;
}

type Note = (op: string, path: string) => void;

function wrapHandle(h: FileHandle, note: Note): FileHandle {
  return {
    path: h.path,
    read: (...a) => (note('read', h.path), h.read(...a)),
    write: (b, p) => (note('write', h.path), h.write(b, p)),
    datasync: () => (note('datasync', h.path), h.datasync()),
    writeAndSync: (b, p) => (note('writeAndSync', h.path), h.writeAndSync(b, p)),
    truncate: (n) => (note('truncate', h.path), h.truncate(n)),
    size: () => (note('size', h.path), h.size()),
    close: () => (note('close', h.path), h.close()),
  };
}

function wrapFs(fs: FileSystem, note: Note): FileSystem {
  return {
    open: async (p, m) => {
      note('open', p);
      return wrapHandle(await fs.open(p, m), note);
    },
    readFile: (p) => (note('readFile', p), fs.readFile(p)),
    rename: (a, b) => (note('rename', `${a}>${b}`), fs.rename(a, b)),
    unlink: (p) => (note('unlink', p), fs.unlink(p)),
    mkdir: (p) => (note('mkdir', p), fs.mkdir(p)),
    readdir: (p) => (note('readdir', p), fs.readdir(p)),
    rmdir: (p) => (note('rmdir', p), fs.rmdir(p)),
    stat: (p) => (note('stat', p), fs.stat(p)),
    syncDir: (p) => (note('syncDir', p), fs.syncDir(p)),
    lock: (p) => (note('lock', p), fs.lock(p)),
  };
}
