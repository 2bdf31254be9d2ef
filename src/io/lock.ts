/**
 * The single-writer lock of a data directory (D7, docs/durability.md), used by the real FileSystem's `lock`.
 *
 * Two ways to hold it, both recorded in the lock file as JSON `{pid, startTime, hostname, kind,
 * nonce}` for diagnostics and stale-owner detection:
 * - `flock`: where the optional native fs-ext loads, an exclusive non-blocking flock on the file.
 *   The kernel drops it when the holder dies, so it can never go stale. The file is never
 *   unlinked (unlinking a flocked file lets two holders lock two inodes).
 * - `pidfile`: otherwise (or with CONSENSUS_STORE_NO_FSEXT=1). The file is created complete and
 *   atomically (written to a temp file, then hard-linked into place, which fails if it exists).
 *   A file whose owner is dead (`kill(pid, 0)` gives ESRCH) or whose pid was reused (the start
 *   time in /proc/<pid>/stat differs) is stale and is broken under a short-lived breaker lock, so
 *   that two breakers cannot both win. Residual risk: a breaker killed inside that few-syscall
 *   window leaves a breaker file that the next breaker removes by the same liveness rule.
 * Both modes also keep an in-process registry, so a second opener in this process gets LOCKED
 * even where the OS lock would not see it, and each mode respects the other's live holder.
 *
 * Must never: report a lock as taken when another live holder has it, unlink a lock file it did
 * not verify as stale (or as its own), or block the event loop waiting for a lock (it fails fast
 * with LOCKED).
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { hostname as osHostname } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConsensusStoreError } from '../errors.ts';
import type { FileLock } from './types.ts';

/** How a lock is held by the real file system. */
export type LockKind = 'flock' | 'pidfile';

/** Options of `acquireLock`. */
export interface AcquireLockOptions {
  /** Force a mode; default `flock` when fs-ext loads and CONSENSUS_STORE_NO_FSEXT is not `1`, else `pidfile`. */
  readonly kind?: LockKind;
}

/** What a lock file says about its holder. */
export interface LockOwner {
  readonly pid: number;
  /** /proc/<pid>/stat field 22 (start time in clock ticks since boot), where readable. */
  readonly startTime: string | undefined;
  readonly hostname: string;
  readonly kind: LockKind;
  /** Random per acquisition, so that a holder recognises its own file. */
  readonly nonce: string;
}

type FlockFn = (fd: number, flags: 'exnb' | 'un', cb: (err: NodeJS.ErrnoException | null) => void) => void;

/** Attempts to break a stale lock, or to recover from a vanished file, before giving up. */
const MAX_ATTEMPTS = 8;
/**
 * An empty or unreadable lock file younger than this may be a flock-mode opener's file between
 * its creation and its first write: respected. Older, it is abandoned (a released flock lock).
 */
const UNREADABLE_GRACE_MS = 2000;
/** Largest lock file read (it holds a short JSON object). */
const MAX_LOCK_FILE_BYTES = 4096;

const held = new Set<string>();
let flockFn: FlockFn | null | undefined;

/** fs-ext's flock, or null when the optional native module is absent or disabled. */
function loadFlock(): FlockFn | null {
  if (process.env['CONSENSUS_STORE_NO_FSEXT'] === '1') return null;
  if (flockFn === undefined) {
    try {
      const mod = createRequire(import.meta.url)('fs-ext') as { flock?: unknown };
      flockFn = typeof mod.flock === 'function' ? (mod.flock as FlockFn) : null;
    } catch {
      flockFn = null;
    }
  }
  return flockFn;
}

/** The lock kind `acquireLock` uses by default in this process. */
export function defaultLockKind(): LockKind {
  return loadFlock() === null ? 'pidfile' : 'flock';
}

