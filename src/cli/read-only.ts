/**
 * The read-only view of a data directory that `inspect`, `verify`, `export` and `sign-state
 * show` share: the log opened by `openReadOnlyLog` (no lock, nothing written, a live node's
 * directory readable), the stores built on it without a node key (so that the open writes
 * nothing: no identity record, no node key entry, repairs held as barriers in memory), and what
 * lies beside the log (images/, snapshots/, SIGNSTATE, node.key), listed but never loaded.
 */
import { join } from 'node:path';
import { ConsensusStoreError } from '../errors.ts';
import { defaultFileSystem } from '../io/real-fs.ts';
import type { FileSystem } from '../io/types.ts';
import { errnoOf } from '../io/types.ts';
import { openReadOnlyLog, type ReadOnlyLog } from '../log/read-only.ts';
import { openStoreOnLog, type ConsensusStore } from '../store.ts';
import { decodeNodeKeyFile } from '../codec/node-key.ts';
import { readRecordedChainId } from '../stores/store-identity.ts';
import { imageLsnOfName, IMAGES_DIR } from '../stores/local-image.ts';
import { SNAPSHOTS_DIR } from '../stores/snapshot-store.ts';

/** The node key file `openStore` keeps in the data directory. */
export const NODE_KEY_FILE = 'node.key';

/** A data directory opened read-only. */
export interface ReadOnlyDir {
  readonly dir: string;
  readonly fs: FileSystem;
  readonly log: ReadOnlyLog;
  /** The chain id the directory recorded at its first open, if it did. */
  readonly recordedChainId: string | undefined;
}

/**
 * Opens the log of `dir` read-only.
 * @throws NOT_FOUND when `dir` holds no log; CORRUPTION; errno errors.
 */
export async function openDir(dir: string, fs: FileSystem = defaultFileSystem()): Promise<ReadOnlyDir> {
  const log = await openReadOnlyLog({ dir, fs });
  try {
    const recordedChainId = await readRecordedChainId(log);
    return { dir, fs, log, recordedChainId };
  } catch (err) {
    await log.close();
    throw err;
  }
}

/**
 * Builds every store on the read-only log (one replay). The chain id is the recorded one, else
 * `chainId`, else a placeholder (nothing is signed or hashed with it here).
 * The store owns the log: closing it closes the log.
 */
export async function storesOf(opened: ReadOnlyDir, chainId?: string): Promise<ConsensusStore> {
  return openStoreOnLog(opened.log, { chainId: opened.recordedChainId ?? chainId ?? 'unknown-chain' });
}

/** The node's audit public key from `<dir>/node.key`, if the file is there. */
export async function nodePublicKey(opened: ReadOnlyDir): Promise<Uint8Array | undefined> {
  const path = join(opened.dir, NODE_KEY_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await opened.fs.readFile(path);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw err;
  }
  return decodeNodeKeyFile(bytes, path).publicKey;
}

/** What lies in images/ and snapshots/ (names only: nothing is loaded). */
export interface SideFiles {
  readonly images: { readonly count: number; readonly newestLsn: number | null };
  readonly snapshots: { readonly count: number; readonly newestHeight: number | null; readonly newestId: string | null };
}

const SNAPSHOT_NAME = /^(\d{12})-(\d{6})\.cssnap$/;

/** Lists the local images and portable snapshots beside the log. */
export async function sideFiles(opened: ReadOnlyDir): Promise<SideFiles> {
  const list = async (name: string): Promise<string[]> => {
    try {
      return await opened.fs.readdir(join(opened.dir, name));
    } catch (err) {
      if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return [];
      throw err;
    }
  };
  const imageLsns = (await list(IMAGES_DIR)).map((n) => imageLsnOfName(n)).filter((l): l is number => l !== undefined);
  const snaps = (await list(SNAPSHOTS_DIR))
    .map((n) => SNAPSHOT_NAME.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ id: `${m[1]}-${m[2]}`, height: Number(m[1]) }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const newest = snaps[snaps.length - 1];
  return {
    images: { count: imageLsns.length, newestLsn: imageLsns.length === 0 ? null : Math.max(...imageLsns) },
    snapshots: { count: snaps.length, newestHeight: newest?.height ?? null, newestId: newest?.id ?? null },
  };
}

/** NOT_FOUND unless `dir` exists (before anything else reads it). */
export async function requireDir(fs: FileSystem, dir: string): Promise<void> {
  const stat = await fs.stat(dir);
  if (stat === undefined || !stat.isDirectory) throw new ConsensusStoreError('NOT_FOUND', `${dir} is not a consensus-store data directory (no such directory)`);
}
