/**
 * Shared fixtures of the log tests: deterministic payloads, a counting FileSystem wrapper, copies
 * of a simulated disk, and a reader that collects a whole log. Test support only: never imported
 * by library code.
 */
import { delegatingFs } from '../support/delegating-fs.ts';
import { dirname } from 'node:path';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { FileHandle, FileSystem } from '../../src/io/types.ts';
import type { Log, LogOptions, Lsn, RecordInput } from '../../src/log/types.ts';
import { openLog, type WriteAheadLog } from '../../src/log/wal.ts';

/** The data directory every simulated-disk test uses. */
export const DIR = '/data';
/** Small segments so that a handful of records rotate. */
export const SMALL_SEGMENT = 4096;

/** A deterministic payload for record number `n` (length 0..`max`). */
export function payloadFor(n: number, max = 120): Uint8Array {
  const len = (n * 37) % (max + 1);
  return Uint8Array.from({ length: len }, (_, i) => (n * 31 + i * 7) & 0xff);
}

/** A record for number `n`. */
export function recordFor(n: number, max?: number): RecordInput {
  return { kind: 1 + (n % 150), payload: payloadFor(n, max) };
}

/** Every durable record of `log`, payloads copied. */
export async function collect(log: Log): Promise<{ lsn: number; kind: number; payload: Uint8Array }[]> {
  const out: { lsn: number; kind: number; payload: Uint8Array }[] = [];
  await log.scan((r) => {
    out.push({ lsn: r.lsn, kind: r.kind, payload: r.payload.slice() });
  });
  return out;
}

/** Opens a log on `disk` in DIR with small segments (overridable). */
export function openSim(disk: SimulatedDisk, options: Partial<LogOptions> = {}): Promise<WriteAheadLog> {
  return openLog({ dir: DIR, fs: disk.fs(), segmentSize: SMALL_SEGMENT, ...options });
}

/** Calls counted by `countingFs`. */
export interface IoCounts {
  writeAndSync: number;
  datasync: number;
  write: number;
}

/** Wraps `fs` so that writes and syncs of segment files (`*.wal`) are counted. */
export function countingFs(fs: FileSystem): { fs: FileSystem; counts: IoCounts } {
  const counts: IoCounts = { writeAndSync: 0, datasync: 0, write: 0 };
  // Only segment files count (not temp files of the pipeline, nor the manifest).
  const wrapHandle = (h: FileHandle): FileHandle => ({
    path: h.path,
    read: (...a) => h.read(...a),
    write: (b, p) => {
      if (h.path.endsWith('.wal')) counts.write++;
      return h.write(b, p);
    },
    datasync: () => {
      if (h.path.endsWith('.wal')) counts.datasync++;
      return h.datasync();
    },
    writeAndSync: (b, p) => {
      if (h.path.endsWith('.wal')) counts.writeAndSync++;
      return h.writeAndSync(b, p);
    },
    truncate: (n) => h.truncate(n),
    size: () => h.size(),
    close: () => h.close(),
  });
  const wrapped: FileSystem = delegatingFs(fs, { open: async (p, m) => wrapHandle(await fs.open(p, m)) });
  return { fs: wrapped, counts };
}

/** A new simulated disk holding durable copies of `files` (path -> content). */
export async function diskWith(files: ReadonlyMap<string, Uint8Array>, seed = 1): Promise<SimulatedDisk> {
  const disk = new SimulatedDisk({ seed });
  const fs = disk.fs();
  const dirs = new Set<string>();
  for (const [path, bytes] of files) {
    await fs.mkdir(dirname(path));
    dirs.add(dirname(path));
    const h = await fs.open(path, 'create');
    await h.write([bytes], 0);
    await h.datasync();
    await h.close();
  }
  for (const d of dirs) await fs.syncDir(d);
  await fs.syncDir('/');
  return disk;
}

/** The current content of every file on `disk` (except lock files). */
export function filesOf(disk: SimulatedDisk): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  for (const path of disk.listFiles()) {
    if (path.endsWith('/LOCK')) continue;
    files.set(path, disk.readFileNow(path)!);
  }
  return files;
}

/** Appends records `from..to-1` (by number) one call each, all concurrently; resolves with the LSNs. */
export async function appendRange(log: Log, from: number, to: number): Promise<Lsn[][]> {
  const calls: Promise<Lsn[]>[] = [];
  for (let n = from; n < to; n++) calls.push(log.append([recordFor(n)]));
  return Promise.all(calls);
}

/** Path of segment `id` in DIR. */
export function segPath(id: number): string {
  return `${DIR}/wal/${String(id).padStart(16, '0')}.wal`;
}