/** Start time of `pid` (field 22 of /proc/<pid>/stat), or undefined where unreadable. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state), so field 22 is fields[19].
    return fields[19];
  } catch {
    return undefined;
  }
}

let selfStartTime: string | undefined | null = null;

function ownerRecord(kind: LockKind): LockOwner {
  if (selfStartTime === null) selfStartTime = processStartTime(process.pid);
  return {
    pid: process.pid,
    startTime: selfStartTime,
    hostname: osHostname(),
    kind,
    nonce: randomBytes(8).toString('hex'),
  };
}

/** Parses a lock file's content; undefined when it is empty or not ours to read. */
export function parseLockOwner(text: string): LockOwner | undefined {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (typeof v['pid'] !== 'number' || !Number.isSafeInteger(v['pid']) || v['pid'] <= 0) return undefined;
    return {
      pid: v['pid'],
      startTime: typeof v['startTime'] === 'string' ? v['startTime'] : undefined,
      hostname: typeof v['hostname'] === 'string' ? v['hostname'] : '',
      kind: v['kind'] === 'flock' ? 'flock' : 'pidfile',
      nonce: typeof v['nonce'] === 'string' ? v['nonce'] : '',
    };
  } catch {
    return undefined;
  }
}

/**
 * True when the process named by `owner` may still hold the lock: it runs on another host
 * (cannot be checked), or `kill(pid, 0)` finds it and its start time matches. Our own pid counts
 * as dead: this process's registry is the authority on what it holds.
 */
export function ownerAlive(owner: LockOwner): boolean {
  if (owner.hostname !== '' && owner.hostname !== osHostname()) return true;
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (owner.startTime === undefined) return true;
  const now = processStartTime(owner.pid);
  return now === undefined || now === owner.startTime;
}

function lockedError(path: string, owner: LockOwner | undefined, why: string): ConsensusStoreError {
  const holder = owner === undefined ? 'another holder' : `pid ${owner.pid} on ${owner.hostname || 'unknown host'}`;
  return new ConsensusStoreError('LOCKED', `${path} is locked by ${holder} (${why})`, {
    details: { path, ...(owner === undefined ? {} : { pid: owner.pid, hostname: owner.hostname, kind: owner.kind }) },
  });
}

/** What a lock file holds: its parsed owner (if any), raw text, inode and modification time. */
interface LockFileState {
  readonly owner: LockOwner | undefined;
  readonly raw: string;
  readonly ino: number;
  readonly mtimeMs: number;
}

async function readOwner(path: string): Promise<LockFileState | undefined> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(path, fs.constants.O_RDONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const buf = Buffer.alloc(MAX_LOCK_FILE_BYTES);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    const { ino, mtimeMs } = await handle.stat();
    const raw = buf.toString('utf8', 0, bytesRead);
    return { owner: parseLockOwner(raw), raw, ino, mtimeMs };
  } finally {
    await handle.close();
  }
}

/**
 * Takes the exclusive lock file `path` (created if absent). Rejects with ConsensusStoreError
 * `LOCKED` (details: path, and the holder's pid and hostname where known) when another holder in
 * this process or another has it; other failures reject with their errno error.
 */
export async function acquireLock(path: string, options: AcquireLockOptions = {}): Promise<FileLock> {
  const key = resolvePath(path);
  if (held.has(key)) throw lockedError(path, ownerRecord(options.kind ?? defaultLockKind()), 'held in this process');
  held.add(key);
  try {
    const kind = options.kind ?? defaultLockKind();
    if (kind === 'flock') {
      const flock = loadFlock();
      if (flock === null) throw new ConsensusStoreError('INVALID_ARGUMENT', 'flock locking needs fs-ext, which did not load');
      return await acquireFlock(key, flock, () => held.delete(key));
    }
    return await acquirePidfile(key, () => held.delete(key));
  } catch (err) {
    held.delete(key);
    throw err;
  }
}

function flockCall(flock: FlockFn, fd: number, flags: 'exnb' | 'un'): Promise<void> {
  return new Promise((resolve, reject) => {
    flock(fd, flags, (err) => (err ? reject(err) : resolve()));
  });
}

/** True when `path` still names the file open in `handle`. */
async function sameFile(handle: fs.promises.FileHandle, path: string): Promise<boolean> {
  const [mine, current] = await Promise.all([handle.stat(), fs.promises.stat(path).catch(() => undefined)]);
  return current !== undefined && current.ino === mine.ino && current.dev === mine.dev;
}

