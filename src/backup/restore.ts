/**
 * `restoreFromBackup`: a data directory from a backup (docs/operations.md, "Backup and
 * restore"), that can never lead to a double sign.
 *
 * The order is the safety argument:
 * 1. Every argument is checked and the target must be absent, empty, or an unfinished restore
 *    from a backup (its RESTORING marker): anything else is refused before a byte is written.
 * 2. The backup is verified whole (`verifyBackup`: trailer, every file, signature, the log's
 *    LSN) before anything is written.
 * 3. The RESTORING marker first: from the moment its name exists `openStore` refuses the
 *    directory, so an interrupted restore never opens as complete; a rerun starts over.
 * 4. Every listed file copied, each checked again against its listed size and SHA-256 as it is
 *    copied (a backup changed since step 2 stops the restore); the node key (if the backup has
 *    one) mode 0600.
 * 5. The restore fence, appended to the restored log in one batch: a backup fence (the sign
 *    guard signs nothing, `checkFence`), and with `minSignHeight` H a floor at H that lifts it
 *    (nothing at or below H is ever signed). The backup's own watermark is as old as the
 *    backup; the key may have signed far beyond it since.
 * 6. The marker removed last (after the directory's entry is durable in its parent).
 *
 * It must never write into a directory it was not given empty, never copy a byte it has not
 * checked against the trailer, and never leave a directory that opens without the fence.
 */
import { resolve, sep } from 'node:path';
import { ConsensusStoreError, invalidArgument } from '../errors.ts';
import type { FileSystem } from '../io/types.ts';
import { equalBytes, toHex } from '../codec/bytes.ts';
import { RecordKind } from '../codec/kinds.ts';
import { encodeSignFence } from '../codec/sign-guard-record.ts';
import { checkKeys, checkObject, checkSafeUint } from '../model/check.ts';
import { openLog } from '../log/wal.ts';
import { ensureDurableDir } from '../stores/snapshot-io.ts';
import { BACKUP_MARKER_PREFIX, NODE_KEY_FILE, RESTORING_FILE } from '../store-options.ts';
import { removeTree } from '../restore.ts';
import { copyHashed } from './files.ts';
import { parentOf } from './take.ts';
import { checkVerifyArgs, readTrailer, verifyBackup } from './verify.ts';

/** Options of `restoreFromBackup`. */
export interface RestoreFromBackupOptions {
  /** The backup directory (`store.backup`, `cstore backup`). */
  readonly backup: string;
  /** The data directory to write: absent, empty, or an unfinished restore from a backup (it starts over). */
  readonly dir: string;
  /**
   * The chain's current height, from the operator: the restored node signs nothing at or
   * below it. Without it the restored node signs nothing at all until a watermark of its key
   * is imported (`cstore sign-state import`, `signer.importWatermark`).
   */
  readonly minSignHeight?: number;
  /** The node public key the backup must be signed with (32 bytes or 64 hex characters); default: see `verifyBackup`. */
  readonly publicKey?: Uint8Array | string;
  readonly fs?: FileSystem;
}

/** What `restoreFromBackup` did. */
export interface BackupRestoreReport {
  readonly backup: string;
  readonly dir: string;
  readonly lsn: number;
  readonly chainId: string;
  readonly files: number;
  readonly bytes: number;
  /** Whether the backup held the node key (else put the node's `node.key` into `dir`, mode 0600, before opening it). */
  readonly includesKey: boolean;
  /** The fence written: `pending` (nothing signs until a watermark is imported) or a floor at `height`. */
  readonly fence: { readonly kind: 'pending' } | { readonly kind: 'floor'; readonly height: number };
  /** True when an unfinished restore was found and started over. */
  readonly restarted: boolean;
  readonly durationMs: number;
}

const OPTION_KEYS = ['backup', 'dir', 'minSignHeight', 'publicKey', 'fs'] as const;

/**
 * Restores `options.dir` from `options.backup` (see the file comment).
 * @throws ConsensusStoreError INVALID_ARGUMENT (a bad option; a target that is not empty and
 *   holds no unfinished restore from a backup: nothing written), NOT_FOUND (no backup),
 *   CORRUPTION naming the file (the backup fails its verification, or changed while copied),
 *   UNSUPPORTED_FORMAT; the file system's and the log's errors (rerun: it starts over).
 */
