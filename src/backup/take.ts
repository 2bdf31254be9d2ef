/**
 * `store.backup(dest)`: an online backup of a running store, consistent at one LSN
 * (docs/operations.md, "Backup and restore"; the layout in docs/format.md, "Backup").
 *
 * The order is the consistency argument:
 * 0. The log's segments are held (`Log.holdSegments`): no release (docs/durability.md,
 *    "Releasing segments") unlinks one until step 3 is done; a release already running is
 *    waited for, later ones wait for the backup.
 * 1. The LSN is fixed inside `Log.capture`, between two acknowledged batches: L is the last
 *    record handed back, and `Log.locate` names where it lies, before another batch lands.
 *    This is the only step the node waits for (one macrotask); everything after runs beside
 *    the commit path, outside any lock of the log.
 * 2. The sealed segments before L's segment are immutable: hard-linked (copied across file
 *    systems). L's segment is copied up to the end of L's batch and no further; the bytes
 *    after it (later batches) are never read. The copy is walked with every CRC checked and
 *    must end exactly at L.
 * 3. A manifest written for the backup lists exactly those segments, with the clean end at L.
 * 3b. The cold tier (docs/format.md, "Cold files"): compactions are held from before step 0
 *    until the image is copied (`holdCompactions`), so the cold manifest read now has the cut
 *    every image on disk was taken at or above, and a cut LSN at or below L. Its bytes are
 *    copied to `cold/MANIFEST` and every file it lists hard-linked (cold files are immutable).
 * 4. The newest local image at or below L is linked (copied), SIGNSTATE copied (it may be
 *    newer than L: a copy above the log only ever refuses more), the node key written (mode
 *    0600) only when asked.
 * 5. The trailer, last, atomically: every file's size and SHA-256, L, the chain id, the time,
 *    signed by the node key. Until it exists the backup is incomplete.
 *
 * It must never write into the data directory, never copy a byte of L's segment past L's
 * batch, and never write the trailer before every other file and directory is durable.
 */
import { resolve, sep } from 'node:path';
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import { errnoOf, type FileSystem } from '../io/types.ts';
import { tryHardLink } from '../io/hard-link.ts';
import { COMMIT_RECORD_BYTES, RECORD_HEADER_BYTES, recordSpan } from '../codec/framing.ts';
import { readU32 } from '../codec/bytes.ts';
import { encodeNodeKeyFile, type NodeKey } from '../codec/node-key.ts';
import { checkKeys, checkObject } from '../model/check.ts';
import { SegmentEntry } from '../log/lsn-index.ts';
import { MANIFEST_NAME, readManifest, writeManifest, type SealedSegment } from '../log/manifest.ts';
import { WAL_DIR_NAME } from '../log/open.ts';
import { segmentFileName } from '../log/segment-file.ts';
import { walkSegment } from '../log/segment-walk.ts';
import type { Log, Lsn, RecordLocation } from '../log/types.ts';
import { IMAGES_DIR, imageLsnOfName, listImages } from '../stores/local-image.ts';
import { SIGN_STATE_FILE } from '../stores/sign-state-file.ts';
import { ensureDurableDir, writeFileAtomically } from '../stores/snapshot-io.ts';
import { NODE_KEY_FILE } from '../store-options.ts';
import { COLD_DIR_NAME, COLD_MANIFEST_NAME, coldDirOf, decodeColdManifest } from '../cold/cold-manifest.ts';
import { copyHashed, hashFile, writeNewFile, type Hashed } from './files.ts';
import { encodeTrailer, TRAILER_FILE, type BackupFile } from './trailer.ts';

/** Options of `store.backup`. */
export interface BackupOptions {
  /**
   * Put the node's audit key in the backup (`node.key`, mode 0600). Default false: whoever
   * holds the backup then holds the key that signs this node's audit log (docs/operations.md).
   */
  readonly includeKey?: boolean;
}

/** How one file got into the backup. */
export type BackupFileMethod = 'link' | 'copy' | 'written';

/** What `store.backup` wrote. */
export interface BackupReport {
  readonly dest: string;
  /** The LSN the backup stops at: every record up to it, none after. */
  readonly lsn: number;
  readonly chainId: string;
  readonly createdAt: number;
  readonly files: readonly { readonly name: string; readonly size: number; readonly method: BackupFileMethod }[];
  /** Bytes of the listed files (linked ones included). */
  readonly bytes: number;
  /** Bytes copied or written (the rest are hard links). */
  readonly bytesCopied: number;
  /** How long the node waited for the LSN to be fixed, ms. */
  readonly fixMs: number;
  readonly durationMs: number;
  readonly includesKey: boolean;
  /** The cold tier the backup carries (its cut and files), or null when the store has none. */
  readonly cold: { readonly cut: { readonly height: number; readonly lsn: number }; readonly files: number } | null;
}

