/**
 * The read-only view of a data directory that `inspect`, `verify`, `export` and `sign-state
 * show` share: the log opened by `openReadOnlyLog` (no lock, nothing written, a live node's
 * directory readable), the stores built on it without a node key (so that the open writes
 * nothing: no identity record, no node key entry, repairs held as barriers in memory), and what
 * lies beside the log (images/, snapshots/, SIGNSTATE, node.key).
 *
 * A compacted directory (docs/operations.md, "Bounded history and the tools"): its cold tier
 * (`cold/MANIFEST` and the files it lists) is read without deleting anything; the stores are
 * built on it, the newest local image that passes its checks (signed by the key in node.key,
 * else by the key the image itself carries) is loaded, and the log is replayed after it, so
 * that every query answers across both tiers. Its chain id comes from the cold manifest when the
 * log no longer holds the identity record. A directory never compacted (no cold manifest, a log
 * starting at LSN 1) is read exactly as before: the whole log replayed, no image.
 *
 * It must never write, delete or lock anything in the directory.
 */
import { join } from 'node:path';
import { ConsensusStoreError } from '../errors.ts';
import { defaultFileSystem } from '../io/real-fs.ts';
import type { FileSystem } from '../io/types.ts';
import { errnoOf } from '../io/types.ts';
import { openReadOnlyLog, type ReadOnlyLog } from '../log/read-only.ts';
import { openStoreOnLog, openStoreReadOnly, type ConsensusStore } from '../store.ts';
import { decodeNodeKeyFile } from '../codec/node-key.ts';
import { SnapshotFileKind } from '../codec/snapshot-file.ts';
import { readColdDirReadOnly, type ColdManifest } from '../cold/cold-manifest.ts';
import { FileColdTier } from '../cold/file-tier.ts';
import { readRecordedChainId } from '../stores/store-identity.ts';
import { imageLsnOfName, IMAGES_DIR, listImages } from '../stores/local-image.ts';
import { SNAPSHOTS_DIR } from '../stores/snapshot-store.ts';
import { readSnapshotFile } from '../stores/snapshot-io.ts';

/** The node key file `openStore` keeps in the data directory. */
export const NODE_KEY_FILE = 'node.key';

/** Opens tried when a compaction commits while the view is being opened. */
const OPEN_ATTEMPTS = 5;

/** A data directory opened read-only. */
export interface ReadOnlyDir {
  readonly dir: string;
  readonly fs: FileSystem;
  readonly log: ReadOnlyLog;
  /** The chain id the directory recorded at its first open (or its cold manifest names), if any. */
  readonly recordedChainId: string | undefined;
  /** The cold manifest, when the directory has one (it was compacted). */
  readonly coldManifest: ColdManifest | undefined;
  /** The cold tier over that manifest (read-only), when there is one. */
  readonly coldTier: FileColdTier | undefined;
  /**
   * True when the state is spread over tiers (a cold manifest, or a log whose first LSN is above
   * 1): `storesOf` then loads an image and the cold tier instead of replaying the whole log.
   */
  readonly tiered: boolean;
}

async function generationOf(fs: FileSystem, dir: string): Promise<number> {
  return (await readColdDirReadOnly(fs, dir))?.generation ?? 0;
}

/**
 * Opens the log of `dir` read-only, with its cold tier when it has one. The cold manifest is
 * read before the log and checked again after it: a compaction that commits meanwhile (a live
 * node) makes it start over, so the cut never lies above the LSN the log saw.
 * @throws NOT_FOUND when `dir` holds no log; CORRUPTION (the log, the cold manifest, a listed
 *   cold file missing or of another size); errno errors.
 */
export async function openDir(dir: string, fs: FileSystem = defaultFileSystem()): Promise<ReadOnlyDir> {
  for (let attempt = 1; ; attempt++) {
    const coldManifest = await readColdDirReadOnly(fs, dir);
    const log = await openReadOnlyLog({ dir, fs });
    try {
      if (attempt < OPEN_ATTEMPTS && (await generationOf(fs, dir)) !== (coldManifest?.generation ?? 0)) {
        await log.close();
        continue;
      }
      const recordedChainId = (await readRecordedChainId(log)) ?? coldManifest?.chainId;
      const coldTier = coldManifest === undefined ? undefined : new FileColdTier(fs, dir, coldManifest);
      return { dir, fs, log, recordedChainId, coldManifest, coldTier, tiered: coldManifest !== undefined || log.firstLsn > 1 };
    } catch (err) {
      await log.close();
      throw err;
    }
  }
}

/** Where the key that checks the local images came from (`node.key`, or the newest image's own). */
export type ImageKeySource = 'node.key' | 'image' | 'none';

/** The stores of a read-only view, and which key checked the image it loaded. */
export interface ReadOnlyStores {
  readonly store: ConsensusStore;
  readonly imageKeySource: ImageKeySource;
}

/**
 * Builds every store on the read-only view. A directory never compacted: one replay of the
 * whole log, as before. A tiered one: the cold tier, the newest valid image, the log after it
 * (see the file comment). The chain id is the recorded one, else `chainId`, else a placeholder
 * (nothing is signed or hashed with it here). The store owns the log: closing it closes the log.
 * @throws CORRUPTION when the log was released and no image loads (the state before its first
 *   record lives only in the images and the cold tier).
 */
export async function openStores(opened: ReadOnlyDir, chainId?: string): Promise<ReadOnlyStores> {
  const options = { chainId: opened.recordedChainId ?? chainId ?? 'unknown-chain' };
  if (!opened.tiered) return { store: await openStoreOnLog(opened.log, options), imageKeySource: 'none' };
  const fromFile = await nodePublicKey(opened);
  const imageKey = fromFile ?? (await newestImageKey(opened));
  const tier = opened.coldTier ?? new FileColdTier(opened.fs, opened.dir, { generation: 0, chainId: options.chainId, cut: { height: 0, lsn: 0 }, files: [] });
  const store = await openStoreReadOnly(opened.log, options, { fs: opened.fs, dir: opened.dir, cold: tier, imageKey: imageKey ?? new Uint8Array(32) });
  return { store, imageKeySource: fromFile !== undefined ? 'node.key' : imageKey !== undefined ? 'image' : 'none' };
}

/** `openStores(...).store` (the callers that need no more). */
export async function storesOf(opened: ReadOnlyDir, chainId?: string): Promise<ConsensusStore> {
  return (await openStores(opened, chainId)).store;
}

/** The public key the newest readable local image carries in its trailer, if any. */
async function newestImageKey(opened: ReadOnlyDir): Promise<Uint8Array | undefined> {
  for (const name of await listImages(opened.fs, opened.dir)) {
    try {
      const parts = await readSnapshotFile(opened.fs, join(opened.dir, IMAGES_DIR, name), SnapshotFileKind.Image);
      if (parts.trailer.length === 104) return parts.trailer.slice(8, 40);
    } catch {
      // A damaged image: the next older one (the open reports what it rejects).
    }
  }
  return undefined;
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