export async function restoreFromBackup(options: RestoreFromBackupOptions): Promise<BackupRestoreReport> {
  const started = performance.now();
  const o = checkObject('options', options);
  checkKeys('options', o, OPTION_KEYS);
  const { backup, publicKey } = checkVerifyArgs(o['backup'], o['publicKey'] === undefined ? undefined : { publicKey: o['publicKey'] });
  const dir = o['dir'];
  if (typeof dir !== 'string' || dir.length === 0 || dir.length > 4096 || dir.includes('\0')) throw invalidArgument('options.dir', 'must be a non-empty path (at most 4096 characters)');
  const inside = (a: string, b: string): boolean => a === b || a.startsWith(b.endsWith(sep) ? b : b + sep);
  if (inside(resolve(dir), resolve(backup)) || inside(resolve(backup), resolve(dir))) throw invalidArgument('options.dir', 'must lie outside the backup (and not contain it)');
  const minSignHeight = o['minSignHeight'] === undefined ? undefined : checkSafeUint('options.minSignHeight', o['minSignHeight']);
  const fs: FileSystem = (o['fs'] as FileSystem | undefined) ?? (await import('../io/real-fs.ts')).defaultFileSystem();

  // 1. The target.
  const marker = `${dir}/${RESTORING_FILE}`;
  const st = await fs.stat(dir);
  if (st !== undefined && !st.isDirectory) throw invalidArgument('options.dir', `${dir} exists and is not a directory`);
  const existing = st === undefined ? [] : await fs.readdir(dir);
  const restarted = existing.includes(RESTORING_FILE);
  if (existing.length > 0 && !restarted) throw invalidArgument('options.dir', `${dir} is not empty (${existing.length} entries): a restore writes only into an empty directory`);
  if (restarted && !new TextDecoder().decode(await fs.readFile(marker)).startsWith(BACKUP_MARKER_PREFIX) && (await fs.stat(marker))?.size !== 0) {
    throw invalidArgument('options.dir', `${dir} holds an unfinished restore from a snapshot: run restoreFromSnapshot again, or remove the directory`);
  }

  // 2. The backup, whole, before any write.
  const verified = await verifyBackup(backup, { fs, ...(publicKey === undefined ? {} : { publicKey }) });
  const trailer = await readTrailer(fs, backup);
  if (toHex(trailer.digest) !== verified.digest) throw new ConsensusStoreError('CORRUPTION', `${backup}'s trailer changed while it was verified; run the restore again`, { location: { file: `${backup}/TRAILER`, offset: 0 } });

  // 3. The marker, then a clean slate (an earlier run's files go).
  await ensureDurableDir(fs, parentOf(dir), dir);
  const handle = await fs.open(marker, 'create');
  try {
    await handle.truncate(0);
    await handle.writeAndSync([new TextEncoder().encode(`${BACKUP_MARKER_PREFIX}${verified.digest} ${verified.lsn}\n`)], 0);
  } finally {
    await handle.close();
  }
  await fs.syncDir(dir);
  for (const name of existing) if (name !== RESTORING_FILE) await removeTree(fs, `${dir}/${name}`);

  // 4. Every file, checked again as it is copied.
  const dirs = new Set<string>();
  for (const f of trailer.files) {
    const parts = f.name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const sub = `${dir}/${parts.slice(0, i).join('/')}`;
      if (!dirs.has(sub)) {
        await ensureDurableDir(fs, parentOf(sub), sub);
        dirs.add(sub);
      }
    }
    const from = `${backup}/${f.name}`;
    const copied = await copyHashed(fs, from, `${dir}/${f.name}`, { length: f.size, ...(f.name === NODE_KEY_FILE ? { fileMode: 0o600 } : {}) });
    if (!equalBytes(copied.sha256, f.sha256) || (await fs.stat(from))?.size !== f.size) {
      throw new ConsensusStoreError('CORRUPTION', `${from} changed after it was verified; nothing of the restore is usable: run it again`, { location: { file: from, offset: 0 } });
    }
  }
  for (const sub of dirs) await fs.syncDir(sub);
  await fs.syncDir(dir);

  // 5. The fence, in one batch.
  const fences = [{ kind: RecordKind.SignGuardFence, payload: encodeSignFence({ kind: 'backup', lsn: trailer.lsn }) }];
  if (minSignHeight !== undefined) fences.push({ kind: RecordKind.SignGuardFence, payload: encodeSignFence({ kind: 'floor', height: minSignHeight }) });
  // With the node's segment size (the spare segment the open creates is one).
  const log = await openLog({ dir, fs, ...(trailer.segmentSize === 0 ? {} : { segmentSize: trailer.segmentSize }) });
  try {
    await log.append(fences);
  } finally {
    await log.close();
  }

  // 6. Done: the directory's entry durable, then the marker goes (the commit point).
  await fs.syncDir(parentOf(dir));
  await fs.unlink(marker);
  await fs.syncDir(dir);
  return {
    backup,
    dir,
    lsn: trailer.lsn,
    chainId: trailer.chainId,
    files: trailer.files.length,
    bytes: verified.bytes,
    includesKey: verified.includesKey,
    fence: minSignHeight === undefined ? { kind: 'pending' } : { kind: 'floor', height: minSignHeight },
    restarted,
    durationMs: performance.now() - started,
  };
}