/** What the store hands the backup: its log and directory, never a way to write to them. @internal */
export interface BackupSource {
  readonly fs: FileSystem;
  readonly dir: string;
  readonly log: Log;
  readonly chainId: string;
  readonly nodeKey: NodeKey;
  readonly now: () => number;
  /**
   * Keeps compactions from starting until the returned function is called, after waiting for
   * the one in progress (the store's compactor); absent when the store never compacts.
   */
  readonly holdCompactions?: () => Promise<() => void>;
}

const OPTION_KEYS = ['includeKey'] as const;

/** Checks `dest` and `options` (nothing touched). @throws INVALID_ARGUMENT. */
export function checkBackupArgs(dir: string, dest: unknown, options: unknown): { dest: string; includeKey: boolean } {
  if (typeof dest !== 'string' || dest.length === 0 || dest.length > 4096 || dest.includes('\0')) throw invalidArgument('dest', 'must be a non-empty path (at most 4096 characters)');
  const inside = (a: string, b: string): boolean => a === b || a.startsWith(b.endsWith(sep) ? b : b + sep);
  const d = resolve(dest);
  const data = resolve(dir);
  if (inside(d, data) || inside(data, d)) throw invalidArgument('dest', `must lie outside the data directory ${dir} (and not contain it)`);
  if (options === undefined) return { dest, includeKey: false };
  const o = checkObject('options', options);
  checkKeys('options', o, OPTION_KEYS);
  const includeKey = o['includeKey'];
  if (includeKey !== undefined && typeof includeKey !== 'boolean') throw invalidArgument('options.includeKey', 'must be a boolean');
  return { dest, includeKey: includeKey === true };
}

/**
 * Takes a backup of the store behind `source` into `dest` (absent or an empty directory).
 * @throws ConsensusStoreError INVALID_ARGUMENT (bad arguments; `dest` not empty, nothing
 *   written), CLOSED (the store closed before the LSN was fixed), CORRUPTION (the log's own
 *   bytes fail their check while copied); the file system's errno errors (the backup then has
 *   no trailer: incomplete, remove it).
 */
export async function takeBackup(source: BackupSource, destArg: unknown, optionsArg?: unknown): Promise<BackupReport> {
  const started = performance.now();
  const { fs, dir, log } = source;
  const { dest, includeKey } = checkBackupArgs(dir, destArg, optionsArg);
  const st = await fs.stat(dest);
  if (st !== undefined && (!st.isDirectory || (await fs.readdir(dest)).length > 0)) throw invalidArgument('dest', `${dest} exists and is not an empty directory`);
  if (log.capture === undefined || log.locate === undefined) throw invalidArgument('store', 'has no segmented log to back up');
  const locate = log.locate.bind(log);
  const capture = log.capture.bind(log);

  // 0. No compaction commits until the image is copied (first: the one in progress releases
  // segments, which the hold below would keep it waiting for); no segment leaves the log while it is copied.
  const unholdCompactions = source.holdCompactions === undefined ? () => undefined : await source.holdCompactions();
  try {
    const unhold = log.holdSegments === undefined ? () => undefined : await log.holdSegments();
    try {
      return await copyAndSeal(source, dest, includeKey, started, { capture, locate }, unhold);
    } finally {
      unhold();
    }
  } finally {
    unholdCompactions();
  }
}