async function acquireFlock(path: string, flock: FlockFn, forget: () => void): Promise<FileLock> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const handle = await fs.promises.open(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    let keep = false;
    try {
      try {
        await flockCall(flock, handle.fd, 'exnb');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
          throw lockedError(path, (await readOwner(path))?.owner, 'flock held');
        }
        throw err;
      }
      // A pidfile-mode breaker may have unlinked the file between our open and our flock.
      if (!(await sameFile(handle, path))) continue;
      const existing = await readOwner(path);
      if (existing?.owner?.kind === 'pidfile' && ownerAlive(existing.owner)) {
        throw lockedError(path, existing.owner, 'lock file of a live holder without flock');
      }
      // Written first, then cut to length: the file is never empty while we hold it, so that a
      // pidfile-mode opener never takes a live flock holder's file for an abandoned one.
      const record = Buffer.from(JSON.stringify(ownerRecord('flock')));
      await handle.write(record, 0, record.length, 0);
      await handle.truncate(record.length);
      if (!(await sameFile(handle, path))) continue;
      keep = true;
      return makeLock('flock', async () => {
        try {
          await handle.truncate(0);
        } finally {
          await handle.close();
        }
      }, forget);
    } finally {
      if (!keep) await handle.close();
    }
  }
  throw lockedError(path, undefined, 'the lock file kept changing');
}

async function linkExclusive(path: string, owner: LockOwner): Promise<boolean> {
  const temp = `${path}.${owner.pid}.${owner.nonce}.tmp`;
  await fs.promises.writeFile(temp, JSON.stringify(owner), { mode: 0o644, flag: 'wx' });
  try {
    await fs.promises.link(temp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await fs.promises.unlink(temp).catch(() => undefined);
  }
}

async function acquirePidfile(path: string, forget: () => void): Promise<FileLock> {
  const owner = ownerRecord('pidfile');
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (await linkExclusive(path, owner)) {
      const check = await readOwner(path);
      if (check?.owner?.nonce !== owner.nonce) continue;
      return makeLock('pidfile', () => releasePidfile(path, owner), forget);
    }
    const existing = await readOwner(path);
    if (existing === undefined) continue;
    if (existing.owner !== undefined && ownerAlive(existing.owner)) {
      throw lockedError(path, existing.owner, 'lock file of a live holder');
    }
    if (existing.owner === undefined && Date.now() - existing.mtimeMs < UNREADABLE_GRACE_MS) {
      throw lockedError(path, undefined, 'lock file without an owner record, just written');
    }
    await breakStale(path, existing.raw, existing.ino);
  }
  throw lockedError(path, undefined, 'could not replace a stale lock file');
}

/**
 * Removes the stale lock file `path`, but only if it still is the file we judged stale (same
 * inode, same content), and only while holding `<path>.break`, so that two breakers never
 * remove each other's fresh lock.
 */
async function breakStale(path: string, raw: string, ino: number): Promise<void> {
  const breaker = `${path}.break`;
  const me = ownerRecord('pidfile');
  if (!(await linkExclusive(breaker, me))) {
    const other = await readOwner(breaker);
    if (other?.owner !== undefined && ownerAlive(other.owner)) return;
    if (other !== undefined) await unlinkIfSame(breaker, other.raw, other.ino);
    return;
  }
  try {
    await unlinkIfSame(path, raw, ino);
  } finally {
    await unlinkIfSame(breaker, JSON.stringify(me), undefined);
  }
}

async function unlinkIfSame(path: string, raw: string, ino: number | undefined): Promise<void> {
  const now = await readOwner(path);
  if (now === undefined || now.raw !== raw || (ino !== undefined && now.ino !== ino)) return;
  await fs.promises.unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

async function releasePidfile(path: string, owner: LockOwner): Promise<void> {
  const now = await readOwner(path);
  if (now?.owner?.nonce === owner.nonce) {
    await fs.promises.unlink(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

function makeLock(kind: LockKind, drop: () => Promise<void>, forget: () => void): FileLock {
  let releasing: Promise<void> | undefined;
  return {
    kind,
    release(): Promise<void> {
      releasing ??= (async () => {
        try {
          await drop();
        } finally {
          forget();
        }
      })();
      return releasing;
    },
  };
}