/** Steps 1 to 5 (see the file comment); calls `unhold` once the segments and their manifest are copied. */
async function copyAndSeal(
  source: BackupSource,
  dest: string,
  includeKey: boolean,
  started: number,
  { capture, locate }: { capture: NonNullable<Log['capture']>; locate: (lsn: Lsn) => RecordLocation | undefined },
  unhold: () => void,
): Promise<BackupReport> {
  const { fs, dir, log } = source;
  // 1. The LSN, fixed between two acknowledged batches.
  const fixStarted = performance.now();
  const point = await capture((lsn: Lsn) => ({ lsn: lsn as number, at: locate(lsn) }));
  const fixMs = performance.now() - fixStarted;
  const at = point.at;
  if (at === undefined) throw new ConsensusStoreError('NOT_FOUND', `the log holds no record at LSN ${point.lsn} to back up`);

  await ensureDurableDir(fs, parentOf(dest), dest);
  await ensureDurableDir(fs, dest, `${dest}/${WAL_DIR_NAME}`);
  await ensureDurableDir(fs, dest, `${dest}/${IMAGES_DIR}`);
  const files: (BackupFile & { method: BackupFileMethod })[] = [];
  const add = (name: string, hashed: Hashed, method: BackupFileMethod): void => {
    files.push({ name, size: hashed.size, sha256: hashed.sha256, method });
  };
  const pin = async (from: string, name: string): Promise<void> => {
    const to = `${dest}/${name}`;
    if (await tryHardLink(fs, from, to)) add(name, await hashFile(fs, to), 'link');
    else add(name, await copyHashed(fs, from, to), 'copy');
  };

  // 2. and 3. The segments and their manifest.
  const live = await readManifest(fs, dir);
  if (live === undefined) throw new ConsensusStoreError('CORRUPTION', `${dir}/${MANIFEST_NAME} vanished under a running store`);
  const sealed: SealedSegment[] = live.sealed.filter((s) => s.id < at.segmentId);
  if (sealed.length !== at.segmentId - live.firstSegmentId) throw new ConsensusStoreError('CORRUPTION', `${dir}/${MANIFEST_NAME} does not list the segments before ${at.segmentId}`);
  for (const s of sealed) await pin(`${dir}/${WAL_DIR_NAME}/${segmentFileName(s.id)}`, `${WAL_DIR_NAME}/${segmentFileName(s.id)}`);
  const firstLsn = sealed.length === 0 ? live.baseLsn : (sealed[sealed.length - 1] as SealedSegment).lastLsn + 1;
  const tail = await copyTail(fs, at, point.lsn, firstLsn, `${dest}/${WAL_DIR_NAME}/${segmentFileName(at.segmentId)}`);
  add(`${WAL_DIR_NAME}/${segmentFileName(at.segmentId)}`, tail.hashed, 'copy');
  await writeManifest(fs, dest, {
    generation: live.generation,
    firstSegmentId: live.firstSegmentId,
    baseLsn: live.baseLsn,
    sealed,
    pendingRepairs: [],
    cleanEnd: { segmentId: at.segmentId, lastLsn: point.lsn, endOffset: tail.endOffset, digest: tail.digest },
  });
  add(MANIFEST_NAME, await hashFile(fs, `${dest}/${MANIFEST_NAME}`), 'written');
  unhold();

  // 3b. The cold tier at its cut (no compaction commits meanwhile: see the file comment).
  const cold = await copyCold(fs, dir, dest, source.chainId, point.lsn, pin, add);

  // 4. The newest image at or below L (one pruned meanwhile: the next older), SIGNSTATE, the key.
  for (const name of await listImages(fs, dir)) {
    if ((imageLsnOfName(name) as number) > point.lsn) continue;
    try {
      await pin(`${dir}/${IMAGES_DIR}/${name}`, `${IMAGES_DIR}/${name}`);
      break;
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
      await fs.unlink(`${dest}/${IMAGES_DIR}/${name}`).catch(() => undefined);
    }
  }
  const signState = await readIfPresent(fs, `${dir}/${SIGN_STATE_FILE}`);
  if (signState !== undefined) add(SIGN_STATE_FILE, await writeNewFile(fs, `${dest}/${SIGN_STATE_FILE}`, signState), 'written');
  if (includeKey) add(NODE_KEY_FILE, await writeNewFile(fs, `${dest}/${NODE_KEY_FILE}`, encodeNodeKeyFile(source.nodeKey), 0o600), 'written');
  await fs.syncDir(`${dest}/${WAL_DIR_NAME}`);
  await fs.syncDir(`${dest}/${IMAGES_DIR}`);
  await fs.syncDir(dest);

  // 5. The trailer, last.
  files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const createdAt = source.now();
  await writeFileAtomically(fs, dest, TRAILER_FILE, encodeTrailer({ lsn: point.lsn, chainId: source.chainId, createdAt, segmentSize: log.limits?.segmentSize ?? 0, files }, source.nodeKey));
  const bytes = files.reduce((n, f) => n + f.size, 0);
  return {
    dest,
    lsn: point.lsn,
    chainId: source.chainId,
    createdAt,
    files: files.map((f) => ({ name: f.name, size: f.size, method: f.method })),
    bytes,
    bytesCopied: files.reduce((n, f) => n + (f.method === 'link' ? 0 : f.size), 0),
    fixMs,
    durationMs: performance.now() - started,
    includesKey: includeKey,
    cold,
  };
}

/**
 * Copies the cold manifest's bytes and links (copies) every file it lists into `<dest>/cold/`.
 * @returns its cut and file count; null when the store has no cold manifest.
 * @throws CORRUPTION when the manifest fails its checks, names another chain, or has a cut above
 *   `lsn` (a compaction committed during the backup: it must not); the file system's errors.
 */
async function copyCold(
  fs: FileSystem,
  dir: string,
  dest: string,
  chainId: string,
  lsn: number,
  pin: (from: string, name: string) => Promise<void>,
  add: (name: string, hashed: Hashed, method: BackupFileMethod) => void,
): Promise<BackupReport['cold']> {
  const path = `${coldDirOf(dir)}/${COLD_MANIFEST_NAME}`;
  const bytes = await readIfPresent(fs, path);
  if (bytes === undefined) return null;
  const manifest = decodeColdManifest(bytes, path);
  if (manifest.chainId !== chainId) throw new ConsensusStoreError('CORRUPTION', `${path} names chain ${JSON.stringify(manifest.chainId)}, the store is on ${JSON.stringify(chainId)}`, { location: { file: path, offset: 0 } });
  if (manifest.cut.lsn > lsn) throw new ConsensusStoreError('CORRUPTION', `${path} has its cut at LSN ${manifest.cut.lsn}, above the backup's LSN ${lsn}`, { location: { file: path, offset: 0 } });
  await ensureDurableDir(fs, dest, `${dest}/${COLD_DIR_NAME}`);
  for (const f of manifest.files) await pin(`${coldDirOf(dir)}/${f.name}`, `${COLD_DIR_NAME}/${f.name}`);
  add(`${COLD_DIR_NAME}/${COLD_MANIFEST_NAME}`, await writeNewFile(fs, `${dest}/${COLD_DIR_NAME}/${COLD_MANIFEST_NAME}`, bytes), 'written');
  await fs.syncDir(`${dest}/${COLD_DIR_NAME}`);
  return { cut: { height: manifest.cut.height, lsn: manifest.cut.lsn }, files: manifest.files.length };
}

/**
 * Copies L's segment up to the end of L's batch into `to`, then walks the copy with every CRC
 * checked: it must end exactly there, at L.
 */
async function copyTail(fs: FileSystem, at: RecordLocation, lsn: number, firstLsn: number, to: string): Promise<{ hashed: Hashed; endOffset: number; digest: number }> {
  const header = new Uint8Array(RECORD_HEADER_BYTES);
  const source = await fs.open(at.path, 'read');
  try {
    await source.read(header, at.offset);
  } finally {
    await source.close();
  }
  // L is the last record of its batch (a capture sees whole batches): its commit marker follows it.
  const endOffset = at.offset + recordSpan(readU32(header, 0)) + COMMIT_RECORD_BYTES;
  const hashed = await copyHashed(fs, at.path, to, { length: endOffset });
  const handle = await fs.open(to, 'read');
  try {
    const entry = new SegmentEntry(at.segmentId, to, endOffset, firstLsn);
    const walk = await walkSegment({ handle, entry, limit: endOffset, verifyCrc: true, chunkBytes: 4 << 20 });
    if (walk.damage !== undefined || walk.endOffset !== endOffset || walk.nextLsn !== lsn + 1) {
      const problem = walk.damage?.problem ?? `the copy ends at offset ${walk.endOffset}, LSN ${walk.nextLsn - 1}; expected ${endOffset}, LSN ${lsn}`;
      throw new ConsensusStoreError('CORRUPTION', `${at.path} up to LSN ${lsn}: ${problem}`, { location: { file: at.path, offset: walk.damage?.offset ?? walk.endOffset } });
    }
    return { hashed, endOffset, digest: walk.digest };
  } finally {
    await handle.close();
  }
}

async function readIfPresent(fs: FileSystem, path: string): Promise<Uint8Array | undefined> {
  try {
    return await fs.readFile(path);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** The directory holding `path` ('.' for a bare name). */
export function parentOf(path: string): string {
  const cut = path.replace(/\/+$/, '').lastIndexOf('/');
  return cut < 0 ? '.' : cut === 0 ? '/' : path.slice(0, cut);
}
